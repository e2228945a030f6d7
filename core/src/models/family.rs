//! What the training runtime needs from a model family, and the tagged config that
//! names the family in checkpoints.

use std::path::Path;
use std::sync::Arc;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::Transaction;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use super::beta_vae::{BetaVae, BetaVaeConfig, BetaVaeHyper};
use super::mixing_scenes::{MixingScenes, MixingScenesConfig};
use super::patch_vae::{OccurrenceSampling, PatchVae, PatchVaeConfig};
use crate::data::{HostImage, SharedSource};
use crate::mixing::neighbours::{NEIGHBOURS_FILE, NeighbourIndex};

/// The model of a run, tagged by family in `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ModelConfig {
    BetaVae(BetaVaeConfig),
    PatchVae(PatchVaeConfig),
    MixingScenes(MixingScenesConfig),
}

/// Code that runs for whichever family a config names: `ModelConfig::visit` calls
/// `visit::<M>()` with that family's model type (closures cannot be generic).
pub trait FamilyVisitor {
    type Output;
    fn visit<M: Trainable>(self) -> Self::Output;
}

impl ModelConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::BetaVae(_) => "beta-vae",
            ModelConfig::PatchVae(_) => "patchvae",
            ModelConfig::MixingScenes(_) => "mixing-scenes",
        }
    }

    /// Runs `visitor` with this config's model type.
    pub fn visit<V: FamilyVisitor>(&self, visitor: V) -> V::Output {
        match self {
            ModelConfig::BetaVae(_) => visitor.visit::<BetaVae>(),
            ModelConfig::PatchVae(_) => visitor.visit::<PatchVae>(),
            ModelConfig::MixingScenes(_) => visitor.visit::<MixingScenes>(),
        }
    }

    pub fn image_size(&self) -> usize {
        match self {
            ModelConfig::BetaVae(c) => c.image_size,
            ModelConfig::PatchVae(c) => c.image_size,
            ModelConfig::MixingScenes(c) => c.image_size,
        }
    }

    pub fn channels(&self) -> usize {
        match self {
            ModelConfig::BetaVae(c) => c.channels,
            ModelConfig::PatchVae(c) => c.channels,
            ModelConfig::MixingScenes(c) => c.channels,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        match self {
            ModelConfig::BetaVae(c) => c.validate(),
            ModelConfig::PatchVae(c) => c.validate(),
            ModelConfig::MixingScenes(c) => c.validate(),
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
            ModelConfig::PatchVae(c) => vec![("beta_occ", c.beta_occ), ("beta_app", c.beta_app)],
            ModelConfig::MixingScenes(c) => vec![("lambda_rec", c.lambda_rec), ("lambda_adv", c.lambda_adv), ("lambda_cls", c.lambda_cls)],
        }
    }

    /// Sets a live hyperparameter by name: one of [`Self::live_hyperparameters`], or for
    /// mixing scenes `rec_warmup`, the warm-up's length in steps (a schedule, not a loss
    /// weight, so it is not logged with every step): set to the step a run has reached, it
    /// ends the warm-up there.
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
            ModelConfig::PatchVae(c) => match name {
                "beta_occ" => c.beta_occ = value,
                "beta_app" => c.beta_app = value,
                _ => return Err(format!("patchvae has no live hyperparameter '{name}'")),
            },
            ModelConfig::MixingScenes(c) => match name {
                "lambda_rec" => c.lambda_rec = value,
                "lambda_adv" => c.lambda_adv = value,
                "lambda_cls" => c.lambda_cls = value,
                "rec_warmup" => {
                    if value.fract() != 0.0 {
                        return Err(format!("rec_warmup is a number of steps, not {value}"));
                    }
                    let changed = MixingScenesConfig { rec_warmup: Some(value as u64), ..c.clone() };
                    changed.validate()?;
                    *c = changed;
                }
                _ => return Err(format!("mixing-scenes has no live hyperparameter '{name}'")),
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

/// What a family computes from its training data before the first step and keeps with
/// its checkpoints (mixing scenes: the per-quadrant neighbour lists).
#[derive(Debug, Clone, Default)]
pub enum Prepared {
    #[default]
    Nothing,
    Neighbours(Arc<NeighbourIndex>),
}

impl Prepared {
    /// Writes what there is into a checkpoint folder being filled.
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        match self {
            Prepared::Nothing => Ok(()),
            Prepared::Neighbours(index) => index.save(dir),
        }
    }

    /// Reads what a checkpoint folder holds (a damaged index file is refused by name).
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        if dir.join(NEIGHBOURS_FILE).is_file() {
            return Ok(Prepared::Neighbours(Arc::new(NeighbourIndex::load(dir)?)));
        }
        Ok(Prepared::Nothing)
    }
}

