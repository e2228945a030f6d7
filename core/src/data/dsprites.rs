//! dSprites-like: the β-VAE paper's procedural dataset, rasterised on the fly.
//!
//! 3 shapes × 6 scales (0.5…1) × 40 orientations (0…2π) × 32 x × 32 y positions (0…1),
//! 64×64 binary images, 737,280 in all, indexed in that mixed-radix order (shape is the
//! slowest factor, y the fastest) like the original file. The exact rasterisation of the
//! original is not known, so this is "dSprites-like": same factors, our own drawing.

use std::f32::consts::PI;

use super::{HostImage, ImageSource, Sample, SourceInfo};

pub const SHAPES: usize = 3;
pub const SCALES: usize = 6;
pub const ORIENTATIONS: usize = 40;
pub const POSITIONS: usize = 32;
pub const SIZE: usize = 64;

/// The factor values of one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Factors {
    /// 0 = square, 1 = ellipse, 2 = heart.
    pub shape: usize,
    pub scale: f32,
    pub orientation: f32,
    pub x: f32,
    pub y: f32,
}

/// The factors' names, in [`factor_indices`]' order.
pub const FACTOR_NAMES: [&str; 5] = ["shape", "scale", "orientation", "x", "y"];

pub struct DSpritesSource {
    info: SourceInfo,
    /// The factor whose value is each image's class (0 = shape): the specified factor a
    /// model with a class/style split learns from pairs that share it.
    class_factor: usize,
}

impl Default for DSpritesSource {
    fn default() -> Self {
        Self::with_class_factor(0)
    }
}

impl DSpritesSource {
    /// The source whose classes are the values of factor `class_factor` (of
    /// [`FACTOR_NAMES`]; past the last, shape).
    pub fn with_class_factor(class_factor: usize) -> Self {
        let class_factor = if class_factor < FACTOR_NAMES.len() { class_factor } else { 0 };
        let class_names: Vec<String> = match class_factor {
            0 => ["square", "ellipse", "heart"].map(String::from).to_vec(),
            1 => (0..SCALES).map(|s| format!("scale {:.1}", 0.5 + 0.5 * s as f32 / (SCALES - 1) as f32)).collect(),
            2 => (0..ORIENTATIONS).map(|o| format!("{}°", o * 360 / ORIENTATIONS)).collect(),
            k => (0..POSITIONS).map(|p| format!("{} {p}", FACTOR_NAMES[k])).collect(),
        };
        let name = if class_factor == 0 { "dsprites-like".to_string() } else { format!("dsprites-like by {}", FACTOR_NAMES[class_factor]) };
        Self { info: SourceInfo { name, channels: 1, size: Some((SIZE, SIZE)), class_names, factor_names: FACTOR_NAMES.map(String::from).to_vec(), skipped: vec![] }, class_factor }
    }
}

/// Splits an index into its factor indices (shape, scale, orientation, x, y).
pub fn factor_indices(index: usize) -> [usize; 5] {
    let y = index % POSITIONS;
    let x = (index / POSITIONS) % POSITIONS;
    let o = (index / (POSITIONS * POSITIONS)) % ORIENTATIONS;
    let s = (index / (POSITIONS * POSITIONS * ORIENTATIONS)) % SCALES;
    let shape = index / (POSITIONS * POSITIONS * ORIENTATIONS * SCALES);
    [shape, s, o, x, y]
}

pub fn factors(index: usize) -> Factors {
    let [shape, s, o, x, y] = factor_indices(index);
    Factors {
        shape,
        scale: 0.5 + 0.5 * s as f32 / (SCALES - 1) as f32,
        orientation: 2.0 * PI * o as f32 / ORIENTATIONS as f32,
        x: x as f32 / (POSITIONS - 1) as f32,
        y: y as f32 / (POSITIONS - 1) as f32,
    }
}

