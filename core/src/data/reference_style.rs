//! The reference-style MNIST of Ruiz et al. (reference-based VAE, App. C.1; digest
//! `reference-vae.md` §4.1), generated on the fly from any labelled digit source.
//!
//! Every digit is brought to 64×64 and reduced to its outline by Canny's detector
//! (imageproc's, on the bilinearly upscaled digit, thresholds 50/150 of its 0–1140
//! gradient scale). The paper names no detector; Canny is chosen because it keeps the
//! boundary as a thin connected line, so a digit's stroke width afterwards is set by the
//! dilation alone (a Sobel magnitude leaves 2–3-pixel bands whose width would confound
//! the width factor).
//!
//! - Training split: a fixed half of the digits is the **reference pool**, untouched
//!   (white outlines); the other half is the **unlabelled pool**, every digit transformed
//!   twice: dilation by a k×k square, k ~ U{1..10}; colour ĉ = c/‖c‖₁, c ~ U[0,1]³,
//!   multiplying every pixel; scale s ~ U[0.5, 1], downscaled and zero-padded back to
//!   64×64, centred. The paper's sizes on the full MNIST: 30,000 + 60,000.
//! - Test split: every test digit transformed once (the paper's two 5,000-image probe
//!   sets are its two halves, see `eval factors`).
//!
//! Each image keeps its ground truth as factors (red, green, blue, scale, width) = (ĉ, s,
//! k); reference images carry (1, 1, 1, 1, 1), untouched. Draws are seeded by the image's
//! number, so any image is the same every time and nothing is stored.

use std::sync::Arc;

use image::{GrayImage, imageops::FilterType};
use rand::{Rng, SeedableRng};

use super::pools::{POOL_NAMES, REFERENCE, UNLABELLED};
use super::{HostImage, ImageSource, Sample, SharedSource, SourceInfo, Split, permutation};

/// Side of the generated images (the paper's 64×64).
pub const SIZE: usize = 64;
/// The factor names, in the order of `Sample::factors`.
pub const FACTOR_NAMES: [&str; 5] = ["red", "green", "blue", "scale", "width"];
/// Each factor's range as drawn, for bringing it to [0, 1].
pub const FACTOR_RANGES: [(f32, f32); 5] = [(0.0, 1.0), (0.0, 1.0), (0.0, 1.0), (0.5, 1.0), (1.0, 10.0)];
/// Which digits go to the reference pool.
const POOL_SEED: u64 = 0x7ef_e7e1;
/// Seeds the transformations of each (digit, copy).
const STYLE_SEED: u64 = 0x571e_5eed;
/// Canny's hysteresis thresholds, on imageproc's 0–1140 gradient scale.
const CANNY_LOW: f32 = 50.0;
const CANNY_HIGH: f32 = 150.0;

/// One unlabelled image's style: the ground truth kept with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// Side of the square dilation kernel, 1..=10.
    pub width: u32,
    /// ĉ, summing to 1.
    pub colour: [f32; 3],
    /// Downscaling factor in [0.5, 1].
    pub scale: f32,
}

impl Style {
    /// The reference pool's: outlines untouched.
    pub const REFERENCE: Style = Style { width: 1, colour: [1.0, 1.0, 1.0], scale: 1.0 };

    /// The style of copy `copy` of digit `digit`, drawn as App. C.1 says.
    pub fn draw(digit: usize, copy: usize) -> Self {
        let mut rng = crate::rng::SeededRng::seed_from_u64(STYLE_SEED ^ ((digit as u64) << 8) ^ copy as u64);
        let width = rng.random_range(1..=10u32);
        let c: [f32; 3] = [rng.random::<f32>(), rng.random::<f32>(), rng.random::<f32>()];
        let sum = (c[0] + c[1] + c[2]).max(f32::MIN_POSITIVE);
        let scale = rng.random_range(0.5..=1.0f32);
        Style { width, colour: c.map(|v| v / sum), scale }
    }

    pub fn factors(&self) -> Vec<f32> {
        vec![self.colour[0], self.colour[1], self.colour[2], self.scale, self.width as f32]
    }
}

/// A digit's outline at 64×64: upscaled bilinearly, then Canny's edges.
pub fn outline(digit: &HostImage) -> GrayImage {
    let grey = digit.to_dynamic().to_luma8();
    let big = image::imageops::resize(&grey, SIZE as u32, SIZE as u32, FilterType::Triangle);
    imageproc::edges::canny(&big, CANNY_LOW, CANNY_HIGH)
}

/// Dilation by a k×k square (k = 1 leaves the image as it is; even k is anchored at the
/// upper-left of its centre, as OpenCV's default anchor).
pub fn dilate(image: &GrayImage, k: u32) -> GrayImage {
    if k <= 1 {
        return image.clone();
    }
    let square = GrayImage::from_pixel(k, k, image::Luma([255]));
    let centre = (k / 2) as u8;
    imageproc::morphology::grayscale_dilate(image, &imageproc::morphology::Mask::from_image(&square, centre, centre))
}

