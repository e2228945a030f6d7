//! Host images and bringing them to a model's input format.

use image::{DynamicImage, GrayImage, RgbImage, imageops::FilterType};

/// An 8-bit image in height × width × channels order (channels 1 or 3).
#[derive(Debug, Clone, PartialEq)]
pub struct HostImage {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub pixels: Vec<u8>,
}

impl HostImage {
    pub fn new(width: usize, height: usize, channels: usize, pixels: Vec<u8>) -> Self {
        debug_assert_eq!(pixels.len(), width * height * channels);
        Self { width, height, channels, pixels }
    }

    pub fn from_dynamic(img: &DynamicImage) -> Self {
        // Alpha is dropped; anything with colour becomes RGB, the rest grey.
        if img.color().has_color() {
            let rgb = img.to_rgb8();
            Self::new(rgb.width() as usize, rgb.height() as usize, 3, rgb.into_raw())
        } else {
            let grey = img.to_luma8();
            Self::new(grey.width() as usize, grey.height() as usize, 1, grey.into_raw())
        }
    }

    pub fn to_dynamic(&self) -> DynamicImage {
        let (w, h) = (self.width as u32, self.height as u32);
        match self.channels {
            1 => GrayImage::from_raw(w, h, self.pixels.clone()).map(DynamicImage::ImageLuma8),
            _ => RgbImage::from_raw(w, h, self.pixels.clone()).map(DynamicImage::ImageRgb8),
        }
        .unwrap_or_else(|| DynamicImage::new_rgb8(w, h))
    }

    /// Converts an image in [−1, 1], channels × height × width, back to 8 bits.
    pub fn from_chw_signed(values: &[f32], channels: usize, height: usize, width: usize) -> Self {
        let mut pixels = vec![0u8; channels * height * width];
        for c in 0..channels {
            for y in 0..height {
                for x in 0..width {
                    let v = values[(c * height + y) * width + x];
                    let v = ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8;
                    pixels[(y * width + x) * channels + c] = v;
                }
            }
        }
        Self::new(width, height, channels, pixels)
    }

    /// The same image with 3 channels (grey is replicated).
    pub fn to_rgb(&self) -> HostImage {
        if self.channels == 3 {
            return self.clone();
        }
        let pixels = self.pixels.iter().flat_map(|&v| [v, v, v]).collect();
        Self::new(self.width, self.height, 3, pixels)
    }
}

/// Resizes (shorter side to `size`, bilinear), centre-crops to `size × size`,
/// converts grey ↔ RGB to `channels`, and normalises to [−1, 1] in CHW order.
pub fn fit_image(img: &HostImage, size: usize, channels: usize) -> Vec<f32> {
    let fitted = resize_crop(img, size);
    let mut out = vec![0f32; channels * size * size];
    for y in 0..size {
        for x in 0..size {
            let base = (y * size + x) * fitted.channels;
            for c in 0..channels {
                let v = match (fitted.channels, channels) {
                    (1, _) => fitted.pixels[base],
                    (3, 1) => {
                        let p = &fitted.pixels[base..base + 3];
                        // ITU-R BT.601 luma, as image's own conversion.
                        (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32).round() as u8
                    }
                    _ => fitted.pixels[base + c],
                };
                out[(c * size + y) * size + x] = v as f32 / 127.5 - 1.0;
            }
        }
    }
    out
}

/// Resize so the shorter side is `size`, then take the centred `size × size` square.
pub fn resize_crop(img: &HostImage, size: usize) -> HostImage {
    if img.width == size && img.height == size {
        return img.clone();
    }
    let short = img.width.min(img.height).max(1) as f64;
    let scale = size as f64 / short;
    let new_w = ((img.width as f64 * scale).round() as u32).max(size as u32);
    let new_h = ((img.height as f64 * scale).round() as u32).max(size as u32);
    let resized = img.to_dynamic().resize_exact(new_w, new_h, FilterType::Triangle);
    let x0 = (new_w - size as u32) / 2;
    let y0 = (new_h - size as u32) / 2;
    let cropped = resized.crop_imm(x0, y0, size as u32, size as u32);
    let out = HostImage::from_dynamic(&cropped);
    if out.channels != img.channels && img.channels == 1 {
        // Keep grey sources grey even if the resize produced RGB.
        let grey = cropped.to_luma8();
        return HostImage::new(size, size, 1, grey.into_raw());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_normalises_to_signed_range_and_replicates_grey() {
        let img = HostImage::new(2, 2, 1, vec![0, 255, 255, 0]);
        let v = fit_image(&img, 2, 3);
        assert_eq!(v.len(), 12);
        assert_eq!(&v[0..4], &[-1.0, 1.0, 1.0, -1.0]);
        assert_eq!(&v[4..8], &v[0..4]);
    }

    #[test]
    fn resize_crop_takes_the_centre_square() {
        // 4×2 image: left half black, right half white; the centre 2×2 crop
        // after scaling the short side (2) to 2 keeps columns 1..3.
        let img = HostImage::new(4, 2, 1, vec![0, 0, 255, 255, 0, 0, 255, 255]);
        let out = resize_crop(&img, 2);
        assert_eq!((out.width, out.height, out.channels), (2, 2, 1));
        assert_eq!(out.pixels, vec![0, 255, 0, 255]);
    }

    #[test]
    fn signed_chw_round_trips() {
        let img = HostImage::new(3, 2, 3, (0..18).map(|v| (v * 14) as u8).collect());
        let chw = fit_image(&img, 3, 3);
        // fit_image crops 3x2 to 3x3 after resizing, so test the inverse on a square one.
        let sq = HostImage::new(2, 2, 3, (0..12).map(|v| (v * 20) as u8).collect());
        let v = fit_image(&sq, 2, 3);
        assert_eq!(HostImage::from_chw_signed(&v, 3, 2, 2), sq);
        assert_eq!(chw.len(), 27);
    }
}
