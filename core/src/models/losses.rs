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
}
