//! PatchVAE (Gupta, Singh & Shrivastava, CVPR 2020): a VAE whose bottleneck holds N
//! *parts*, each an occurrence map over the H/8 × W/8 grid (where the part is) and one
//! appearance vector per image (what it looks like).
//!
//! - φ: the "Resnet-9" backbone ([`Resnet9`]), 128 × H/8 × W/8.
//! - Q^O: one 3×3 conv → N occurrence logits per location.
//! - Q^A: 3×3 convs → per-location μ and log σ² (N·d_p channels each), averaged per part
//!   with the *detached* occurrence probabilities as weights (σ² = clamp(exp(log σ²), 1e-7, 1e7)).
//! - ẑ_occ ~ RelaxedBernoulli(τ, logits) (or the categorical / straight-through variants),
//!   ẑ_app ~ N(μ, σ²); patch code ẑ = ẑ_occ ⊗ ẑ_app, part i owning channels [i·d_p, (i+1)·d_p).
//! - Decoder: the code's "pyramid": (1×1, 256) BN LReLU(0.2) → 2 × (4×4/2 deconv, BN, LReLU)
//!   → (4×4/2 deconv, C) tanh; transposed convolutions without bias.
//!
//! At 32×32 RGB with N = 16, d_p = 6 this is the paper's 922,896 + 683,904 parameters.
//!
//! Paper and official code disagree on β (paper Table 6: β_occ 0.3; code: β_occ = 10,
//! β_app = 1) and on the temperature schedule (paper: τ₀·exp(−r·t); code: every 1000
//! steps τ ← max(τ·exp(−r·t), 0.1), which compounds). Both are settings; the defaults are
//! the code's.

mod settings;
mod train;

pub use train::PART_MAPS;

use burn::nn::BatchNorm;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use burn::tensor::activation;
use serde::{Deserialize, Serialize};

use crate::nn::blocks::{self, RESNET9_CHANNELS, Resnet9, batch_norm, conv, deconv};
use crate::nn::losses::{bernoulli_kl, categorical_kl, edge_weighted_squared_error, gaussian_kl, sum_squared_error};

/// The bottleneck is the image downscaled by this factor (the code's `scale`).
pub const PATCH_SCALE: usize = 8;

/// How occurrence maps are drawn from their logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OccurrenceSampling {
    /// Independent relaxed Bernoulli per part and location (the paper).
    Bernoulli,
    /// A relaxed one-hot over parts at each location: one part per location (code `--categorical`).
    Categorical,
    /// Straight-through: binary in the forward pass, relaxed gradients (code `--hard`).
    Hard,
}

/// How the relaxed-Bernoulli temperature falls during training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TemperatureSchedule {
    /// The official code: every `every` steps, τ ← max(τ·exp(−rate·step), floor).
    Compounding,
    /// The paper's reading: τ = max(start·exp(−rate·step), floor), updated every step.
    Exponential,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Temperature {
    pub start: f64,
    pub rate: f64,
    pub floor: f64,
    pub every: u64,
    pub schedule: TemperatureSchedule,
}

impl Default for Temperature {
    /// Paper: start 1.0, rate 3e-5; code: floor 0.1, updated every 1000 steps, compounding.
    fn default() -> Self {
        Self { start: 1.0, rate: 3e-5, floor: 0.1, every: 1000, schedule: TemperatureSchedule::Compounding }
    }
}

impl Temperature {
    /// τ after `step` optimisation steps.
    pub fn at(&self, step: u64) -> f64 {
        let t = match self.schedule {
            TemperatureSchedule::Exponential => self.start * (-self.rate * step as f64).exp(),
            TemperatureSchedule::Compounding => {
                // Updates at steps e, 2e, …, k·e multiply τ by exp(−rate·j·e): Σ j·e = e·k(k+1)/2.
                let every = self.every.max(1);
                let k = (step / every) as f64;
                self.start * (-self.rate * every as f64 * k * (k + 1.0) / 2.0).exp()
            }
        };
        t.max(self.floor)
    }
}

