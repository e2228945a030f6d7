//! Loss terms shared by the VAE family.

use burn::prelude::*;
use burn::tensor::activation;

/// KL(N(μ, σ²) ‖ N(0, I)) = −½ Σ (1 + log σ² − μ² − σ²), summed over latent
/// dimensions and averaged over the batch. Inputs are `[batch, latent]`.
pub fn gaussian_kl(mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<1> {
    let [batch, _] = mu.dims();
    let per_dim = (logvar.clone() + 1.0 - mu.powi_scalar(2) - logvar.exp()) * -0.5;
    per_dim.sum() / batch as f64
}

/// KL per latent dimension, averaged over the batch: `[latent]`. Used to order
/// latents for traversals and to spot collapsed dimensions.
pub fn gaussian_kl_per_dim(mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<1> {
    let per_dim = (logvar.clone() + 1.0 - mu.powi_scalar(2) - logvar.exp()) * -0.5;
    per_dim.mean_dim(0).squeeze_dim::<1>(0)
}

/// z = μ + σ ⊙ ε with σ = exp(½ log σ²) (not exp(log σ²)/2, a bug seen in public code).
pub fn reparameterize(mu: Tensor<2>, logvar: Tensor<2>, eps: Tensor<2>) -> Tensor<2> {
    mu + (logvar * 0.5).exp() * eps
}

/// Sum of squared errors over pixels, averaged over the batch (Gaussian likelihood
/// up to constants; the PatchVAE code's L2).
pub fn sum_squared_error(pred: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    let [batch, ..] = pred.dims();
    (pred - target).powi_scalar(2).sum() / batch as f64
}

/// Bernoulli likelihood on logits against targets in [−1, 1] (mapped to [0, 1]),
/// summed over pixels, averaged over the batch: softplus(l) − t·l.
pub fn bernoulli_nll_with_logits(logits: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    let [batch, ..] = logits.dims();
    let t = (target + 1.0) * 0.5;
    (activation::softplus(logits.clone(), 1.0) - t * logits).sum() / batch as f64
}

/// KL(Bern(q) ‖ Bern(prior)) summed over parts and locations, averaged over the batch
/// (the PatchVAE code's `KldBinaryLoss`, with its ε = 1e-7 inside the logarithms).
/// `probs` is `[batch, parts, h, w]`.
pub fn bernoulli_kl(probs: Tensor<4>, prior: f64) -> Tensor<1> {
    const EPS: f64 = 1e-7;
    let [batch, ..] = probs.dims();
    let q = probs.clone();
    let not_q = probs.neg() + 1.0;
    let on = q.clone() * ((q + EPS) / prior).log();
    let off = not_q.clone() * ((not_q + EPS) / (1.0 - prior)).log();
    (on + off).sum() / batch as f64
}

/// KL(Cat(q) ‖ uniform-ish prior) of the categorical occurrence variant: Σ q log(q / prior)
/// over parts and locations, averaged over the batch (the code's `KldCategoricalLoss`).
pub fn categorical_kl(probs: Tensor<4>, prior: f64) -> Tensor<1> {
    const EPS: f64 = 1e-7;
    let [batch, ..] = probs.dims();
    (probs.clone() * ((probs + EPS) / prior).log()).sum() / batch as f64
}

/// The weights of the PatchVAE paper's weighted loss L_w: the per-pixel magnitude of the
/// input's Laplacian (4-neighbour kernel, replicated border), averaged over `cell`×`cell`
/// patches, normalised per image and channel to sum to one over the patches.
/// `[batch, c, h, w]` → `[batch, c, h/cell, w/cell]`. A flat image gets uniform weights.
pub fn edge_patch_weights(x: Tensor<4>, cell: usize) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let x = x.detach();
    // Replicate-pad by one pixel on each side.
    let x = Tensor::cat(vec![x.clone().slice_dim(2, 0..1), x.clone(), x.clone().slice_dim(2, h - 1..h)], 2);
    let x = Tensor::cat(vec![x.clone().slice_dim(3, 0..1), x.clone(), x.clone().slice_dim(3, w - 1..w)], 3);
    let centre = x.clone().slice([0..b, 0..c, 1..h + 1, 1..w + 1]);
    let laplacian = x.clone().slice([0..b, 0..c, 0..h, 1..w + 1])
        + x.clone().slice([0..b, 0..c, 2..h + 2, 1..w + 1])
        + x.clone().slice([0..b, 0..c, 1..h + 1, 0..w])
        + x.slice([0..b, 0..c, 1..h + 1, 2..w + 2])
        - centre * 4.0;
    let magnitude = laplacian.abs();
    let per_patch = patch_mean(magnitude, cell) + 1e-12;
    let total = per_patch.clone().sum_dim(3).sum_dim(2);
    per_patch / total
}

/// Mean over non-overlapping `cell`×`cell` patches.
fn patch_mean(x: Tensor<4>, cell: usize) -> Tensor<4> {
    burn::tensor::module::avg_pool2d(x, burn::tensor::ops::AvgPoolOptions::new([cell, cell]))
}

/// L2 reconstruction with every `cell`×`cell` patch's squared error weighted by
/// [`edge_patch_weights`] of the target. The weights sum to one, so they are scaled by the
/// number of patches: a uniform weighting gives back [`sum_squared_error`] exactly (this is
/// the official code's `EdgeWeights`, whose mask averages one per pixel).
pub fn edge_weighted_squared_error(pred: Tensor<4>, target: Tensor<4>, cell: usize) -> Tensor<1> {
    let [batch, _, h, w] = pred.dims();
    let patches = ((h / cell) * (w / cell)) as f64;
    let weights = edge_patch_weights(target.clone(), cell);
    let squared = (pred - target).powi_scalar(2);
    let per_patch = patch_mean(squared, cell) * (cell * cell) as f64;
    (per_patch * weights).sum() * patches / batch as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t2(v: Vec<f32>, shape: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v, shape), &Device::flex())
    }

    #[test]
    fn kl_matches_hand_computed_values() {
        // Sample 1: μ = (1, 0), log σ² = (0, ln 4): KL = ½(1) + ½(4 − 1 − ln 4) = 0.5 + 0.80685 = 1.30685
        // Sample 2: μ = (0, 0), log σ² = (0, 0): KL = 0. Mean over the batch: 0.653426.
        let mu = t2(vec![1.0, 0.0, 0.0, 0.0], [2, 2]);
        let logvar = t2(vec![0.0, 4f32.ln(), 0.0, 0.0], [2, 2]);
        let kl: f32 = gaussian_kl(mu.clone(), logvar.clone()).into_scalar();
        assert!((kl - 0.653_426).abs() < 1e-5, "{kl}");
        let per_dim = gaussian_kl_per_dim(mu, logvar).into_data().try_to_vec::<f32>().unwrap();
        assert!((per_dim[0] - 0.25).abs() < 1e-6 && (per_dim[1] - 0.403_426).abs() < 1e-5, "{per_dim:?}");
    }

    #[test]
    fn reparameterisation_uses_the_standard_deviation() {
        // σ = exp(½ ln 9) = 3: z = 2 + 3·0.5 = 3.5.
        let z = reparameterize(t2(vec![2.0], [1, 1]), t2(vec![9f32.ln()], [1, 1]), t2(vec![0.5], [1, 1]));
        let z: f32 = z.into_scalar();
        assert!((z - 3.5).abs() < 1e-5, "{z}");
    }

    #[test]
    fn reconstruction_losses_match_hand_computed_values() {
        let d = Device::flex();
        let pred = Tensor::<4>::from_data(TensorData::new(vec![0.0f32, 1.0, 0.0, 0.0], [2, 1, 1, 2]), &d);
        let target = Tensor::<4>::from_data(TensorData::new(vec![1.0f32, 1.0, 0.0, -1.0], [2, 1, 1, 2]), &d);
        let sse: f32 = sum_squared_error(pred.clone(), target.clone()).into_scalar();
        assert!((sse - 1.0).abs() < 1e-6); // (1 + 0 + 0 + 1) / 2
        // logits 0 → p = ½ → each pixel costs ln 2 whatever the target; logit 1 with t = 1: softplus(1) − 1.
        let bce: f32 = bernoulli_nll_with_logits(pred, target).into_scalar();
        let expected = (3.0 * 2f32.ln() + (1f32.exp().ln_1p() - 1.0)) / 2.0;
        assert!((bce - expected).abs() < 1e-5, "{bce} vs {expected}");
    }

    #[test]
    fn bernoulli_kl_matches_hand_computed_values() {
        // q = 0.5 against prior 0.25: 0.5 ln 2 + 0.5 ln(2/3) = 0.143841; q = 0.25: 0. Batch 1.
        let d = Device::flex();
        let q = Tensor::<4>::from_data(TensorData::new(vec![0.5f32, 0.25], [1, 2, 1, 1]), &d);
        let kl: f32 = bernoulli_kl(q, 0.25).into_scalar();
        assert!((kl - 0.143_841).abs() < 1e-4, "{kl}");
        let q = Tensor::<4>::from_data(TensorData::new(vec![0.5f32, 0.5], [1, 2, 1, 1]), &d);
        let kl: f32 = categorical_kl(q, 0.25).into_scalar(); // 2 · 0.5 ln 2
        assert!((kl - 2f32.ln()).abs() < 1e-4, "{kl}");
    }

    #[test]
    fn edge_weights_sum_to_one_and_favour_high_gradient_patches() {
        // 16×16, one channel: the top-left 8×8 patch holds a checkerboard, the rest is flat.
        let d = Device::flex();
        let mut v = vec![0.0f32; 16 * 16];
        for y in 0..8 {
            for x in 0..8 {
                v[y * 16 + x] = if (x + y) % 2 == 0 { 1.0 } else { -1.0 };
            }
        }
        let x = Tensor::<4>::from_data(TensorData::new(v, [1, 1, 16, 16]), &d);
        let w = edge_patch_weights(x.clone(), 8).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(w.len(), 4);
        assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{w:?}");
        assert!(w[0] > 0.8 && w[0] > 10.0 * w[3], "{w:?}");
        // A flat image weights every patch equally, and the weighted loss is then plain SSE.
        let flat = Tensor::<4>::zeros([2, 1, 16, 16], &d);
        let w = edge_patch_weights(flat.clone(), 8).into_data().try_to_vec::<f32>().unwrap();
        assert!(w.iter().all(|v| (v - 0.25).abs() < 1e-5), "{w:?}");
        let pred = Tensor::<4>::ones([2, 1, 16, 16], &d) * 0.5;
        let weighted: f32 = edge_weighted_squared_error(pred.clone(), flat.clone(), 8).into_scalar();
        let plain: f32 = sum_squared_error(pred, flat).into_scalar();
        assert!((weighted - plain).abs() < 1e-3, "{weighted} vs {plain}");
    }
}
