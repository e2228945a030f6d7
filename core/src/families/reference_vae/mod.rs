//! The reference-based VAE (Ruiz, Martinez, Binefa & Verbeek, "Learning disentangled
//! representations with reference-based variational autoencoders"; digest
//! `reference-vae.md`): two image pools, an unlabelled one and a reference one in which
//! the target factors are constant; the latent splits into target factors e (q(e|x) by
//! encoder E, a learned constant e_r for every reference image) and common factors z (q(z|x)
//! by encoder Z, both pools). Trained as
//!
//! - **Rb-VAE**: the ELBO of Eq. 3 (Laplace likelihood with b = 0.01, so −log p = ℓ1/b;
//!   KL on z for both pools, on e for the unlabelled pool);
//! - **sRb-VAE**: the symmetric KL of Eq. 4, optimised adversarially with two
//!   discriminators d(x, z, e) and d′(x, z) (Eq. 8, Algorithm 1's label convention: real
//!   image with encoded latents = 1), plus Eq. 10's reconstruction terms on images and on
//!   latents re-encoded from generated images;
//! - the **baselines** of the paper's Table 1 on the same backbone, from the unlabelled
//!   pool only: VAE, β-VAE and DIP-VAE-I (all latents z ⊕ e are one code there).
//!
//! Networks are App. D's PGGAN blocks (Fig. 6): 3×3 convolutions, pixel norm ("CN") in
//! encoders and generator, LeakyReLU 0.2, average pooling down and nearest-neighbour
//! upsampling, a W/16 bottleneck. The channel counts 32…256 are the paper's at `width` 32;
//! `width` scales them all (16 halves every layer, for CPU runs).

mod settings;
mod train;

use burn::module::Param;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::module::{avg_pool2d, interpolate};
use burn::tensor::ops::{AvgPoolOptions, InterpolateMode, InterpolateOptions};
use serde::{Deserialize, Serialize};

use crate::families::trainable::uniform_noise;
use crate::nn::blocks::{conv, deconv, leaky_relu};
use crate::rng::SeededRng;

pub use train::ReferencePool;

/// What a run optimises (spec §2; the baselines of Table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// The symmetric KL, adversarially, with Eq. 10's reconstructions: the paper's method.
    SrbVae,
    /// The plain ELBO of Eq. 3.
    RbVae,
    /// Baselines on the unlabelled pool: z ⊕ e as one code.
    Vae,
    BetaVae,
    DipVaeI,
}

impl Objective {
    /// Whether it trains on both pools (the baselines see the unlabelled pool only).
    pub fn uses_reference(self) -> bool {
        matches!(self, Objective::SrbVae | Objective::RbVae)
    }
}

/// How the Laplace negative log-likelihood is reduced over pixels (the paper does not
/// say, spec §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PixelReduction {
    /// Σ |x − G| / b over pixels: the likelihood as written (the default). The ELBO's
    /// KL then stays small beside it, as b = 0.01 "for sharper reconstructions" suggests;
    /// with the mean, Rb-VAE's posteriors collapsed (KL 0.00 at 1,108 steps,
    /// docs/results.md).
    Sum,
    /// The mean over pixels, / b: PyTorch's `L1Loss` default. With the sum, the
    /// adversarial and latent terms of sRb-VAE are ~10⁻⁴ of its objective unless
    /// `reconstruction_weight` is lowered.
    Mean,
}

/// What the batch size counts (spec §2.5: Algorithm 1 draws M from each pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolBatch {
    /// M images of each pool per step (Algorithm 1's reading; default).
    PerPool,
    /// M images per step in all, half of each pool.
    Total,
}

