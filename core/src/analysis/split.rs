//! What the explorer does with a latent split into specified factors s (a class) and
//! unspecified ones z (a style): the swap grid (report Fig. 4.1), the 2-D interpolation
//! (Fig. 4.9) and sampling z with s fixed (Fig. 4.10).

use super::explorable::ExplorableModel;
use crate::capabilities::SplitCode;
use crate::data::HostImage;
use crate::train::step_rng;

/// A grid of decoded images, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitGrid {
    pub rows: usize,
    pub columns: usize,
    pub images: Vec<HostImage>,
}

impl SplitGrid {
    pub fn cell(&self, row: usize, column: usize) -> Option<&HostImage> {
        if row < self.rows && column < self.columns { self.images.get(row * self.columns + column) } else { None }
    }
}

fn codes(model: &ExplorableModel, images: &[HostImage]) -> Result<Vec<SplitCode>, String> {
    model.encode_split(images).ok_or_else(|| format!("a {} model has no class/style split", model.kind()))
}

fn decode(model: &ExplorableModel, pairs: &[(Vec<f32>, Vec<f32>)]) -> Result<Vec<HostImage>, String> {
    model.decode_split(pairs).ok_or_else(|| format!("a {} model has no class/style split", model.kind()))
}

/// Cell (r, c) = Dec(z of `style_from[r]`, s of `class_from[c]`), z at its posterior mean.
/// With the same images on both sides, the diagonal is each image's reconstruction.
pub fn swap_grid(model: &ExplorableModel, style_from: &[HostImage], class_from: &[HostImage]) -> Result<SplitGrid, String> {
    let (z, s) = (codes(model, style_from)?, codes(model, class_from)?);
    let pairs: Vec<(Vec<f32>, Vec<f32>)> = z.iter().flat_map(|zr| s.iter().map(|sc| (zr.unspecified.mu.clone(), sc.specified.clone()))).collect();
    Ok(SplitGrid { rows: z.len(), columns: s.len(), images: decode(model, &pairs)? })
}

/// `steps` points from `a` to `b`, ends included.
fn lerp(a: &[f32], b: &[f32], steps: usize) -> Vec<Vec<f32>> {
    (0..steps).map(|i| {
        let t = if steps > 1 { i as f32 / (steps - 1) as f32 } else { 0.0 };
        a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect()
    }).collect()
}

/// The 2-D interpolation between two images: z from `top_left`'s to `bottom_right`'s down
/// the rows, s likewise across the columns. The top-left cell is `top_left`'s
/// reconstruction, the bottom-right `bottom_right`'s.
pub fn interpolation_grid(model: &ExplorableModel, top_left: &HostImage, bottom_right: &HostImage, steps: usize) -> Result<SplitGrid, String> {
    let c = codes(model, &[top_left.clone(), bottom_right.clone()])?;
    let (a, b) = (&c[0], &c[1]);
    let zs = lerp(&a.unspecified.mu, &b.unspecified.mu, steps);
    let ss = lerp(&a.specified, &b.specified, steps);
    let pairs: Vec<(Vec<f32>, Vec<f32>)> = zs.iter().flat_map(|z| ss.iter().map(move |s| (z.clone(), s.clone()))).collect();
    Ok(SplitGrid { rows: steps, columns: steps, images: decode(model, &pairs)? })
}

/// Sampling with the class fixed: column c keeps the s of `class_from[c]`, row r draws a
/// z ~ N(0, I) from `seed` (the report's data augmentation, Fig. 4.10).
pub fn sample_grid(model: &ExplorableModel, class_from: &[HostImage], rows: usize, seed: u64) -> Result<SplitGrid, String> {
    let s = codes(model, class_from)?;
    let (z_dims, _) = model.split().map(|(_, dims)| dims).ok_or("no split")?;
    let mut rng = step_rng(seed, 0);
    let zs: Vec<Vec<f32>> = (0..rows).map(|_| crate::families::trainable::normal_noise(&mut rng, z_dims)).collect();
    let pairs: Vec<(Vec<f32>, Vec<f32>)> = zs.iter().flat_map(|z| s.iter().map(move |sc| (z.clone(), sc.specified.clone()))).collect();
    Ok(SplitGrid { rows, columns: s.len(), images: decode(model, &pairs)? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::explorable::ModelOrigin;
    use crate::families::FamilyKind;

    fn close(a: &HostImage, b: &HostImage) -> bool {
        a.pixels.len() == b.pixels.len() && a.pixels.iter().zip(&b.pixels).all(|(x, y)| x.abs_diff(*y) <= 1)
    }

    #[test]
    fn the_swap_diagonal_is_the_reconstruction_and_interpolation_ends_at_the_corners() {
        for &kind in FamilyKind::ALL.iter().filter(|k| k.info().capabilities.contains(&crate::capabilities::Capability::Split)) {
            let model = ExplorableModel::untrained(&kind.default_config(1), &burn::prelude::Device::flex(), ModelOrigin::LiveRun(None)).unwrap();
            let size = model.image_size();
            let images: Vec<HostImage> = (0..3u8).map(|k| HostImage::new(size, size, 1, (0..size * size).map(|i| (i as u8).wrapping_mul(k + 3)).collect())).collect();
            let grid = swap_grid(&model, &images, &images).unwrap();
            let recon = model.reconstruct(&images);
            assert_eq!((grid.rows, grid.columns), (3, 3));
            for (i, reconstruction) in recon.iter().enumerate() {
                assert!(close(grid.cell(i, i).unwrap(), reconstruction), "{kind}: cell ({i}, {i})");
            }
            let inter = interpolation_grid(&model, &images[0], &images[2], 5).unwrap();
            assert!(close(inter.cell(0, 0).unwrap(), &recon[0]) && close(inter.cell(4, 4).unwrap(), &recon[2]), "{kind}: corners");
            let samples = sample_grid(&model, &images[..2], 4, 7).unwrap();
            assert_eq!((samples.rows, samples.columns, samples.images.len()), (4, 2, 8));
        }
    }
}
