//! Image quality: PSNR and SSIM, on images in [−1, 1] (compared in [0, 1]).

/// Peak signal-to-noise ratio in dB with peak 1, images mapped to [0, 1].
pub fn psnr(a: &[f32], b: &[f32]) -> f64 {
    let mse = a.iter().zip(b).map(|(x, y)| (((x - y) / 2.0) as f64).powi(2)).sum::<f64>() / a.len().max(1) as f64;
    if mse <= 1e-12 { 100.0 } else { -10.0 * mse.log10() }
}

/// The image with every pixel of each channel set to that channel's mean (`c` planes of
/// `h·w`): the reconstruction a code of `c` numbers gives, a floor for any autoencoder.
pub fn flat_mean_colour(image: &[f32], c: usize, h: usize, w: usize) -> Vec<f32> {
    let plane = h * w;
    (0..c)
        .flat_map(|ch| {
            let values = &image[ch * plane..(ch + 1) * plane];
            let mean = values.iter().sum::<f32>() / plane.max(1) as f32;
            std::iter::repeat_n(mean, plane)
        })
        .collect()
}

/// 11-tap Gaussian window with σ = 1.5, normalised (Wang et al. 2004).
fn gaussian_window() -> [f64; 11] {
    let mut w = [0f64; 11];
    for (i, v) in w.iter_mut().enumerate() {
        let d = i as f64 - 5.0;
        *v = (-d * d / (2.0 * 1.5 * 1.5)).exp();
    }
    let s: f64 = w.iter().sum();
    w.map(|v| v / s)
}

/// Separable Gaussian filter with the window truncated at the borders ("valid"
/// is too small for 28×28 images, so edges use the renormalised partial window).
fn blur(img: &[f64], h: usize, w: usize, win: &[f64; 11]) -> Vec<f64> {
    let pass = |src: &[f64], horizontal: bool| {
        let mut out = vec![0f64; h * w];
        for y in 0..h {
            for x in 0..w {
                let (mut acc, mut norm) = (0.0, 0.0);
                for (k, &g) in win.iter().enumerate() {
                    let o = k as isize - 5;
                    let (yy, xx) = if horizontal { (y as isize, x as isize + o) } else { (y as isize + o, x as isize) };
                    if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w {
                        acc += g * src[yy as usize * w + xx as usize];
                        norm += g;
                    }
                }
                out[y * w + x] = acc / norm;
            }
        }
        out
    };
    pass(&pass(img, true), false)
}

/// Mean SSIM over all pixels and channels of two CHW images in [−1, 1]
/// (compared in [0, 1], C1 = (0.01)², C2 = (0.03)²).
pub fn ssim(a: &[f32], b: &[f32], channels: usize, h: usize, w: usize) -> f64 {
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let win = gaussian_window();
    let mut total = 0.0;
    for c in 0..channels {
        let plane = |img: &[f32]| -> Vec<f64> { img[c * h * w..(c + 1) * h * w].iter().map(|&v| (v as f64 + 1.0) / 2.0).collect() };
        let (x, y) = (plane(a), plane(b));
        let mx = blur(&x, h, w, &win);
        let my = blur(&y, h, w, &win);
        let xx = blur(&x.iter().map(|v| v * v).collect::<Vec<_>>(), h, w, &win);
        let yy = blur(&y.iter().map(|v| v * v).collect::<Vec<_>>(), h, w, &win);
        let xy = blur(&x.iter().zip(&y).map(|(p, q)| p * q).collect::<Vec<_>>(), h, w, &win);
        for i in 0..h * w {
            let (sx, sy, sxy) = (xx[i] - mx[i] * mx[i], yy[i] - my[i] * my[i], xy[i] - mx[i] * my[i]);
            total += ((2.0 * mx[i] * my[i] + c1) * (2.0 * sxy + c2)) / ((mx[i].powi(2) + my[i].powi(2) + c1) * (sx + sy + c2));
        }
    }
    total / (channels * h * w) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psnr_matches_hand_computed_value() {
        // Every pixel off by 0.2 in [−1, 1] = 0.1 in [0, 1]: MSE 0.01, PSNR 20 dB.
        let a = vec![0.0f32; 16];
        let b = vec![0.2f32; 16];
        assert!((psnr(&a, &b) - 20.0).abs() < 1e-4);
        assert_eq!(psnr(&a, &a), 100.0);
    }

    #[test]
    fn flat_mean_colour_fills_each_channel_with_its_mean() {
        // Two 2×2 channels: [0, 0.2, 0.4, 0.6] and all −1.
        let image = [0.0, 0.2, 0.4, 0.6, -1.0, -1.0, -1.0, -1.0];
        let flat = flat_mean_colour(&image, 2, 2, 2);
        for (got, want) in flat.iter().zip([0.3, 0.3, 0.3, 0.3, -1.0, -1.0, -1.0, -1.0]) {
            assert!((got - want).abs() < 1e-6, "{flat:?}");
        }
    }

    #[test]
    fn ssim_is_one_for_identical_and_drops_with_noise() {
        let img: Vec<f32> = (0..3 * 16 * 16).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
        assert!((ssim(&img, &img, 3, 16, 16) - 1.0).abs() < 1e-9);
        let noisy: Vec<f32> = img.iter().enumerate().map(|(i, v)| v + if i % 2 == 0 { 0.3 } else { -0.3 }).collect();
        let s = ssim(&img, &noisy, 3, 16, 16);
        assert!(s < 0.9 && s > 0.0, "{s}");
        // A constant shift of luminance lowers SSIM only a little.
        let shifted: Vec<f32> = img.iter().map(|v| v + 0.05).collect();
        assert!(ssim(&img, &shifted, 3, 16, 16) > s);
    }
}