/// What one training step works on.
pub struct StepInput<'a, C> {
    /// The batch in [−1, 1], on the autodiff device.
    pub x: Tensor<4>,
    /// The batch's image numbers in `source`.
    pub indices: &'a [usize],
    pub config: &'a C,
    pub step: u64,
    /// The run's (generator's) learning rate at this step, its schedule applied.
    pub lr: f64,
    /// The schedule's factor at this step (1 without one), for a family's other optimizers
    /// (mixing scenes' discriminator and classifier).
    pub lr_factor: f64,
    pub rng: &'a mut StdRng,
    pub source: &'a SharedSource,
    pub prepared: &'a Prepared,
}

/// Why a step was not applied.
#[derive(Debug, Clone, PartialEq)]
pub enum StepError {
    /// A loss term was not finite (the run pauses on the last good weights).
    Diverged { term: String, value: f64 },
    /// The step's inputs were unusable (the run stops with this message).
    Failed(String),
}

/// Reads named scalar losses in one transfer; refuses the step at the first non-finite one.
pub fn loss_values(named: Vec<(String, Tensor<1>)>) -> Result<Vec<(String, f64)>, StepError> {
    let mut transaction = Transaction::default();
    for (_, t) in &named {
        transaction = transaction.register(t.clone());
    }
    let values = transaction
        .execute()
        .into_iter()
        .map(|d| d.convert::<f64>().try_to_vec::<f64>().ok().and_then(|v| v.first().copied()).unwrap_or(f64::NAN));
    let terms: Vec<(String, f64)> = named.into_iter().map(|(n, _)| n).zip(values).collect();
    if let Some((term, value)) = terms.iter().find(|(_, v)| !v.is_finite()) {
        return Err(StepError::Diverged { term: term.clone(), value: *value });
    }
    Ok(terms)
}

/// A model family the trainer can run.
pub trait Trainable: Module + std::fmt::Debug + Sized + 'static {
    type Config: Clone;
    fn config_of(model: &ModelConfig) -> Option<&Self::Config>;
    fn build(config: &Self::Config, device: &Device) -> Self;
    /// The training loss for a batch in [−1, 1]; all randomness comes from `rng`.
    fn loss(&self, x: Tensor<4>, config: &Self::Config, step: u64, rng: &mut StdRng) -> StepLoss;
    /// Deterministic reconstruction (posterior means) by the model as trained up to
    /// `step` (annealed settings such as a temperature depend on it), in [−1, 1].
    fn reconstruct(&self, x: Tensor<4>, config: &Self::Config, step: u64) -> Tensor<4>;
    /// Named image grids for the live view (samples from the prior, …).
    fn snapshot_extras(&self, x: Tensor<4>, config: &Self::Config, _step: u64, rng: &mut StdRng) -> Vec<(String, Vec<HostImage>)> {
        let [b, ..] = x.dims();
        vec![("samples".into(), self.sample_prior(config, b, rng, &x.device()))]
    }
    /// `n` images decoded from codes drawn from the prior.
    fn sample_prior(&self, config: &Self::Config, n: usize, rng: &mut StdRng, device: &Device) -> Vec<HostImage>;
    /// The backbone φ shared by the families that have one (for the linear probe).
    fn backbone(&self) -> Option<&super::blocks::Resnet9> {
        None
    }
    /// This model, for the explorer's views (inference only).
    fn explorable(self, config: &Self::Config, prepared: &Prepared) -> crate::analysis::explorable::Family;

    /// Work done once from the training data before training (`resume`: the checkpoint
    /// being continued, which may hold it already). `progress` gets what is being prepared
    /// and the fraction done.
    fn prepare(_config: &Self::Config, _source: &SharedSource, _data: &str, _seed: u64, _resume: Option<&Path>, _progress: &dyn Fn(&str, f32)) -> anyhow::Result<Prepared> {
        Ok(Prepared::Nothing)
    }

    /// One training iteration: updates the model and returns every term by name, "loss"
    /// first. The default is one Adam step on [`Trainable::loss`]; families with several
    /// networks (GANs) override it. Nothing is applied if a term is not finite.
    fn train_step(&mut self, optimizer: &mut ModuleOptimizer, input: StepInput<'_, Self::Config>) -> Result<Vec<(String, f64)>, StepError> {
        let loss = self.loss(input.x, input.config, input.step, input.rng);
        let mut named = vec![("loss".to_string(), loss.total.clone())];
        named.extend(loss.terms.into_iter().map(|(n, t)| (n.to_string(), t)));
        let mut terms = loss_values(named)?;
        terms.extend(loss.host_terms.iter().map(|(n, v)| (n.to_string(), *v)));
        let grads = GradientsParams::from_grads(loss.total.backward(), self);
        *self = optimizer.step(input.lr, self.clone(), grads);
        Ok(terms)
    }
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

