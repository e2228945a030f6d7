//! The mixing-scenes explorer's questions: Algorithm 1's automatic mix for one reference
//! image of the training pool (the thesis's Fig. 4.2 row), and a quadrant's neighbours
//! (Fig. 3.7).

use rand::Rng;

use super::explorable::ExplorableModel;
use crate::data::{HostImage, ImageSource, fit_image};
use crate::mixing::algorithm::{Neighbour, choose_mix};
use crate::mixing::neighbours::NeighbourIndex;
use crate::mixing::{Quadrant, QuadrantMask};

/// One automatic mix: I_ref, the candidate per quadrant, the collage I_f_mix and the render.
#[derive(Debug, Clone)]
pub struct AutoMix {
    pub reference: usize,
    pub candidates: [Neighbour; 4],
    pub mask: QuadrantMask,
    pub tau: f32,
    pub images: AutoMixImages,
}

#[derive(Debug, Clone)]
pub struct AutoMixImages {
    pub reference: HostImage,
    pub candidates: [HostImage; 4],
    pub collage: HostImage,
    pub mix: HostImage,
}

/// Runs Algorithm 1 for image `reference` of `pool` and renders the mix with `model`.
pub fn auto_mix(model: &ExplorableModel, index: &NeighbourIndex, pool: &dyn ImageSource, reference: usize, rng: &mut impl Rng) -> Result<AutoMix, String> {
    let lists = index.lists_of(reference).ok_or_else(|| format!("image {reference} is not in the neighbour index"))?;
    let choice = choose_mix(lists, index.tau, rng).ok_or("an empty neighbour list")?;
    let reference_image = pool.get(reference).image;
    let candidates: [HostImage; 4] = std::array::from_fn(|q| pool.get(choice.candidates[q].image).image);
    let mut batch = vec![reference_image.clone()];
    batch.extend(candidates.iter().cloned());
    let codes = model.encode_chunks(&batch).ok_or("Auto-mix needs a mixing-scenes model")?;
    let chunk = codes[0].len() / 4;
    let mut mixed = codes[0].clone();
    for q in Quadrant::ALL.map(Quadrant::index) {
        if choice.mask.0[q] {
            mixed[q * chunk..(q + 1) * chunk].copy_from_slice(&codes[q + 1][q * chunk..(q + 1) * chunk]);
        }
    }
    let mix = model.decode_chunks(&[mixed]).and_then(|v| v.into_iter().next()).ok_or("decoding failed")?;
    let size = model.image_size();
    let sources: [&HostImage; 4] = std::array::from_fn(|q| if choice.mask.0[q] { &candidates[q] } else { &reference_image });
    let collage = quadrant_collage(sources, size);
    Ok(AutoMix {
        reference,
        candidates: choice.candidates,
        mask: choice.mask,
        tau: index.tau,
        images: AutoMixImages { reference: reference_image, candidates, collage, mix },
    })
}

/// An image whose quadrant q is quadrant q of `sources[q]` (each fitted to `size`, RGB).
pub fn quadrant_collage(sources: [&HostImage; 4], size: usize) -> HostImage {
    let fitted: Vec<Vec<f32>> = sources.iter().map(|s| fit_image(s, size, 3)).collect();
    let half = size / 2;
    let mut out = vec![0f32; 3 * size * size];
    for (q, from) in fitted.iter().enumerate() {
        let (row, col) = (q / 2, q % 2);
        for c in 0..3 {
            for y in 0..half {
                let start = (c * size + row * half + y) * size + col * half;
                out[start..start + half].copy_from_slice(&from[start..start + half]);
            }
        }
    }
    HostImage::from_chw_signed(&out, 3, size, size)
}

/// Quadrant `q` of a square RGB image in CHW order, `size` pixels a side.
pub fn crop_chw(chw: &[f32], q: usize, size: usize) -> Vec<f32> {
    let half = size / 2;
    let (row, col) = (q / 2, q % 2);
    let mut out = Vec::with_capacity(3 * half * half);
    for c in 0..3 {
        for y in 0..half {
            let start = (c * size + row * half + y) * size + col * half;
            out.extend_from_slice(&chw[start..start + half]);
        }
    }
    out
}

/// Quadrant `q` of `image` (fitted to `size`), for neighbour thumbnails.
pub fn quadrant_crop(image: &HostImage, q: usize, size: usize) -> HostImage {
    let half = size / 2;
    HostImage::from_chw_signed(&crop_chw(&fit_image(image, size, 3), q, size), 3, half, half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collage_and_crop_follow_the_chunk_order() {
        let plain = |v: u8| HostImage::new(64, 64, 3, vec![v; 64 * 64 * 3]);
        let (a, b, c, d) = (plain(0), plain(80), plain(160), plain(240));
        let collage = quadrant_collage([&a, &b, &c, &d], 64);
        for (q, expected) in [0u8, 80, 160, 240].into_iter().enumerate() {
            let crop = quadrant_crop(&collage, q, 64);
            assert_eq!((crop.width, crop.height), (32, 32));
            assert!(crop.pixels.iter().all(|&p| p.abs_diff(expected) <= 1), "quadrant {q}");
        }
    }
}