#[derive(Config, Debug, PartialEq)]
pub struct ReferenceVaeConfig {
    #[config(default = "Objective::SrbVae")]
    pub objective: Objective,
    /// Target-factor dimensions e (the paper's 32).
    #[config(default = 32)]
    pub target_dim: usize,
    /// Common-factor dimensions z (the paper's 32).
    #[config(default = 32)]
    pub common_dim: usize,
    /// The paper's 64 for MNIST; a multiple of 16.
    #[config(default = 64)]
    pub image_size: usize,
    #[config(default = 3)]
    pub channels: usize,
    /// Channels of the first block; the blocks have 1, 2, 4 and 8 times it (paper: 32).
    #[config(default = 32)]
    pub width: usize,
    /// The Laplace likelihood's scale b (paper 0.01): −log p(x|z,e) = ℓ1 / b.
    #[config(default = 0.01)]
    pub laplace_b: f64,
    #[config(default = "PixelReduction::Sum")]
    pub pixel_reduction: PixelReduction,
    /// sRb-VAE: weight of Eq. 10's reconstruction terms beside Eq. 8's adversarial ones
    /// (the paper gives none: 1).
    #[config(default = 1.0)]
    pub reconstruction_weight: f64,
    /// sRb-VAE: Eq. 10's image reconstructions (both pools).
    #[config(default = true)]
    pub image_terms: bool,
    /// sRb-VAE: Eq. 10's latent reconstructions (prior codes re-encoded from their images).
    #[config(default = true)]
    pub latent_terms: bool,
    /// sRb-VAE: dropout on the inputs of the discriminators' last hidden layer (paper 0.25).
    #[config(default = 0.25)]
    pub dropout: f64,
    /// β-VAE's weight on the KL (swept over [1, 50] in the paper).
    #[config(default = 4.0)]
    pub beta: f64,
    /// DIP-VAE-I's λ_od (λ_d = 10 λ_od, Kumar et al.'s choice); swept over [1, 50].
    #[config(default = 10.0)]
    pub dip_lambda: f64,
    #[config(default = "PoolBatch::PerPool")]
    pub pool_batch: PoolBatch,
}

impl ReferenceVaeConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(16..=256).contains(&self.image_size) || !self.image_size.is_multiple_of(16) {
            return Err(format!("the reference-based VAE takes square images of 16 to 256 pixels, a multiple of 16 (its bottleneck is W/16), not {}", self.image_size));
        }
        if self.target_dim == 0 || self.common_dim == 0 || self.target_dim > 4096 || self.common_dim > 4096 {
            return Err(format!("e and z take 1 to 4096 dimensions, not {} and {}", self.target_dim, self.common_dim));
        }
        if !(1..=256).contains(&self.width) {
            return Err(format!("width takes 1 to 256 channels, not {}", self.width));
        }
        if !(self.channels == 1 || self.channels == 3) {
            return Err(format!("channels must be 1 or 3, not {}", self.channels));
        }
        if !(self.laplace_b.is_finite() && self.laplace_b > 0.0) {
            return Err(format!("laplace_b must be a positive number, not {}", self.laplace_b));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout must be in [0, 1), not {}", self.dropout));
        }
        for (name, v) in [("reconstruction_weight", self.reconstruction_weight), ("beta", self.beta), ("dip_lambda", self.dip_lambda)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be a finite number ≥ 0, not {v}"));
            }
        }
        Ok(())
    }

    pub fn init(&self, device: &Device) -> ReferenceVae {
        let encoder = |dim: usize| Encoder::new(self, dim, device);
        let discriminator = |with_e: bool| Discriminator::new(self, with_e, device);
        let adversarial = self.objective == Objective::SrbVae;
        ReferenceVae {
            target: encoder(self.target_dim),
            common: encoder(self.common_dim),
            generator: Generator::new(self, device),
            d: adversarial.then(|| discriminator(true)),
            d_reference: adversarial.then(|| discriminator(false)),
            target_dim: self.target_dim,
            common_dim: self.common_dim,
        }
    }
}

/// PGGAN's pixel-wise feature normalisation: each location's feature vector divided by
/// its root mean square over channels (ε = 1e-8, PGGAN's).
pub fn pixel_norm(x: Tensor<4>) -> Tensor<4> {
    let rms = x.clone().powi_scalar(2).mean_dim(1).add_scalar(1e-8).sqrt();
    x / rms
}

