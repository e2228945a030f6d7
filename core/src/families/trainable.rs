//! What the training runtime needs from a model family: [`Trainable`], one training step's
//! inputs and outputs, and the noise every family draws from the host RNG.

use std::path::Path;
use std::sync::Arc;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::Transaction;
use crate::rng::SeededRng;

use crate::capabilities::Explorable;
use crate::data::{HostImage, SharedSource};
use crate::train::StepReport;

use super::{FamilyConfig, MemberOf, ModelConfig};

/// Code that runs for whichever family a config names: `FamilyKind::visit` calls
/// `visit::<M>()` with that family's model type (closures cannot be generic).
pub trait FamilyVisitor {
    type Output;
    fn visit<M: Trainable>(self) -> Self::Output;
}

/// One step's loss: the total to minimise and every term by name.
pub struct StepLoss {
    pub total: Tensor<1>,
    pub terms: Vec<(&'static str, Tensor<1>)>,
    /// Annealed values the step ran with, known on the host (the capacity C, the
    /// temperature): reported as schedules, not losses.
    pub schedules: Vec<(&'static str, f64)>,
}

/// What a family computes from its training data before the first step and keeps with
/// its checkpoints (mixing scenes: the per-quadrant neighbour lists); `()` for none.
pub trait Preparation: Clone + Default + Send + Sync + 'static {
    /// Writes what there is into a checkpoint folder being filled.
    fn save(&self, dir: &Path) -> anyhow::Result<()>;
    /// Reads what a checkpoint folder holds (a damaged file is refused by name); the
    /// default where the folder has none.
    fn load(dir: &Path) -> anyhow::Result<Self>;
}

impl Preparation for () {
    fn save(&self, _dir: &Path) -> anyhow::Result<()> {
        Ok(())
    }
    fn load(_dir: &Path) -> anyhow::Result<Self> {
        Ok(())
    }
}

/// What one training step works on.
pub struct StepInput<'a, C, P> {
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
    pub rng: &'a mut SeededRng,
    pub source: &'a SharedSource,
    pub prepared: &'a P,
    /// Every update of the step goes through it: gradients that are not finite are refused.
    pub guard: crate::train::UpdateGuard,
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
    type Config: FamilyConfig + MemberOf;
    /// What it prepares from its data before training (see [`Preparation`]).
    type Prepared: Preparation;

    fn config_of(model: &ModelConfig) -> Option<&Self::Config> {
        Self::Config::of(model)
    }
    fn build(config: &Self::Config, device: &Device) -> Self;
    /// The training loss for a batch in [−1, 1]; all randomness comes from `rng`.
    fn loss(&self, x: Tensor<4>, config: &Self::Config, step: u64, rng: &mut SeededRng) -> StepLoss;
    /// Deterministic reconstruction (posterior means) by the model as trained up to
    /// `step` (annealed settings such as a temperature depend on it), in [−1, 1].
    fn reconstruct(&self, x: Tensor<4>, config: &Self::Config, step: u64) -> Tensor<4>;
    /// Named image grids for the live view (samples from the prior, …).
    fn snapshot_extras(&self, x: Tensor<4>, config: &Self::Config, _step: u64, rng: &mut SeededRng) -> Vec<(String, Vec<HostImage>)> {
        let [b, ..] = x.dims();
        vec![("samples".into(), self.sample_prior(config, b, rng, &x.device()))]
    }
    /// `n` images decoded from codes drawn from the prior.
    fn sample_prior(&self, config: &Self::Config, n: usize, rng: &mut SeededRng, device: &Device) -> Vec<HostImage>;
    /// The backbone φ shared by the families that have one (for the linear probe).
    fn backbone(&self) -> Option<&crate::nn::blocks::Resnet9> {
        None
    }
    /// This model, for the explorer's views (inference only).
    fn explorable(self, config: &Self::Config, prepared: &Self::Prepared) -> Arc<dyn Explorable>;

    /// The images it trains on out of the data (cycle VAE: without its held-out classes);
    /// the data itself by default.
    fn training_source(_config: &Self::Config, source: SharedSource) -> anyhow::Result<SharedSource> {
        Ok(source)
    }