#[derive(Config, Debug, PartialEq)]
pub struct PatchVaeConfig {
    /// N, the number of parts (code default 16).
    #[config(default = 16)]
    pub parts: usize,
    /// d_p, the appearance dimensions of each part (code `--hidden-size`, default 6).
    #[config(default = 6)]
    pub part_dim: usize,
    #[config(default = 32)]
    pub image_size: usize,
    #[config(default = 3)]
    pub channels: usize,
    /// Prior occurrence probability; `None` = 1/N (paper §4.3, code default).
    pub prior: Option<f64>,
    /// Weight of the appearance KL (code `--beta-a`, default 1).
    #[config(default = 1.0)]
    pub beta_app: f64,
    /// Weight of the occurrence KL (code `--beta-v`, default 10; the paper's Table 6 uses 0.3).
    #[config(default = 10.0)]
    pub beta_occ: f64,
    #[config(default = "OccurrenceSampling::Bernoulli")]
    pub sampling: OccurrenceSampling,
    #[config(default = "Temperature::default()")]
    pub temperature: Temperature,
    /// Use the weighted reconstruction loss L_w (Laplacian-weighted 8×8 patches).
    #[config(default = false)]
    pub weighted_loss: bool,
    /// Base width of the decoder (code `--ngf`, 64).
    #[config(default = 64)]
    pub ngf: usize,
    /// The GAN variant (paper §3.4, App. A): a discriminator and its adversarial loss on
    /// reconstructions; `None` trains the plain VAE.
    pub gan: Option<GanSettings>,
}

/// The VAE-GAN variant's settings (official code: `--gan`, `--ndf 64`, `--beta-g 1`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GanSettings {
    /// Weight of the generator's adversarial term.
    pub beta_g: f64,
    /// Base width of the discriminator.
    pub ndf: usize,
}

impl Default for GanSettings {
    fn default() -> Self {
        Self { beta_g: 1.0, ndf: 64 }
    }
}

impl PatchVaeConfig {
    pub fn prior_probability(&self) -> f64 {
        self.prior.unwrap_or(1.0 / self.parts.max(1) as f64)
    }

    /// The grid of part locations: (H/8, W/8).
    pub fn grid(&self) -> usize {
        self.image_size / PATCH_SCALE
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.parts == 0 || self.part_dim == 0 {
            return Err("parts and part_dim must be at least 1".into());
        }
        if !(self.channels == 1 || self.channels == 3) {
            return Err(format!("channels must be 1 or 3, not {}", self.channels));
        }
        if !matches!(self.image_size, 32 | 64) {
            return Err(format!("PatchVAE takes image size 32 or 64, not {} (28×28 data is resized to 32)", self.image_size));
        }
        let p = self.prior_probability();
        if !(p > 0.0 && p < 1.0) {
            return Err(format!("prior must lie strictly between 0 and 1, not {p}"));
        }
        for (name, v) in [("beta_app", self.beta_app), ("beta_occ", self.beta_occ)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be a finite number ≥ 0, not {v}"));
            }
        }
        let t = &self.temperature;
        // A rate of 10⁹ is valid: τ is at its floor from the first update on.
        if !(t.start > 0.0 && t.floor > 0.0 && t.rate >= 0.0 && [t.start, t.floor, t.rate].iter().all(|v| v.is_finite())) {
            return Err("temperature start and floor must be finite and > 0, and rate finite and ≥ 0".into());
        }
        if self.ngf < 4 {
            return Err("ngf must be at least 4".into());
        }
        if let Some(g) = &self.gan {
            if !(g.beta_g.is_finite() && g.beta_g >= 0.0) || g.ndf < 4 {
                return Err("gan: beta_g must be ≥ 0 and ndf at least 4".into());
            }
        }
        Ok(())
    }

    pub fn init(&self, device: &Device) -> PatchVae {
        let (n, dp, c) = (self.parts, self.part_dim, self.channels);
        let wide = self.ngf * 4;
        PatchVae {
            backbone: Resnet9::new(c, device),
            occurrence: conv([RESNET9_CHANNELS, n], 3, 1, 1, true, device),
            app_mu: conv([RESNET9_CHANNELS, n * dp], 3, 1, 1, true, device),
            app_logvar: conv([RESNET9_CHANNELS, n * dp], 3, 1, 1, true, device),
            decoder: PyramidDecoder {
                input: deconv([n * dp, wide], 1, 1, 0, false, device),
                input_bn: batch_norm(wide, device),
                ups: vec![deconv([wide, wide / 2], 4, 2, 1, false, device), deconv([wide / 2, wide / 4], 4, 2, 1, false, device)],
                up_bns: vec![batch_norm(wide / 2, device), batch_norm(wide / 4, device)],
                out: deconv([self.ngf, c], 4, 2, 1, false, device),
            },
            discriminator: self.gan.map(|g| Discriminator::new(c, g.ndf, device)),
            parts: n,
            part_dim: dp,
            channels: c,
            image_size: self.image_size,
        }
    }
}