/// Whether the point (u, v), in the shape's own unit frame, lies inside the shape.
fn inside(shape: usize, u: f32, v: f32) -> bool {
    match shape {
        0 => u.abs() <= 0.75 && v.abs() <= 0.75,
        1 => (u / 1.0).powi(2) + (v / 0.5).powi(2) <= 1.0,
        _ => {
            // The classic implicit heart, point up in image coordinates.
            let (x, y) = (u * 1.15, -v * 1.15 + 0.15);
            let a = x * x + y * y - 1.0;
            a * a * a - x * x * y * y * y <= 0.0
        }
    }
}

/// Draws one sprite: white shape on black, 64×64.
pub fn render(f: &Factors) -> HostImage {
    let radius = 10.0 * f.scale;
    let margin = 10.0;
    let cx = margin + f.x * (SIZE as f32 - 1.0 - 2.0 * margin);
    let cy = margin + f.y * (SIZE as f32 - 1.0 - 2.0 * margin);
    let (sin, cos) = f.orientation.sin_cos();
    let mut pixels = vec![0u8; SIZE * SIZE];
    for py in 0..SIZE {
        for px in 0..SIZE {
            let (dx, dy) = (px as f32 - cx, py as f32 - cy);
            let u = (cos * dx + sin * dy) / radius;
            let v = (-sin * dx + cos * dy) / radius;
            if inside(f.shape, u, v) {
                pixels[py * SIZE + px] = 255;
            }
        }
    }
    HostImage::new(SIZE, SIZE, 1, pixels)
}

impl ImageSource for DSpritesSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn len(&self) -> usize {
        SHAPES * SCALES * ORIENTATIONS * POSITIONS * POSITIONS
    }
    fn get(&self, index: usize) -> Sample {
        let f = factors(index);
        Sample {
            image: render(&f),
            label: self.label(index),
            factors: vec![f.shape as f32, f.scale, f.orientation, f.x, f.y],
        }
    }
    fn label(&self, index: usize) -> Option<u32> {
        Some(factor_indices(index)[self.class_factor] as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_the_full_factor_grid() {
        let src = DSpritesSource::default();
        assert_eq!(src.len(), 737_280);
        assert_eq!(factor_indices(src.len() - 1), [2, 5, 39, 31, 31]);
        let f = factors(src.len() - 1);
        assert_eq!((f.shape, f.scale, f.x, f.y), (2, 1.0, 1.0, 1.0));
    }

    #[test]
    fn sprites_are_binary_grow_with_scale_and_move_with_position() {
        let area = |i| render(&factors(i)).pixels.iter().filter(|&&p| p == 255).count();
        let small = area(0); // square, scale 0.5
        let big = area(5 * ORIENTATIONS * POSITIONS * POSITIONS); // square, scale 1
        assert!(small > 20 && big > 3 * small, "{small} {big}");
        let img = render(&factors(0));
        assert!(img.pixels.iter().all(|&p| p == 0 || p == 255));
        // x = 0 puts the shape on the left edge, x = 31 on the right.
        let mean_x = |i: usize| {
            let img = render(&factors(i));
            let (mut s, mut n) = (0.0, 0.0);
            for (k, &p) in img.pixels.iter().enumerate() {
                if p > 0 {
                    s += (k % SIZE) as f32;
                    n += 1.0;
                }
            }
            s / n
        };
        assert!(mean_x(0) < 15.0 && mean_x(31 * POSITIONS) > 48.0);
        // The three shapes differ.
        let shape_stride = SCALES * ORIENTATIONS * POSITIONS * POSITIONS;
        assert_ne!(area(0), area(shape_stride));
        assert_ne!(area(shape_stride), area(2 * shape_stride));
    }

    #[test]
    fn any_factor_can_be_the_class_and_labels_come_without_drawing() {
        let by_scale = DSpritesSource::with_class_factor(1);
        assert_eq!(by_scale.info().class_names.len(), SCALES);
        assert_eq!(by_scale.info().class_names[0], "scale 0.5");
        let i = 3 * POSITIONS * POSITIONS * ORIENTATIONS + 7;
        assert_eq!((by_scale.label(i), by_scale.get(i).label), (Some(3), Some(3)));
        assert_eq!(DSpritesSource::with_class_factor(2).info().class_names[10], "90°");
        assert_eq!(DSpritesSource::default().label(i), Some(0), "shape by default");
    }
}