/// The encoder trunk's convolutions (3×3, padding 1) at `width` w: [w] at W, [w, 2w] at W/2,
/// [2w, 4w] at W/4, [4w, 8w] at W/8 (each level ending in a 2×2 average pool), [8w] at W/16.
fn trunk(channels: usize, w: usize, device: &Device) -> Vec<Conv2d> {
    let plan = [(channels, w), (w, w), (w, 2 * w), (2 * w, 2 * w), (2 * w, 4 * w), (4 * w, 4 * w), (4 * w, 8 * w), (8 * w, 8 * w)];
    plan.iter().map(|&(i, o)| conv([i, o], 3, 1, 1, true, device)).collect()
}

/// The convolutions after which the trunk pools.
const POOL_AFTER: [usize; 4] = [0, 2, 4, 6];

/// The trunk's features `[b, 8w · (W/16)²]`, pixel-normalised or not.
fn trunk_forward(convs: &[Conv2d], x: Tensor<4>, normalise: bool) -> Tensor<2> {
    let mut h = x;
    for (i, conv) in convs.iter().enumerate() {
        h = conv.forward(h);
        if normalise {
            h = pixel_norm(h);
        }
        h = leaky_relu(h, 0.2);
        if POOL_AFTER.contains(&i) {
            h = avg_pool2d(h, AvgPoolOptions::new([2, 2]));
        }
    }
    let [b, ..] = h.dims();
    h.reshape([b as i32, -1])
}

/// E or Z: an image to a diagonal Gaussian (μ, log σ²).
#[derive(Module, Debug)]
pub struct Encoder {
    convs: Vec<Conv2d>,
    mu: Linear,
    logvar: Linear,
}

impl Encoder {
    fn new(config: &ReferenceVaeConfig, dim: usize, device: &Device) -> Self {
        let features = 8 * config.width * (config.image_size / 16).pow(2);
        Self { convs: trunk(config.channels, config.width, device), mu: LinearConfig::new(features, dim).init(device), logvar: LinearConfig::new(features, dim).init(device) }
    }

    pub fn forward(&self, x: Tensor<4>) -> Gaussian {
        let h = trunk_forward(&self.convs, x, true);
        Gaussian { mu: self.mu.forward(h.clone()), logvar: self.logvar.forward(h) }
    }
}

/// A batch of diagonal Gaussians.
#[derive(Debug, Clone)]
pub struct Gaussian {
    pub mu: Tensor<2>,
    pub logvar: Tensor<2>,
}

/// G: concat(z, e) → an image in [−1, 1]; holds the learned reference code e_r.
#[derive(Module, Debug)]
pub struct Generator {
    /// 1×1 → W/16 × W/16 × 8w.
    input: ConvTranspose2d,
    /// Upsample before convs 0, 2, 4 and 6; the last one gives the image.
    convs: Vec<Conv2d>,
    /// e_r: every reference image's target factors, learned.
    pub reference: Param<Tensor<1>>,
}

impl Generator {
    fn new(config: &ReferenceVaeConfig, device: &Device) -> Self {
        let w = config.width;
        let plan = [(8 * w, 8 * w), (8 * w, 4 * w), (4 * w, 4 * w), (4 * w, 2 * w), (2 * w, 2 * w), (2 * w, w), (w, config.channels)];
        Self {
            input: deconv([config.common_dim + config.target_dim, 8 * w], config.image_size / 16, 1, 0, true, device),
            convs: plan.iter().map(|&(i, o)| conv([i, o], 3, 1, 1, true, device)).collect(),
            reference: Param::from_tensor(Tensor::zeros([config.target_dim], device)),
        }
    }

