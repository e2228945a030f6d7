//! Occurrence maps drawn over their image: the Parts and Swap views' heat maps, and the
//! part maps in a PatchVAE run's snapshots.

use crate::data::HostImage;

/// `image` (any channels) with a red heat map of `map` (`grid × grid` probabilities) blended in.
pub fn overlay(image: &HostImage, map: &[f32], grid: usize, opacity: f32) -> HostImage {
    let rgb = image.to_rgb();
    let (w, h) = (rgb.width, rgb.height);
    let mut pixels = rgb.pixels.clone();
    for y in 0..h {
        for x in 0..w {
            let cell = (y * grid / h) * grid + x * grid / w;
            let a = (opacity * map.get(cell).copied().unwrap_or(0.0)).clamp(0.0, 1.0);
            let p = &mut pixels[(y * w + x) * 3..][..3];
            for (c, heat) in p.iter_mut().zip([255.0f32, 40.0, 0.0]) {
                *c = ((1.0 - a) * *c as f32 + a * heat).round() as u8;
            }
        }
    }
    HostImage::new(w, h, 3, pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certain_cell_is_red_at_full_opacity_and_an_absent_one_leaves_the_image() {
        let grey = HostImage::new(2, 2, 1, vec![100; 4]);
        let heat = overlay(&grey, &[1.0, 0.0, 0.0, 0.5], 2, 1.0);
        assert_eq!(&heat.pixels[0..3], &[255, 40, 0]);
        assert_eq!(&heat.pixels[3..6], &[100, 100, 100]);
        assert_eq!(&heat.pixels[9..12], &[178, 70, 50]);
    }
}
