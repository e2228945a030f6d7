//! Latent traversals: what each latent dimension (β-VAE) or each appearance dimension of a
//! part (PatchVAE) does, by decoding codes that differ in that dimension only.

use super::explorable::ExplorableModel;
use crate::capabilities::LatentCode;
use crate::capabilities::parts::PartCode;
use crate::data::HostImage;

/// `steps` values evenly spaced over [−range, range].
pub fn traversal_values(range: f32, steps: usize) -> Vec<f32> {
    match steps {
        0 => vec![],
        1 => vec![0.0],
        _ => (0..steps).map(|i| -range + 2.0 * range * i as f32 / (steps - 1) as f32).collect(),
    }
}

/// The codes of one traversal row: `base` with dimension `dim` set to each value.
pub fn latent_row(base: &[f32], dim: usize, values: &[f32]) -> Vec<Vec<f32>> {
    values
        .iter()
        .map(|&v| {
            let mut z = base.to_vec();
            if let Some(slot) = z.get_mut(dim) {
                *slot = v;
            }
            z
        })
        .collect()
}

/// The codes of one PatchVAE traversal row: `base` with appearance dimension `dim` of
/// `part` set to each value (occurrence maps unchanged).
pub fn appearance_row(base: &PartCode, part: usize, dim: usize, values: &[f32]) -> Vec<PartCode> {
    values
        .iter()
        .map(|&v| {
            let mut code = base.clone();
            if part < code.parts && dim < code.part_dim {
                code.appearance[part * code.part_dim + dim] = v;
            }
            code
        })
        .collect()
}

/// The standard normal quantile function (Acklam's rational approximation, relative error
/// below 1.2e-9), for laying a 2-D latent manifold on equal-probability cells.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
    const B: [f64; 5] = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let tail = |q: f64| (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0);
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The codes of an `n × n` manifold over latent dimensions `dims` (others at `base`):
/// rows go down the second dimension, columns along the first, at the normal quantiles of
/// evenly spaced probabilities (Kingma & Welling's Fig. 4).
pub fn manifold_codes(base: &[f32], dims: (usize, usize), n: usize) -> Vec<Vec<f32>> {
    let q: Vec<f32> = (0..n).map(|i| normal_quantile((i as f64 + 0.5) / n as f64) as f32).collect();
    let mut out = Vec::with_capacity(n * n);
    for row in 0..n {
        for col in 0..n {
            let mut z = base.to_vec();
            if dims.0 < z.len() && dims.1 < z.len() {
                z[dims.0] = q[col];
                z[dims.1] = q[n - 1 - row];
            }
            out.push(z);
        }
    }
    out
}

/// One image's traversal grid: for each dimension (most informative first), the image
/// decoded with that dimension set to each value and the others at the posterior mean.
#[derive(Debug, Clone)]
pub struct Traversal {
    /// The traversed code: the latent means (β-VAE) or one part's appearance (PatchVAE).
    pub base: Vec<f32>,
    /// KL of each dimension against N(0, 1), nats.
    pub kl: Vec<f32>,
    /// Dimensions by KL, most informative first; `rows` follow this order.
    pub order: Vec<usize>,
    pub values: Vec<f32>,
    pub rows: Vec<Vec<HostImage>>,
    pub reconstruction: HostImage,
    /// The whole part code (PatchVAE), for decoding edits of `base`.
    pub part_code: Option<(usize, PartCode)>,
}