    pub fn forward(&self, z: Tensor<2>, e: Tensor<2>) -> Tensor<4> {
        let [b, d] = z.dims();
        let [_, de] = e.dims();
        let code = Tensor::cat(vec![z, e], 1).reshape([b, d + de, 1, 1]);
        let mut h = leaky_relu(pixel_norm(self.input.forward(code)), 0.2);
        let last = self.convs.len() - 1;
        for (i, conv) in self.convs.iter().enumerate() {
            if i % 2 == 0 {
                let [_, _, hh, ww] = h.dims();
                h = interpolate(h, InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([2 * hh, 2 * ww]));
            }
            h = conv.forward(h);
            h = if i == last { h.tanh() } else { leaky_relu(pixel_norm(h), 0.2) };
        }
        h
    }

    /// e_r repeated for a batch of `n`.
    pub fn reference_codes(&self, n: usize) -> Tensor<2> {
        let e = self.reference.val();
        let [d] = e.dims();
        e.reshape([1, d]).repeat_dim(0, n)
    }
}

/// d(x, z, e), or d′(x, z) without the e branch: the trunk without pixel norm to 64
/// features, z and e each to 32, then [dropout, FC 128, LeakyReLU, logit]. The dropout
/// masks come from the step's host RNG, as all of a step's randomness does: burn's
/// `Dropout::forward` draws from the device's generator, whose state a checkpoint does not
/// keep, so a resumed run (or a step retried after a refused update) would drop others.
#[derive(Module, Debug)]
pub struct Discriminator {
    convs: Vec<Conv2d>,
    image: Linear,
    common: Linear,
    target: Option<Linear>,
    dropout: Dropout,
    hidden: Linear,
    output: Linear,
}

impl Discriminator {
    fn new(config: &ReferenceVaeConfig, with_target: bool, device: &Device) -> Self {
        let features = 8 * config.width * (config.image_size / 16).pow(2);
        let joined = 64 + 32 + if with_target { 32 } else { 0 };
        Self {
            convs: trunk(config.channels, config.width, device),
            image: LinearConfig::new(features, 64).init(device),
            common: LinearConfig::new(config.common_dim, 32).init(device),
            target: with_target.then(|| LinearConfig::new(config.target_dim, 32).init(device)),
            dropout: DropoutConfig::new(config.dropout).init(),
            hidden: LinearConfig::new(joined, 128).init(device),
            output: LinearConfig::new(128, 1).init(device),
        }
    }

    /// Logits `[b]`; `e` is ignored by d′. `dropout`: the RNG of a training step (no
    /// dropout without one).
    pub fn forward(&self, x: Tensor<4>, z: Tensor<2>, e: Option<Tensor<2>>, dropout: Option<&mut SeededRng>) -> Tensor<1> {
        let image = leaky_relu(self.image.forward(trunk_forward(&self.convs, x, false)), 0.2);
        let mut parts = vec![image, leaky_relu(self.common.forward(z), 0.2)];
        if let (Some(target), Some(e)) = (&self.target, e) {
            parts.push(leaky_relu(target.forward(e), 0.2));
        }
        let joined = Tensor::cat(parts, 1);
        let joined = match dropout {
            Some(rng) if self.dropout.prob > 0.0 => {
                let [b, n] = joined.dims();
                let p = self.dropout.prob as f32;
                let keep: Vec<f32> = uniform_noise(rng, b * n).into_iter().map(|u| if u < p { 0.0 } else { 1.0 / (1.0 - p) }).collect();
                let mask = Tensor::<2>::from_data(TensorData::new(keep, [b, n]), &joined.device());
                joined * mask
            }
            _ => joined,
        };
        let h = leaky_relu(self.hidden.forward(joined), 0.2);
        let [b, _] = h.dims();
        self.output.forward(h).reshape([b])
    }
}

#[derive(Module, Debug)]
pub struct ReferenceVae {
    /// E: target factors.
    pub target: Encoder,
    /// Z: common factors.
    pub common: Encoder,
    pub generator: Generator,
    /// d(x, z, e) on the unlabelled pool (sRb-VAE only).
    pub d: Option<Discriminator>,
    /// d′(x, z) on the reference pool (sRb-VAE only).
    pub d_reference: Option<Discriminator>,
    pub target_dim: usize,
    pub common_dim: usize,
}