    /// Work done once from the training data before training (`resume`: the checkpoint
    /// being continued, which may hold it already). `progress` gets what is being prepared
    /// and the fraction done.
    fn prepare(_config: &Self::Config, _source: &SharedSource, _data: &str, _seed: u64, _resume: Option<&Path>, _progress: &dyn Fn(&str, f32)) -> anyhow::Result<Self::Prepared> {
        Ok(Self::Prepared::default())
    }

    /// One training iteration: updates the model and reports its losses by name, "loss"
    /// first, with the schedules it ran with. The default is one Adam step on
    /// [`Trainable::loss`]; families with several networks (GANs) override it. Nothing is
    /// applied if a loss is not finite.
    fn train_step(&mut self, optimizer: &mut ModuleOptimizer, input: StepInput<'_, Self::Config, Self::Prepared>) -> Result<StepReport, StepError> {
        let loss = self.loss(input.x, input.config, input.step, input.rng);
        let mut named = vec![("loss".to_string(), loss.total.clone())];
        named.extend(loss.terms.into_iter().map(|(n, t)| (n.to_string(), t)));
        let losses = loss_values(named)?;
        let schedules = loss.schedules.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        let grads = GradientsParams::from_grads(loss.total.backward(), self);
        *self = input.guard.step(optimizer, input.lr, self.clone(), grads)?;
        Ok(StepReport { losses, schedules, measures: vec![] })
    }
}

/// `n` standard normal draws (Box–Muller), from the host RNG so runs are reproducible
/// and resumable at any step on any backend.
pub fn normal_noise(rng: &mut SeededRng, n: usize) -> Vec<f32> {
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

/// `[b, d]` standard normal noise on `device`, from the host RNG (see [`normal_noise`]).
pub fn normal_tensor(rng: &mut SeededRng, b: usize, d: usize, device: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(normal_noise(rng, b * d), [b, d]), device)
}

/// `v` cut, or padded with zeros, to `d` values: a code of another size decodes as the
/// model's own.
pub fn padded(v: &[f32], d: usize) -> impl Iterator<Item = f32> + '_ {
    v.iter().copied().chain(std::iter::repeat(0.0)).take(d)
}

/// The rows of a `[b, d]` tensor on the host.
pub fn host_rows(t: Tensor<2>) -> Vec<Vec<f32>> {
    let [b, d] = t.dims();
    let values: Vec<f32> = t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
    (0..b).map(|i| values.get(i * d..(i + 1) * d).map(<[f32]>::to_vec).unwrap_or_default()).collect()
}

/// `n` uniform draws in [0, 1), from the host RNG (see [`normal_noise`]).
pub fn uniform_noise(rng: &mut SeededRng, n: usize) -> Vec<f32> {
    use rand::Rng;
    (0..n).map(|_| rng.random::<f32>()).collect()
}

/// Converts a `[batch, channels, h, w]` tensor in [−1, 1] to host images.
pub fn to_host_images(x: Tensor<4>) -> Vec<HostImage> {
    let [b, c, h, w] = x.dims();
    let values: Vec<f32> = x.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
    (0..b).map(|i| HostImage::from_chw_signed(&values[i * c * h * w..(i + 1) * c * h * w], c, h, w)).collect()
}


/// The methods of [`crate::capabilities::Explorable`] that every family's explored model
/// (a struct with its trained `model` and its `config`) answers the same way: size and
/// channels from the config, the device the weights are on, and the family's
/// deterministic reconstruction. Used inside each family's `impl Explorable`.
macro_rules! explorable_from_trainable {
    () => {
        fn image_size(&self) -> usize {
            $crate::families::FamilyConfig::image_size(&self.config)
        }
        fn channels(&self) -> usize {
            $crate::families::FamilyConfig::channels(&self.config)
        }
        fn device(&self) -> burn::prelude::Device {
            burn::module::Module::devices(&self.model).into_iter().next().unwrap_or_else(burn::prelude::Device::flex)
        }
        fn reconstruct(&self, x: burn::prelude::Tensor<4>, step: u64) -> burn::prelude::Tensor<4> {
            $crate::families::Trainable::reconstruct(&self.model, x, &self.config, step)
        }
    };
}
pub(crate) use explorable_from_trainable;