/// Traverses `image` under `model`: every latent (β-VAE) or every appearance dimension of
/// `part` (PatchVAE) over `values`.
pub fn traverse_image(model: &ExplorableModel, image: &HostImage, part: usize, values: &[f32]) -> Result<Traversal, String> {
    let images = std::slice::from_ref(image);
    if let Some(codes) = model.encode_latents(images) {
        let code = codes.into_iter().next().ok_or("encoding failed")?;
        let order = code.dims_by_kl();
        let mut codes = vec![code.mu.clone()];
        for &dim in &order {
            codes.extend(latent_row(&code.mu, dim, values));
        }
        let mut decoded = model.decode_latents(&codes).ok_or("decoding failed")?.into_iter();
        let reconstruction = decoded.next().ok_or("decoding failed")?;
        let rows = order.iter().map(|_| decoded.by_ref().take(values.len()).collect()).collect();
        return Ok(Traversal { kl: code.kl_per_dim(), base: code.mu, order, values: values.to_vec(), rows, reconstruction, part_code: None });
    }
    let Some(analyses) = model.analyse_parts(images) else {
        return Err(format!("a {} model has neither a latent vector nor parts to traverse", model.kind()));
    };
    let analysis = analyses.into_iter().next().ok_or("analysis failed")?;
    let code = analysis.code;
    if part >= code.parts {
        return Err(format!("this model has {} parts", code.parts));
    }
    let d = code.part_dim;
    let appearance = LatentCode { mu: code.appearance_of(part).to_vec(), var: analysis.appearance_var[part * d..(part + 1) * d].to_vec() };
    let order = appearance.dims_by_kl();
    let mut codes = vec![code.clone()];
    for &dim in &order {
        codes.extend(appearance_row(&code, part, dim, values));
    }
    let mut decoded = model.decode_part_codes(&codes).ok_or("decoding failed")?.into_iter();
    let reconstruction = decoded.next().ok_or("decoding failed")?;
    let rows = order.iter().map(|_| decoded.by_ref().take(values.len()).collect()).collect();
    Ok(Traversal { kl: appearance.kl_per_dim(), base: appearance.mu, order, values: values.to_vec(), rows, reconstruction, part_code: Some((part, code)) })
}

/// Decodes the traversal's code with its traversed vector replaced by `edited` (the
/// sliders of the Traverse view).
pub fn decode_edit(model: &ExplorableModel, traversal: &Traversal, edited: &[f32]) -> Option<HostImage> {
    match &traversal.part_code {
        None => model.decode_latents(&[edited.to_vec()])?.into_iter().next(),
        Some((part, code)) => {
            let mut code = code.clone();
            let d = code.part_dim;
            for (k, v) in edited.iter().take(d).enumerate() {
                code.appearance[part * d + k] = *v;
            }
            model.decode_part_codes(&[code])?.into_iter().next()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_per_dim_matches_hand_values_and_orders_dims() {
        // KL(N(1, 1) ‖ N(0, 1)) = 0.5; KL(N(0, e^-2) ‖ N(0, 1)) = 0.5(e^-2 + 2 − 1).
        let code = LatentCode { mu: vec![0.0, 1.0, 0.0], var: vec![1.0, 1.0, (-2.0f32).exp()] };
        let kl = code.kl_per_dim();
        assert!(kl[0].abs() < 1e-6);
        assert!((kl[1] - 0.5).abs() < 1e-6);
        assert!((kl[2] - 0.5 * ((-2.0f32).exp() + 1.0)).abs() < 1e-6);
        assert_eq!(code.dims_by_kl(), vec![2, 1, 0]);
    }

    #[test]
    fn rows_change_only_the_traversed_dimension() {
        let values = traversal_values(3.0, 7);
        assert_eq!(values, vec![-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]);
        let base = vec![0.25, -0.5, 1.5];
        let row = latent_row(&base, 1, &values);
        for (z, v) in row.iter().zip(&values) {
            assert_eq!((z[0], z[1], z[2]), (0.25, *v, 1.5));
        }
        let code = PartCode { parts: 2, part_dim: 2, grid: 1, occurrence: vec![1.0, 0.5], appearance: vec![1.0, 2.0, 3.0, 4.0] };
        let row = appearance_row(&code, 1, 0, &[-1.0, 9.0]);
        assert_eq!(row[0].appearance, vec![1.0, 2.0, -1.0, 4.0]);
        assert_eq!(row[1].appearance, vec![1.0, 2.0, 9.0, 4.0]);
        assert!(row.iter().all(|c| c.occurrence == code.occurrence));
    }

    #[test]
    fn normal_quantile_matches_known_values_and_manifold_is_symmetric() {
        assert!(normal_quantile(0.5).abs() < 1e-9);
        assert!((normal_quantile(0.975) - 1.959963984540054).abs() < 1e-7);
        assert!((normal_quantile(0.001) + 3.090232306167813).abs() < 1e-7);
        let codes = manifold_codes(&[0.0, 0.0, 7.0], (0, 1), 4);
        assert_eq!(codes.len(), 16);
        // Top-left: smallest first dimension, largest second; the third stays.
        assert!(codes[0][0] < 0.0 && codes[0][1] > 0.0 && codes[0][2] == 7.0);
        assert!((codes[0][0] + codes[15][0]).abs() < 1e-6 && (codes[0][1] + codes[15][1]).abs() < 1e-6);
    }
}