impl ReferenceVae {
    /// (q(z|x), q(e|x)) of a batch in [−1, 1].
    pub fn encode(&self, x: Tensor<4>) -> (Gaussian, Gaussian) {
        (self.common.forward(x.clone()), self.target.forward(x))
    }

    pub fn decode(&self, z: Tensor<2>, e: Tensor<2>) -> Tensor<4> {
        self.generator.forward(z, e)
    }

    /// G(μ_z, μ_e): the deterministic reconstruction.
    pub fn reconstruct(&self, x: Tensor<4>) -> Tensor<4> {
        let (z, e) = self.encode(x);
        self.decode(z.mu, e.mu)
    }

    /// G(μ_z, e_r): the image in the reference style.
    pub fn reference_decode(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, ..] = x.dims();
        let z = self.common.forward(x);
        self.decode(z.mu, self.generator.reference_codes(b))
    }
}

/// −log Laplace(x | mean, b) without its constant: Σ (or mean) over pixels of |x − mean| / b,
/// averaged over the batch.
pub fn laplace_nll(mean: Tensor<4>, x: Tensor<4>, b: f64, reduction: PixelReduction) -> Tensor<1> {
    let [batch, c, h, w] = x.dims();
    let per_pixel = (mean - x).abs().div_scalar(b);
    match reduction {
        PixelReduction::Sum => per_pixel.sum().div_scalar(batch as f64),
        PixelReduction::Mean => per_pixel.sum().div_scalar((batch * c * h * w) as f64),
    }
}

/// −log N(v | μ, σ²), summed over dimensions and averaged over the batch (Eq. 10's
/// latent terms).
pub fn gaussian_nll(v: Tensor<2>, q: &Gaussian) -> Tensor<1> {
    let [batch, _] = v.dims();
    let squared = (v - q.mu.clone()).powi_scalar(2) / q.logvar.clone().exp();
    (squared + q.logvar.clone()).add_scalar((2.0 * std::f64::consts::PI).ln()).sum().mul_scalar(0.5 / batch as f64)
}