/// Downscales by `scale` and pads with zeros back to the same size, centred.
pub fn shrink(image: &GrayImage, scale: f32) -> GrayImage {
    let (w, h) = image.dimensions();
    let (sw, sh) = (((w as f32 * scale).round() as u32).clamp(1, w), ((h as f32 * scale).round() as u32).clamp(1, h));
    let small = image::imageops::resize(image, sw, sh, FilterType::Triangle);
    let mut out = GrayImage::new(w, h);
    image::imageops::replace(&mut out, &small, ((w - sw) / 2) as i64, ((h - sh) / 2) as i64);
    out
}

/// An outline in the given style, as RGB.
pub fn styled(outline: &GrayImage, style: &Style) -> HostImage {
    let shaped = shrink(&dilate(outline, style.width), style.scale);
    let (w, h) = shaped.dimensions();
    let pixels = shaped.pixels().flat_map(|p| style.colour.map(|c| (p[0] as f32 * c).round().clamp(0.0, 255.0) as u8)).collect();
    HostImage::new(w as usize, h as usize, 3, pixels)
}

/// Where an image of the generated set comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Origin {
    /// Digit `digit` of the base source, untouched.
    Reference { digit: usize },
    /// Copy `copy` of digit `digit`, transformed.
    Unlabelled { digit: usize, copy: usize },
}

/// The reference-style digits of one split of a digit source.
pub struct ReferenceStyle {
    base: SharedSource,
    /// Unlabelled images first, then the reference pool (training split only).
    origins: Vec<Origin>,
    unlabelled: usize,
    info: SourceInfo,
}

impl ReferenceStyle {
    /// Built over `base`, the digits of `split`.
    pub fn new(base: SharedSource, split: Split) -> Self {
        let n = base.len();
        let origins: Vec<Origin> = match split {
            Split::Train => {
                let order = permutation(n, POOL_SEED);
                let (reference, unlabelled) = order.split_at(n / 2);
                let transformed = unlabelled.iter().flat_map(|&digit| (0..2).map(move |copy| Origin::Unlabelled { digit, copy }));
                transformed.chain(reference.iter().map(|&digit| Origin::Reference { digit })).collect()
            }
            Split::Test => (0..n).map(|digit| Origin::Unlabelled { digit, copy: 0 }).collect(),
        };
        let unlabelled = origins.iter().filter(|o| matches!(o, Origin::Unlabelled { .. })).count();
        let info = SourceInfo {
            name: format!("reference-style {}", base.info().name),
            channels: 3,
            size: Some((SIZE, SIZE)),
            class_names: POOL_NAMES.map(String::from).to_vec(),
            factor_names: FACTOR_NAMES.map(String::from).to_vec(),
            skipped: base.info().skipped.clone(),
        };
        Self { base, origins, unlabelled, info }
    }

    /// (unlabelled, reference) images.
    pub fn pool_sizes(&self) -> (usize, usize) {
        (self.unlabelled, self.origins.len() - self.unlabelled)
    }

    /// The base digit behind image `index`.
    pub fn digit_of(&self, index: usize) -> Option<usize> {
        self.origins.get(index).map(|o| match *o {
            Origin::Reference { digit } | Origin::Unlabelled { digit, .. } => digit,
        })
    }

    /// The style of image `index`.
    pub fn style_of(&self, index: usize) -> Option<Style> {
        self.origins.get(index).map(|o| match *o {
            Origin::Reference { .. } => Style::REFERENCE,
            Origin::Unlabelled { digit, copy } => Style::draw(digit, copy),
        })
    }

    pub fn open(base: SharedSource, split: Split) -> SharedSource {
        Arc::new(Self::new(base, split))
    }
}

impl ImageSource for ReferenceStyle {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn len(&self) -> usize {
        self.origins.len()
    }
    fn get(&self, index: usize) -> Sample {
        let (Some(digit), Some(style)) = (self.digit_of(index), self.style_of(index)) else {
            return Sample { image: HostImage::new(SIZE, SIZE, 3, vec![0; SIZE * SIZE * 3]), label: None, factors: vec![] };
        };
        let image = styled(&outline(&self.base.get(digit).image), &style);
        Sample { image, label: self.label(index), factors: style.factors() }
    }
    fn label(&self, index: usize) -> Option<u32> {
        Some(if index < self.unlabelled { UNLABELLED } else { REFERENCE })
    }
}