/// The official code's discriminator: the "pyramid" encoder (4×4/2 conv, LReLU(0.2), then
/// two 4×4/2 convs with batch norm and LReLU) and a 1×1 conv to one logit per location,
/// averaged over the H/8 × W/8 grid: 4 convolutions, two with batch norm, no biases.
/// (The code sizes the last conv's input as ndf·2^(log₂ size − 4), which only matches the
/// pyramid's ndf·4 channels at 64×64; here it is ndf·4 at every size.)
#[derive(Module, Debug)]
pub struct Discriminator {
    convs: Vec<Conv2d>,
    bns: Vec<BatchNorm>,
    out: Conv2d,
}

impl Discriminator {
    pub fn new(channels: usize, ndf: usize, device: &Device) -> Self {
        Self {
            convs: vec![
                conv([channels, ndf], 4, 2, 1, false, device),
                conv([ndf, ndf * 2], 4, 2, 1, false, device),
                conv([ndf * 2, ndf * 4], 4, 2, 1, false, device),
            ],
            bns: vec![batch_norm(ndf * 2, device), batch_norm(ndf * 4, device)],
            out: conv([ndf * 4, 1], 1, 1, 0, false, device),
        }
    }

    /// One logit per image, `[batch]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<1> {
        let mut h = blocks::leaky_relu(self.convs[0].forward(x), 0.2);
        for (conv, bn) in self.convs[1..].iter().zip(&self.bns) {
            h = blocks::leaky_relu(bn.forward(conv.forward(h)), 0.2);
        }
        let [b, ..] = h.dims();
        self.out.forward(h).reshape([b as i32, -1]).mean_dim(1).reshape([b])
    }
}

/// The official code's "pyramid" decoder for scale 8.
#[derive(Module, Debug)]
pub struct PyramidDecoder {
    input: ConvTranspose2d,
    input_bn: BatchNorm,
    ups: Vec<ConvTranspose2d>,
    up_bns: Vec<BatchNorm>,
    out: ConvTranspose2d,
}

impl PyramidDecoder {
    pub fn forward(&self, code: Tensor<4>) -> Tensor<4> {
        let mut h = blocks::leaky_relu(self.input_bn.forward(self.input.forward(code)), 0.2);
        for (up, bn) in self.ups.iter().zip(&self.up_bns) {
            h = blocks::leaky_relu(bn.forward(up.forward(h)), 0.2);
        }
        self.out.forward(h).tanh()
    }
}