/// DIP-VAE-I's regulariser on the covariance C of the posterior means over the batch:
/// λ_od Σ_{i≠j} C_ij² + λ_d Σ_i (C_ii − 1)², λ_d = 10 λ_od.
pub fn dip_i(mu: Tensor<2>, lambda_od: f64) -> Tensor<1> {
    let [b, d] = mu.dims();
    let centred = mu.clone() - mu.mean_dim(0);
    let cov = centred.clone().transpose().matmul(centred).div_scalar(b as f64);
    let eye = Tensor::<2>::eye(d, &cov.device());
    let diagonal = cov.clone() * eye.clone();
    let off = (cov - diagonal.clone()).powi_scalar(2).sum();
    let on = (diagonal.sum_dim(1).reshape([d]).sub_scalar(1.0)).powi_scalar(2).sum();
    off.mul_scalar(lambda_od) + on.mul_scalar(10.0 * lambda_od)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::trainable_params;

    fn scalar(t: Tensor<1>) -> f32 {
        t.into_scalar()
    }

    #[test]
    fn shapes_and_parameter_counts_at_64() {
        let device = Device::flex();
        let config = ReferenceVaeConfig::new();
        let model = config.init(&device);
        let x = Tensor::<4>::zeros([2, 3, 64, 64], &device);
        let (z, e) = model.encode(x.clone());
        assert_eq!((z.mu.dims(), e.logvar.dims()), ([2, 32], [2, 32]));
        assert_eq!(model.decode(z.mu.clone(), e.mu.clone()).dims(), [2, 3, 64, 64]);
        let d = model.d.as_ref().unwrap();
        assert_eq!(d.forward(x.clone(), z.mu.clone(), Some(e.mu), None).dims(), [2]);
        assert_eq!(model.d_reference.as_ref().unwrap().forward(x, z.mu, None, None).dims(), [2]);
        // The trunk: 3·32·9+32, then 32→32, 32→64, 64→64, 64→128, 128→128, 128→256, 256→256.
        let trunk = [(3, 32), (32, 32), (32, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256)].iter().map(|&(i, o)| i * o * 9 + o).sum::<usize>();
        let encoder = trunk + 2 * (4096 * 32 + 32);
        let generator = 64 * 256 * 16 + 256 + [(256, 256), (256, 128), (128, 128), (128, 64), (64, 64), (64, 32), (32, 3)].iter().map(|&(i, o)| i * o * 9 + o).sum::<usize>() + 32;
        let d = trunk + (4096 * 64 + 64) + 2 * (32 * 32 + 32) + (128 * 128 + 128) + 129;
        let d_reference = trunk + (4096 * 64 + 64) + (32 * 32 + 32) + (96 * 128 + 128) + 129;
        assert_eq!(trainable_params(&model.target), encoder);
        assert_eq!(trainable_params(&model.generator), generator);
        assert_eq!(trainable_params(&model), 2 * encoder + generator + d + d_reference);
        assert_eq!((encoder, generator, d, d_reference), (1_434_464, 1_425_187, 1_453_217, 1_448_065), "7,195,397 in all");
        // The baselines and Rb-VAE have no discriminators.
        assert!(ReferenceVaeConfig::new().with_objective(Objective::RbVae).init(&device).d.is_none());
    }

    #[test]
    fn the_laplace_and_gaussian_terms_match_hand_computed_values() {
        let device = Device::flex();
        let x = Tensor::<4>::from_data(TensorData::new(vec![0.5f32, -0.5, 0.0, 1.0], [1, 1, 2, 2]), &device);
        let mean = Tensor::<4>::zeros([1, 1, 2, 2], &device);
        // Σ|x − 0| = 2, / b = 0.01 → 200; the mean over 4 pixels → 50.
        assert!((scalar(laplace_nll(mean.clone(), x.clone(), 0.01, PixelReduction::Sum)) - 200.0).abs() < 1e-3);
        assert!((scalar(laplace_nll(mean, x, 0.01, PixelReduction::Mean)) - 50.0).abs() < 1e-3);
        // −log N(1 | 0, 1) = ½ (ln 2π + 1) per dimension; −log N(0 | 0, e²): ½ (ln 2π + 2).
        let q = Gaussian { mu: Tensor::zeros([1, 2], &device), logvar: Tensor::from_data(TensorData::new(vec![0.0f32, 2.0], [1, 2]), &device) };
        let v = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.0], [1, 2]), &device);
        let expected = 0.5 * ((std::f32::consts::TAU.ln() + 1.0) + (std::f32::consts::TAU.ln() + 2.0));
        assert!((scalar(gaussian_nll(v, &q)) - expected).abs() < 1e-4);
        // KL(N(1, 1) ‖ N(0, 1)) = ½.
        let kl = scalar(crate::nn::losses::gaussian_kl(Tensor::ones([1, 1], &device), Tensor::zeros([1, 1], &device)));
        assert!((kl - 0.5).abs() < 1e-6);
    }

    #[test]
    fn the_dip_regulariser_is_zero_for_whitened_means() {
        let device = Device::flex();
        // Two dimensions, four points at (±1, ±1): covariance I.
        let white = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, -1.0], [4, 2]), &device);
        assert!(scalar(dip_i(white, 10.0)).abs() < 1e-5);
        // Both dimensions equal: C = [[1, 1], [1, 1]] → λ_od · 2.
        let tied = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 1.0, -1.0, -1.0], [2, 2]), &device);
        assert!((scalar(dip_i(tied, 10.0)) - 20.0).abs() < 1e-4);
    }

    #[test]
    fn pixel_norm_gives_unit_rms_per_location() {
        let device = Device::flex();
        let x = Tensor::<4>::from_data(TensorData::new(vec![3.0f32, 4.0], [1, 2, 1, 1]), &device);
        let y: Vec<f32> = pixel_norm(x).into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        let rms = ((y[0] * y[0] + y[1] * y[1]) / 2.0).sqrt();
        assert!((rms - 1.0).abs() < 1e-4, "{y:?}");
    }
}