/// `n` uniform draws in [0, 1), from the host RNG (see [`normal_noise`]).
pub fn uniform_noise(rng: &mut StdRng, n: usize) -> Vec<f32> {
    use rand::Rng;
    (0..n).map(|_| rng.random::<f32>()).collect()
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
            _ => None,
        }
    }

    fn build(config: &BetaVaeConfig, device: &Device) -> Self {
        config.init(device)
    }

    fn loss(&self, x: Tensor<4>, config: &BetaVaeConfig, step: u64, rng: &mut StdRng) -> StepLoss {
        let [b, ..] = x.dims();
        let device = x.device();
        let eps = Tensor::<2>::from_data(TensorData::new(normal_noise(rng, b * self.latent), [b, self.latent]), &device);
        let hyper = BetaVaeHyper { beta: config.beta, recon: config.recon, capacity: config.capacity, step, weighted: config.weighted_loss };
        let out = self.loss(x, eps, &hyper);
        StepLoss {
            total: out.total,
            terms: vec![("recon", out.recon), ("kl", out.kl)],
            host_terms: out.capacity.map(|c| vec![("capacity", c)]).unwrap_or_default(),
        }
    }

    fn reconstruct(&self, x: Tensor<4>, config: &BetaVaeConfig, _step: u64) -> Tensor<4> {
        let post = self.encode(x);
        BetaVae::to_image(self.decode_logits(post.mu), config.recon)
    }

    fn sample_prior(&self, config: &BetaVaeConfig, n: usize, rng: &mut StdRng, device: &Device) -> Vec<HostImage> {
        let z = Tensor::<2>::from_data(TensorData::new(normal_noise(rng, n * self.latent), [n, self.latent]), device);
        to_host_images(BetaVae::to_image(self.decode_logits(z), config.recon))
    }

    fn backbone(&self) -> Option<&super::blocks::Resnet9> {
        self.resnet_backbone()
    }

    fn explorable(self, config: &BetaVaeConfig, _prepared: &Prepared) -> crate::analysis::explorable::Family {
        crate::analysis::explorable::Family::BetaVae { model: self, config: config.clone() }
    }
}

impl Trainable for PatchVae {
    type Config = PatchVaeConfig;

    fn config_of(model: &ModelConfig) -> Option<&PatchVaeConfig> {
        match model {
            ModelConfig::PatchVae(c) => Some(c),
            _ => None,
        }
    }

    fn build(config: &PatchVaeConfig, device: &Device) -> Self {
        config.init(device)
    }

    fn loss(&self, x: Tensor<4>, config: &PatchVaeConfig, step: u64, rng: &mut StdRng) -> StepLoss {
        let [b, ..] = x.dims();
        let device = x.device();
        let (n, d, g) = (self.parts, self.part_dim, self.grid());
        let u = Tensor::<4>::from_data(TensorData::new(uniform_noise(rng, b * n * g * g), [b, n, g, g]), &device);
        let eps = Tensor::<3>::from_data(TensorData::new(normal_noise(rng, b * n * d), [b, n, d]), &device);
        let out = PatchVae::loss(self, x, u, eps, config, step);
        let mut terms = vec![("recon", out.recon), ("kl_occ", out.kl_occ), ("kl_app", out.kl_app)];
        if let Some((generator, discriminator)) = out.gan {
            terms.extend([("gan_g", generator), ("gan_d", discriminator)]);
        }
        StepLoss { total: out.total, terms, host_terms: vec![("temperature", config.temperature.at(step))] }
    }

    fn reconstruct(&self, x: Tensor<4>, config: &PatchVaeConfig, step: u64) -> Tensor<4> {
        PatchVae::reconstruct(self, x, config, step)
    }

    /// Samples from the prior as the official code draws them: binary occurrence maps
    /// with the prior probability, standard normal appearances.
    fn sample_prior(&self, config: &PatchVaeConfig, b: usize, rng: &mut StdRng, device: &Device) -> Vec<HostImage> {
        let (n, d, g) = (self.parts, self.part_dim, self.grid());
        let prior = config.prior_probability() as f32;
        let occ: Vec<f32> = match config.sampling {
            OccurrenceSampling::Categorical => {
                // One part per location, uniformly.
                let mut v = vec![0.0; b * n * g * g];
                let picks = uniform_noise(rng, b * g * g);
                for (cell, p) in picks.into_iter().enumerate() {
                    let (img, loc) = (cell / (g * g), cell % (g * g));
                    let part = ((p * n as f32) as usize).min(n - 1);
                    v[(img * n + part) * g * g + loc] = 1.0;
                }
                v
            }
            _ => uniform_noise(rng, b * n * g * g).into_iter().map(|u| if u < prior { 1.0 } else { 0.0 }).collect(),
        };
        let occ = Tensor::<4>::from_data(TensorData::new(occ, [b, n, g, g]), device);
        let app = Tensor::<3>::from_data(TensorData::new(normal_noise(rng, b * n * d), [b, n, d]), device);
        to_host_images(self.decode_parts(occ, app))
    }

    fn backbone(&self) -> Option<&super::blocks::Resnet9> {
        Some(&self.backbone)
    }

    fn explorable(self, config: &PatchVaeConfig, _prepared: &Prepared) -> crate::analysis::explorable::Family {
        crate::analysis::explorable::Family::PatchVae { model: self, config: config.clone() }
    }
}