#[derive(Module, Debug)]
pub struct PatchVae {
    pub(crate) backbone: Resnet9,
    occurrence: Conv2d,
    app_mu: Conv2d,
    app_logvar: Conv2d,
    decoder: PyramidDecoder,
    /// Present for the GAN variant. Trained by the same optimizer step as the VAE: its
    /// loss reaches only its own weights (reconstructions are detached), and the
    /// generator's adversarial term sees it through a frozen copy.
    discriminator: Option<Discriminator>,
    pub parts: usize,
    pub part_dim: usize,
    pub channels: usize,
    pub image_size: usize,
}

/// The encoder's output for a batch.
#[derive(Debug, Clone)]
pub struct PartPosterior {
    /// Occurrence logits `[batch, parts, h, w]`.
    pub logits: Tensor<4>,
    /// Occurrence probabilities `[batch, parts, h, w]` (sigmoid, or softmax over parts).
    pub probs: Tensor<4>,
    /// Appearance mean per part `[batch, parts, part_dim]`.
    pub app_mu: Tensor<3>,
    /// Appearance variance per part `[batch, parts, part_dim]`.
    pub app_var: Tensor<3>,
}

/// Σ_l v·w / (Σ_l w + ε), the occurrence-weighted average of per-location values.
/// `values` `[batch, parts, dim, locations]`, `weights` `[batch, parts, locations]` →
/// `[batch, parts, dim]`. `numerator_eps` is the code's ε added to the variance sum.
pub fn weighted_part_average(values: Tensor<4>, weights: Tensor<3>, numerator_eps: f64) -> Tensor<3> {
    const EPS: f64 = 1e-7;
    let weights = weights.unsqueeze_dim::<4>(2); // [b, n, 1, l]
    let denominator = weights.clone().sum_dim(3) + EPS; // [b, n, 1, 1]
    let numerator = (values * weights).sum_dim(3) + numerator_eps;
    (numerator / denominator).squeeze_dim::<3>(3)
}

/// Builds the decoder's input: each part's occurrence map times its appearance vector,
/// concatenated part-major in channels. `occurrence` `[b, n, h, w]`, `appearance`
/// `[b, n, d]` → `[b, n·d, h, w]`.
pub fn patch_code(occurrence: Tensor<4>, appearance: Tensor<3>) -> Tensor<4> {
    let [b, n, h, w] = occurrence.dims();
    let [_, _, d] = appearance.dims();
    let occ = occurrence.reshape([b, n, 1, h * w]);
    let app = appearance.reshape([b, n, d, 1]);
    (occ * app).reshape([b, n * d, h, w])
}

/// A relaxed (Concrete) sample from uniform noise `u` ∈ (0, 1) of the logits' shape:
/// Bernoulli: σ((l + log u − log(1 − u)) / τ); categorical: softmax over parts of
/// (l + Gumbel(u)) / τ; hard: the Bernoulli sample rounded in the forward pass with its
/// relaxed gradient (straight-through).
pub fn sample_occurrence(logits: Tensor<4>, u: Tensor<4>, sampling: OccurrenceSampling, temperature: f64) -> Tensor<4> {
    let u = u.clamp(1e-6, 1.0 - 1e-6);
    match sampling {
        OccurrenceSampling::Bernoulli => relaxed_bernoulli(logits, u, temperature),
        OccurrenceSampling::Hard => {
            let soft = relaxed_bernoulli(logits, u, temperature);
            let hard = soft.clone().greater_elem(0.5).float();
            soft.clone() + (hard - soft).detach()
        }
        OccurrenceSampling::Categorical => {
            let gumbel = u.log().neg().log().neg();
            activation::softmax((logits + gumbel) / temperature, 1)
        }
    }
}

fn relaxed_bernoulli(logits: Tensor<4>, u: Tensor<4>, temperature: f64) -> Tensor<4> {
    let logistic = u.clone().log() - (u.neg() + 1.0).log();
    activation::sigmoid((logits + logistic) / temperature)
}

