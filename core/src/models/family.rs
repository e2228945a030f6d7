//! What the training runtime needs from a model family, and the tagged config that
//! names the family in checkpoints.

use burn::module::Module;
use burn::prelude::*;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use super::beta_vae::{BetaVae, BetaVaeConfig, BetaVaeHyper};
use crate::data::HostImage;

/// The model of a run, tagged by family in `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ModelConfig {
    BetaVae(BetaVaeConfig),
}

impl ModelConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::BetaVae(_) => "beta-vae",
        }
    }

    pub fn image_size(&self) -> usize {
        match self {
            ModelConfig::BetaVae(c) => c.image_size,
        }
    }

    pub fn channels(&self) -> usize {
        match self {
            ModelConfig::BetaVae(c) => c.channels,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        match self {
            ModelConfig::BetaVae(c) => c.validate(),
        }
    }

    /// The hyperparameters that may change while a run goes on, with their values.
    pub fn live_hyperparameters(&self) -> Vec<(&'static str, f64)> {
        match self {
            ModelConfig::BetaVae(c) => {
                let mut v = vec![("beta", c.beta)];
                if let Some(cap) = c.capacity {
                    v.extend([("gamma", cap.gamma), ("c_max", cap.c_max)]);
                }
                v
            }
        }
    }

    /// Sets a live hyperparameter by name.
    pub fn set_hyperparameter(&mut self, name: &str, value: f64) -> Result<(), String> {
        if !value.is_finite() || value < 0.0 {
            return Err(format!("{name} must be a finite number ≥ 0"));
        }
        match self {
            ModelConfig::BetaVae(c) => match (name, c.capacity.as_mut()) {
                ("beta", _) => c.beta = value,
                ("gamma", Some(cap)) => cap.gamma = value,
                ("c_max", Some(cap)) => cap.c_max = value,
                _ => return Err(format!("beta-vae has no live hyperparameter '{name}'")),
            },
        }
        Ok(())
    }
}

/// One step's loss: the total to minimise and every term by name.
pub struct StepLoss {
    pub total: Tensor<1>,
    pub terms: Vec<(&'static str, Tensor<1>)>,
    /// Scalars known on the host (annealed constants such as the capacity C).
    pub host_terms: Vec<(&'static str, f64)>,
}

/// A model family the trainer can run.
pub trait Trainable: Module + std::fmt::Debug + Sized + 'static {
    type Config: Clone;
    fn config_of(model: &ModelConfig) -> Option<&Self::Config>;
    fn build(config: &Self::Config, device: &Device) -> Self;
    /// The training loss for a batch in [−1, 1]; all randomness comes from `rng`.
    fn loss(&self, x: Tensor<4>, config: &Self::Config, step: u64, rng: &mut StdRng) -> StepLoss;
    /// Deterministic reconstruction (posterior means), in [−1, 1].
    fn reconstruct(&self, x: Tensor<4>, config: &Self::Config) -> Tensor<4>;
    /// Named image grids for the live view (samples from the prior, …).
    fn snapshot_extras(&self, x: Tensor<4>, config: &Self::Config, rng: &mut StdRng) -> Vec<(String, Vec<HostImage>)>;
}

/// `n` standard normal draws (Box–Muller), from the host RNG so runs are reproducible
/// and resumable at any step on any backend.
pub fn normal_noise(rng: &mut StdRng, n: usize) -> Vec<f32> {
    use rand::Rng;
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        let u2: f64 = rng.random();
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f64::consts::TAU * u2;
        out.push((r * t.cos()) as f32);
        out.push((r * t.sin()) as f32);
    }
    out.truncate(n);
    out
}

/// Converts a `[batch, channels, h, w]` tensor in [−1, 1] to host images.
pub fn to_host_images(x: Tensor<4>) -> Vec<HostImage> {
    let [b, c, h, w] = x.dims();
    let values: Vec<f32> = x.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
    (0..b).map(|i| HostImage::from_chw_signed(&values[i * c * h * w..(i + 1) * c * h * w], c, h, w)).collect()
}

impl Trainable for BetaVae {
    type Config = BetaVaeConfig;

    fn config_of(model: &ModelConfig) -> Option<&BetaVaeConfig> {
        match model {
            ModelConfig::BetaVae(c) => Some(c),
        }
    }

    fn build(config: &BetaVaeConfig, device: &Device) -> Self {
        config.init(device)
    }

    fn loss(&self, x: Tensor<4>, config: &BetaVaeConfig, step: u64, rng: &mut StdRng) -> StepLoss {
        let [b, ..] = x.dims();
        let device = x.device();
        let eps = Tensor::<2>::from_data(TensorData::new(normal_noise(rng, b * self.latent), [b, self.latent]), &device);
        let hyper = BetaVaeHyper { beta: config.beta, recon: config.recon, capacity: config.capacity, step };
        let out = self.loss(x, eps, &hyper);
        StepLoss {
            total: out.total,
            terms: vec![("recon", out.recon), ("kl", out.kl)],
            host_terms: out.capacity.map(|c| vec![("capacity", c)]).unwrap_or_default(),
        }
    }

    fn reconstruct(&self, x: Tensor<4>, config: &BetaVaeConfig) -> Tensor<4> {
        let post = self.encode(x);
        BetaVae::to_image(self.decode_logits(post.mu), config.recon)
    }

    fn snapshot_extras(&self, x: Tensor<4>, config: &BetaVaeConfig, rng: &mut StdRng) -> Vec<(String, Vec<HostImage>)> {
        let [b, ..] = x.dims();
        let z = Tensor::<2>::from_data(TensorData::new(normal_noise(rng, b * self.latent), [b, self.latent]), &x.device());
        vec![("samples".into(), to_host_images(BetaVae::to_image(self.decode_logits(z), config.recon)))]
    }
}