/// The generator's steps for some digits of `base`, as columns of a grid: the digit
/// upscaled to 64×64, its Canny outline (a reference image), then two unlabelled copies
/// (dilated, coloured, shrunk) — the before/after of docs/results.md.
pub fn steps_of(base: &SharedSource, digits: &[usize]) -> Vec<Vec<HostImage>> {
    digits
        .iter()
        .filter(|&&d| d < base.len())
        .map(|&digit| {
            let image = base.get(digit).image;
            let upscaled = image::imageops::resize(&image.to_dynamic().to_luma8(), SIZE as u32, SIZE as u32, FilterType::Triangle);
            let edges = outline(&image);
            let grey = |g: &GrayImage| HostImage::new(SIZE, SIZE, 1, g.as_raw().clone()).to_rgb();
            vec![grey(&upscaled), grey(&edges), styled(&edges, &Style::draw(digit, 0)), styled(&edges, &Style::draw(digit, 1))]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DataSpec;
    use crate::data::embedded::EmbeddedSet;

    fn mnist(split: Split) -> SharedSource {
        DataSpec::Embedded(EmbeddedSet::Mnist).open(split, 28).unwrap()
    }

    #[test]
    fn pools_have_the_papers_proportions_and_never_share_a_digit() {
        let set = ReferenceStyle::new(mnist(Split::Train), Split::Train);
        // Embedded MNIST: 10,000 training digits → 5,000 references + 2 × 5,000 unlabelled.
        assert_eq!(set.pool_sizes(), (10_000, 5_000));
        let (u, r) = set.pool_sizes();
        let reference: std::collections::HashSet<usize> = (u..u + r).filter_map(|i| set.digit_of(i)).collect();
        let unlabelled: Vec<usize> = (0..u).filter_map(|i| set.digit_of(i)).collect();
        assert_eq!(reference.len(), r);
        assert!(unlabelled.iter().all(|d| !reference.contains(d)), "a digit in both pools");
        // Each unlabelled digit appears twice, in two styles.
        assert_eq!(unlabelled.chunks(2).filter(|p| p[0] == p[1]).count(), u / 2);
        assert_ne!(set.style_of(0), set.style_of(1));
        let test = ReferenceStyle::new(mnist(Split::Test), Split::Test);
        assert_eq!(test.pool_sizes(), (2_000, 0));
    }

    #[test]
    fn styles_stay_in_the_papers_ranges_and_are_the_same_every_time() {
        let mut widths = std::collections::HashSet::new();
        for digit in 0..2_000 {
            let s = Style::draw(digit, digit % 2);
            assert_eq!(s, Style::draw(digit, digit % 2));
            assert!((1..=10).contains(&s.width));
            widths.insert(s.width);
            assert!((0.5..=1.0).contains(&s.scale));
            assert!(s.colour.iter().all(|c| (0.0..=1.0).contains(c)));
            assert!((s.colour.iter().sum::<f32>() - 1.0).abs() < 1e-5, "‖ĉ‖₁ = 1");
        }
        assert_eq!(widths.len(), 10, "every width from 1 to 10 drawn");
    }

    #[test]
    fn dilation_colour_and_scale_on_known_inputs() {
        let mut dot = GrayImage::new(9, 9);
        dot.put_pixel(4, 4, image::Luma([255]));
        let count = |img: &GrayImage| img.pixels().filter(|p| p[0] > 0).count();
        for k in 1..=5 {
            assert_eq!(count(&dilate(&dot, k)), (k * k) as usize, "a point dilated by a {k}×{k} square");
        }
        let full = GrayImage::from_pixel(8, 8, image::Luma([255]));
        let half = shrink(&full, 0.5);
        assert_eq!(count(&half), 16, "8×8 at scale ½ is 4×4, padded with zeros");
        assert_eq!(half.get_pixel(0, 0)[0], 0);
        assert_eq!(half.get_pixel(3, 3)[0], 255, "centred");
        let colour = styled(&full, &Style { width: 1, colour: [0.5, 0.25, 0.25], scale: 1.0 });
        assert_eq!(&colour.pixels[..3], &[128, 64, 64]);
    }

    #[test]
    fn outlines_keep_the_boundary_not_the_stroke() {
        let digit = mnist(Split::Train).get(0).image;
        let filled = image::imageops::resize(&digit.to_dynamic().to_luma8(), 64, 64, FilterType::Triangle).pixels().filter(|p| p[0] > 127).count();
        let edges = outline(&digit);
        let on = edges.pixels().filter(|p| p[0] > 0).count();
        assert!(on > 50 && on < filled, "an outline of {on} pixels for a stroke of {filled}");
        let set = ReferenceStyle::new(mnist(Split::Train), Split::Train);
        let sample = set.get(0);
        assert_eq!((sample.image.width, sample.image.height, sample.image.channels), (64, 64, 3));
        assert_eq!(sample.label, Some(UNLABELLED));
        assert_eq!(sample.factors.len(), 5);
        let reference = set.get(set.len() - 1);
        assert_eq!((reference.label, reference.factors), (Some(REFERENCE), vec![1.0; 5]));
    }
}