/// The noise-free occurrence map at temperature τ (what a zero logistic sample gives):
/// σ(l/τ), or softmax(l/τ) over parts, or the rounded map for the hard variant. Used
/// for deterministic reconstructions and for the explorer's swaps.
pub fn occurrence_mode(logits: Tensor<4>, sampling: OccurrenceSampling, temperature: f64) -> Tensor<4> {
    match sampling {
        OccurrenceSampling::Bernoulli => activation::sigmoid(logits / temperature),
        OccurrenceSampling::Hard => logits.greater_elem(0.0).float(),
        OccurrenceSampling::Categorical => activation::softmax(logits / temperature, 1),
    }
}

/// The loss terms of one step.
pub struct PatchVaeLoss {
    pub total: Tensor<1>,
    pub recon: Tensor<1>,
    pub kl_occ: Tensor<1>,
    pub kl_app: Tensor<1>,
    /// GAN variant: the generator's adversarial term and the discriminator's loss.
    pub gan: Option<(Tensor<1>, Tensor<1>)>,
}

/// Mean binary cross-entropy of logits against an all-real (`true`) or all-fake target:
/// softplus(−l) or softplus(l) (the code's `BCEWithLogits(sum)/B` on one logit per image).
fn bce_logits(logits: Tensor<1>, real: bool) -> Tensor<1> {
    let l = if real { logits.neg() } else { logits };
    activation::softplus(l, 1.0).mean()
}

impl PatchVae {
    pub fn grid(&self) -> usize {
        self.image_size / PATCH_SCALE
    }

    pub fn encode(&self, x: Tensor<4>, sampling: OccurrenceSampling) -> PartPosterior {
        let features = self.backbone.forward(x);
        let logits = self.occurrence.forward(features.clone());
        let [b, n, h, w] = logits.dims();
        let probs = match sampling {
            OccurrenceSampling::Categorical => activation::softmax(logits.clone(), 1),
            _ => activation::sigmoid(logits.clone()),
        };
        let d = self.part_dim;
        let mu = self.app_mu.forward(features.clone()).reshape([b, n, d, h * w]);
        let var = self.app_logvar.forward(features).exp().clamp(1e-7, 1e7).reshape([b, n, d, h * w]);
        // The code detaches the weights: the occurrence head learns only from the decoder.
        let weights = probs.clone().detach().reshape([b, n, h * w]);
        let app_mu = weighted_part_average(mu, weights.clone(), 0.0);
        let app_var = weighted_part_average(var, weights, 1e-7);
        PartPosterior { logits, probs, app_mu, app_var }
    }

    /// Decodes a patch code `[b, n·d, h, w]` to an image in [−1, 1].
    pub fn decode(&self, code: Tensor<4>) -> Tensor<4> {
        self.decoder.forward(code)
    }

    /// Decodes occurrence maps `[b, n, h, w]` and appearances `[b, n, d]`.
    pub fn decode_parts(&self, occurrence: Tensor<4>, appearance: Tensor<3>) -> Tensor<4> {
        self.decode(patch_code(occurrence, appearance))
    }

    /// One training step's loss. `occurrence_noise` is uniform in (0, 1) `[b, n, h, w]`,
    /// `appearance_noise` standard normal `[b, n, d]`.
    pub fn loss(&self, x: Tensor<4>, occurrence_noise: Tensor<4>, appearance_noise: Tensor<3>, config: &PatchVaeConfig, step: u64) -> PatchVaeLoss {
        let post = self.encode(x.clone(), config.sampling);
        let z_occ = sample_occurrence(post.logits, occurrence_noise, config.sampling, config.temperature.at(step));
        let z_app = post.app_mu.clone() + post.app_var.clone().sqrt() * appearance_noise;
        let recon_x = self.decode_parts(z_occ, z_app);
        let gan = match (&self.discriminator, &config.gan) {
            (Some(d), Some(_)) => {
                let generator = bce_logits(d.clone().no_grad().forward(recon_x.clone()), true);
                let discriminator = bce_logits(d.forward(x.clone()), true) + bce_logits(d.forward(recon_x.clone().detach()), false);
                Some((generator, discriminator))
            }
            _ => None,
        };
        let recon = if config.weighted_loss {
            edge_weighted_squared_error(recon_x, x, PATCH_SCALE)
        } else {
            sum_squared_error(recon_x, x)
        };
        let prior = config.prior_probability();
        let kl_occ = match config.sampling {
            OccurrenceSampling::Categorical => categorical_kl(post.probs, prior),
            _ => bernoulli_kl(post.probs, prior),
        };
        let [b, n, d] = post.app_mu.dims();
        let kl_app = gaussian_kl(post.app_mu.reshape([b, n * d]), post.app_var.log().reshape([b, n * d]));
        let mut total = recon.clone() + kl_occ.clone() * config.beta_occ + kl_app.clone() * config.beta_app;
        if let (Some((g, d)), Some(settings)) = (&gan, &config.gan) {
            total = total + g.clone() * settings.beta_g + d.clone();
        }
        PatchVaeLoss { total, recon, kl_occ, kl_app, gan }
    }

    /// Deterministic reconstruction at the temperature of `step`: appearance means and
    /// noise-free occurrence maps.
    pub fn reconstruct(&self, x: Tensor<4>, config: &PatchVaeConfig, step: u64) -> Tensor<4> {
        let post = self.encode(x, config.sampling);
        let occ = occurrence_mode(post.logits, config.sampling, config.temperature.at(step));
        self.decode_parts(occ, post.app_mu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::trainable_params;

    #[test]
    fn parameter_counts_match_the_paper_tables() {
        let d = Device::flex();
        let vae = PatchVaeConfig::new().init(&d);
        let encoder = trainable_params(&vae.backbone)
            + trainable_params(&vae.occurrence)
            + trainable_params(&vae.app_mu)
            + trainable_params(&vae.app_logvar);
        assert_eq!(encoder, 922_896);
        assert_eq!(trainable_params(&vae.decoder), 683_904);
    }

    #[test]
    fn the_discriminator_has_four_convs_two_with_batch_norm_and_learns_only_from_its_loss() {
        let d = Device::flex().autodiff();
        let cfg = PatchVaeConfig::new().with_channels(1).with_parts(4).with_part_dim(2).with_gan(Some(GanSettings::default()));
        let vae = crate::nn::init_seeded(&d, 1, |dev| cfg.init(dev));
        let disc = vae.discriminator.as_ref().unwrap();
        assert_eq!(disc.convs.len() + 1, 4);
        assert_eq!(disc.bns.len(), 2);
        // 1·64·16 + 64·128·16 + 128·256·16 + 256 + BN (2·128 + 2·256).
        assert_eq!(trainable_params(disc), 1024 + 131_072 + 524_288 + 256 + 768);
        let x = Tensor::<4>::random([2, 1, 32, 32], burn::tensor::Distribution::Uniform(-1.0, 1.0), &d);
        let u = Tensor::<4>::random([2, 4, 4, 4], burn::tensor::Distribution::Uniform(0.0, 1.0), &d);
        let e = Tensor::<3>::zeros([2, 4, 2], &d);
        let out = vae.loss(x, u, e, &cfg, 0);
        let (g, dl) = out.gan.unwrap();
        // The generator term reaches the decoder but not the discriminator.
        let grads = g.backward();
        assert!(disc.out.weight.val().grad(&grads).is_none());
        assert!(vae.decoder.out.weight.val().grad(&grads).is_some());
        // The discriminator's loss reaches the discriminator but not the decoder.
        let grads = dl.backward();
        assert!(disc.out.weight.val().grad(&grads).is_some());
        assert!(vae.decoder.out.weight.val().grad(&grads).is_none());
    }

    #[test]
    fn shapes_round_trip_at_32_and_64() {
        let d = Device::flex();
        for (size, grid) in [(32, 4), (64, 8)] {
            let cfg = PatchVaeConfig::new().with_image_size(size).with_channels(1).with_parts(5).with_part_dim(3);
            cfg.validate().unwrap();
            let vae = cfg.init(&d);
            let x = Tensor::<4>::zeros([2, 1, size, size], &d);
            let post = vae.encode(x.clone(), cfg.sampling);
            assert_eq!(post.logits.dims(), [2, 5, grid, grid]);
            assert_eq!(post.app_mu.dims(), [2, 5, 3]);
            assert_eq!(vae.reconstruct(x, &cfg, 0).dims(), [2, 1, size, size]);
        }
    }

    #[test]
    fn temperature_schedules() {
        let t = Temperature::default();
        assert_eq!(t.at(0), 1.0);
        assert_eq!(t.at(999), 1.0);
        assert!((t.at(1000) - (-0.03f64).exp()).abs() < 1e-12);
        // After the second update: exp(−3e-5·(1000 + 2000)).
        assert!((t.at(2500) - (-0.09f64).exp()).abs() < 1e-12);
        assert_eq!(t.at(1_000_000), 0.1);
        let e = Temperature { schedule: TemperatureSchedule::Exponential, ..t };
        assert!((e.at(10_000) - (-0.3f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn appearance_average_is_the_occurrence_weighted_mean() {
        // One image, one part, two dims, three locations with weights 0.5, 0.25, 0.
        let d = Device::flex();
        let values = Tensor::<4>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 10.0, 20.0, 30.0], [1, 1, 2, 3]), &d);
        let weights = Tensor::<3>::from_data(TensorData::new(vec![0.5f32, 0.25, 0.0], [1, 1, 3]), &d);
        let avg = weighted_part_average(values, weights, 0.0).into_data().try_to_vec::<f32>().unwrap();
        // (0.5·1 + 0.25·2) / 0.75 = 4/3; (0.5·10 + 0.25·20) / 0.75 = 40/3.
        assert!((avg[0] - 4.0 / 3.0).abs() < 1e-5 && (avg[1] - 40.0 / 3.0).abs() < 1e-4, "{avg:?}");
    }

    #[test]
    fn relaxed_bernoulli_turns_binary_as_temperature_falls() {
        let d = Device::flex();
        let n = 4096;
        let mut rng = crate::train::step_rng(3, 0);
        let logits = Tensor::<4>::from_data(TensorData::new(crate::families::trainable::normal_noise(&mut rng, n), [1, 1, 64, 64]), &d);
        let u = Tensor::<4>::from_data(TensorData::new(crate::families::trainable::uniform_noise(&mut rng, n), [1, 1, 64, 64]), &d);
        let near_binary = |t: f64| {
            let v = sample_occurrence(logits.clone(), u.clone(), OccurrenceSampling::Bernoulli, t).into_data().try_to_vec::<f32>().unwrap();
            v.iter().filter(|&&p| !(0.01..=0.99).contains(&p)).count() as f64 / n as f64
        };
        let (warm, cold) = (near_binary(1.0), near_binary(0.01));
        assert!(warm < 0.2 && cold > 0.97, "near-binary share at τ=1: {warm}, at τ=0.01: {cold}");
        // The hard variant is exactly binary; the categorical one sums to one over parts.
        let hard = sample_occurrence(logits.clone(), u.clone(), OccurrenceSampling::Hard, 1.0).into_data().try_to_vec::<f32>().unwrap();
        assert!(hard.iter().all(|&v| v == 0.0 || v == 1.0));
        let logits = logits.reshape([1, 4, 32, 32]);
        let cat = sample_occurrence(logits, u.reshape([1, 4, 32, 32]), OccurrenceSampling::Categorical, 0.5);
        let sums = cat.sum_dim(1).into_data().try_to_vec::<f32>().unwrap();
        assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-4));
    }
}
