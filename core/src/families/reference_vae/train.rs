//! How the reference-based VAE trains (Eq. 3; Eqs. 8–10 with Algorithm 1; the baselines)
//! and what the explorer can ask of it.
//!
//! The runner's batches come from the unlabelled pool; each step draws as many reference
//! images (or, with `pool_batch = total`, splits the batch in two) from the reference pool,
//! which `prepare` opens from the run's data. Noise comes from the host RNG, so runs are
//! reproducible and resumable on any backend.
//!
//! sRb-VAE runs Algorithm 1's simultaneous update: one backward pass of Eq. 8 + Eq. 10
//! whose gradients are applied to E, Z and G (with e_r) only; then the discriminators'
//! logistic regression (real image with its encoded latents = 1, generated image with its
//! prior latents = 0) on detached inputs, applied to d and d′ only.

use std::sync::Arc;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;
use rand::Rng;
use crate::rng::SeededRng;

use super::{Gaussian, Objective, PoolBatch, ReferenceVae, ReferenceVaeConfig, dip_i, gaussian_nll, laplace_nll};
use crate::capabilities::{Explorable, FactorSplit, LatentCode, LatentSpace, PriorSampler, SplitCode, SplitNames};
use crate::data::loader::assemble;
use crate::data::pools::{PoolIndices, is_two_pool};
use crate::data::{DataSpec, HostImage, SharedSource, Split, Subset};
use crate::families::trainable::{Preparation, StepError, StepInput, StepLoss, Trainable, explorable_from_trainable, loss_values, normal_tensor, host_rows, padded, to_host_images};
use crate::nn::losses::{gaussian_kl, reparameterize};
use crate::train::{StepReport, UpdateGuard};

/// The reference pool a run draws from (opened from its data before the first step; never
/// saved: it is the data's).
#[derive(Clone, Default)]
pub struct ReferencePool(pub Option<SharedSource>);

impl std::fmt::Debug for ReferencePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReferencePool({:?} images)", self.0.as_ref().map(|s| s.len()))
    }
}

impl Preparation for ReferencePool {
    fn save(&self, _dir: &std::path::Path) -> anyhow::Result<()> {
        Ok(())
    }
    fn load(_dir: &std::path::Path) -> anyhow::Result<Self> {
        Ok(Self::default())
    }
}


fn sample(q: &Gaussian, rng: &mut SeededRng) -> Tensor<2> {
    let [b, d] = q.mu.dims();
    reparameterize(q.mu.clone(), q.logvar.clone(), normal_tensor(rng, b, d, &q.mu.device()))
}

/// −E log σ(logit) for label 1, −E log(1 − σ(logit)) for label 0.
fn logistic_loss(logits: Tensor<1>, label: bool) -> Tensor<1> {
    let signed = if label { logits } else { logits.neg() };
    log_sigmoid(signed).mean().neg()
}

/// A discriminator's logistic regression, Algorithm 1's convention: real images with their
/// encoded latents are labelled 1, generated images with their prior latents 0.
fn discriminator_loss(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    logistic_loss(real, true) + logistic_loss(fake, false)
}

/// The share of logits on the side of their label.
fn accuracy(real: Tensor<1>, fake: Tensor<1>) -> Tensor<1> {
    (real.greater_elem(0.0).float().mean() + fake.lower_elem(0.0).float().mean()).div_scalar(2.0)
}

/// How much G's output moves when e is redrawn with z fixed, mean |Δ| on the [0, 1] scale:
/// near 0 is the degenerate solution in which G ignores e.
fn e_effect(model: &ReferenceVae, z: Tensor<2>, decoded: Tensor<4>, rng: &mut SeededRng) -> Tensor<1> {
    let [b, _] = z.dims();
    let redrawn = model.decode(z.detach(), normal_tensor(rng, b, model.target_dim, &decoded.device()));
    (redrawn.detach() - decoded.detach()).abs().mean().div_scalar(2.0)
}

/// Terms and measures of one step, before they are read.
#[derive(Default)]
struct Terms {
    losses: Vec<(String, Tensor<1>)>,
    measures: Vec<(String, Tensor<1>)>,
}

impl Terms {
    fn loss(&mut self, name: &str, t: Tensor<1>) -> Tensor<1> {
        self.losses.push((name.to_string(), t.clone()));
        t
    }
    fn measure(&mut self, name: &str, t: Tensor<1>) {
        self.measures.push((name.to_string(), t));
    }
    /// Reads everything in one transfer; refuses the step at a non-finite loss.
    fn read(self, total: Tensor<1>) -> Result<StepReport, StepError> {
        let mut named = vec![("loss".to_string(), total)];
        let losses = self.losses.len() + 1;
        named.extend(self.losses);
        named.extend(self.measures);
        let mut values = loss_values(named)?;
        let measures = values.split_off(losses);
        Ok(StepReport { losses: values, schedules: vec![], measures })
    }
}

/// How a step's updates are applied: its optimizer and learning rate, each update through
/// the guard.
struct Updates<'a> {
    optimizer: &'a mut ModuleOptimizer,
    guard: UpdateGuard,
    lr: f64,
}

impl Updates<'_> {
    fn apply<M: burn::module::Module>(&mut self, module: M, grads: GradientsParams) -> Result<M, StepError> {
        self.guard.step(self.optimizer, self.lr, module, grads)
    }
}

impl ReferenceVae {
    /// The baselines' loss on the unlabelled pool: ℓ1/b + β·KL (+ DIP-VAE-I's regulariser),
    /// z ⊕ e one code.
    fn baseline_loss(&self, x: Tensor<4>, config: &ReferenceVaeConfig, rng: &mut SeededRng, terms: &mut Terms) -> Tensor<1> {
        let (qz, qe) = self.encode(x.clone());
        let decoded = self.decode(sample(&qz, rng), sample(&qe, rng));
        let recon = terms.loss("recon_unlabelled", laplace_nll(decoded, x, config.laplace_b, config.pixel_reduction));
        let kl = terms.loss("kl", gaussian_kl(qz.mu.clone(), qz.logvar.clone()) + gaussian_kl(qe.mu.clone(), qe.logvar.clone()));
        let beta = if config.objective == Objective::BetaVae { config.beta } else { 1.0 };
        let mut total = recon + kl.mul_scalar(beta);
        if config.objective == Objective::DipVaeI {
            total = total + terms.loss("dip", dip_i(Tensor::cat(vec![qz.mu, qe.mu], 1), config.dip_lambda));
        }
        total
    }

    /// Eq. 3: both pools' ℓ1/b, KL on z for both, KL on e for the unlabelled pool; the
    /// references decoded with e_r.
    fn rb_loss(&self, x_u: Tensor<4>, x_r: Tensor<4>, config: &ReferenceVaeConfig, rng: &mut SeededRng, terms: &mut Terms) -> Tensor<1> {
        let [m, ..] = x_r.dims();
        let (qz_u, qe_u) = self.encode(x_u.clone());
        let qz_r = self.common.forward(x_r.clone());
        let z_u = sample(&qz_u, rng);
        let decoded_u = self.decode(z_u.clone(), sample(&qe_u, rng));
        let decoded_r = self.decode(sample(&qz_r, rng), self.generator.reference_codes(m));
        let effect = e_effect(self, z_u, decoded_u.clone(), rng);
        terms.measure("e_effect", effect);
        let (b, reduction) = (config.laplace_b, config.pixel_reduction);
        let recon_u = terms.loss("recon_unlabelled", laplace_nll(decoded_u, x_u, b, reduction));
        let recon_r = terms.loss("recon_reference", laplace_nll(decoded_r, x_r, b, reduction));
        let kl_z = terms.loss("kl_z", gaussian_kl(qz_u.mu, qz_u.logvar) + gaussian_kl(qz_r.mu, qz_r.logvar));
        let kl_e = terms.loss("kl_e", gaussian_kl(qe_u.mu, qe_u.logvar));
        recon_u + recon_r + kl_z + kl_e
    }

    /// One Adam step of every network on `total` (the baselines, Rb-VAE), its terms read first.
    fn step_on(&mut self, mut updates: Updates<'_>, total: Tensor<1>, terms: Terms) -> Result<StepReport, StepError> {
        let report = terms.read(total.clone())?;
        let grads = GradientsParams::from_grads(total.backward(), self);
        *self = updates.apply(self.clone(), grads)?;
        Ok(report)
    }

    /// One sRb-VAE step (Algorithm 1 with Eq. 10's terms).
    fn srb_step(&mut self, mut updates: Updates<'_>, x_u: Tensor<4>, x_r: Tensor<4>, config: &ReferenceVaeConfig, rng: &mut SeededRng) -> Result<StepReport, StepError> {
        let (Some(d), Some(d_ref)) = (&self.d, &self.d_reference) else {
            return Err(StepError::Failed("this sRb-VAE has no discriminators (its weights were trained with another objective)".into()));
        };
        let [m, ..] = x_u.dims();
        let [m_r, ..] = x_r.dims();
        let device = x_u.device();
        let mut terms = Terms::default();
        // Encoder side: real images with their encoded latents.
        let (qz_u, qe_u) = self.encode(x_u.clone());
        let qz_r = self.common.forward(x_r.clone());
        let (z_u, e_u, z_r) = (sample(&qz_u, rng), sample(&qe_u, rng), sample(&qz_r, rng));
        // Generator side: prior latents with their generated images.
        let (z_p, e_p, z_pr) = (normal_tensor(rng, m, self.common_dim, &device), normal_tensor(rng, m, self.target_dim, &device), normal_tensor(rng, m_r, self.common_dim, &device));
        let e_r = self.generator.reference_codes(m_r);
        let x_p = self.decode(z_p.clone(), e_p.clone());
        let x_pr = self.decode(z_pr.clone(), e_r.clone());
        // Eq. 8.
        let real = d.forward(x_u.clone(), z_u.clone(), Some(e_u.clone()), Some(&mut *rng));
        let fake = d.forward(x_p.clone(), z_p.clone(), Some(e_p.clone()), Some(&mut *rng));
        let real_r = d_ref.forward(x_r.clone(), z_r.clone(), None, Some(&mut *rng));
        let fake_r = d_ref.forward(x_pr.clone(), z_pr.clone(), None, Some(&mut *rng));
        let adversarial = real.mean() - fake.mean() + real_r.mean() - fake_r.mean();
        let mut total = terms.loss("adversarial", adversarial);
        // Eq. 10.
        let w = config.reconstruction_weight;
        let decoded_u = self.decode(z_u.clone(), e_u.clone());
        if config.image_terms {
            let (b, reduction) = (config.laplace_b, config.pixel_reduction);
            let recon_u = terms.loss("recon_unlabelled", laplace_nll(decoded_u.clone(), x_u.clone(), b, reduction));
            let recon_r = terms.loss("recon_reference", laplace_nll(self.decode(z_r.clone(), e_r), x_r.clone(), b, reduction));
            total = total + (recon_u + recon_r).mul_scalar(w);
        }
        if config.latent_terms {
            let (qz_p, qe_p) = self.encode(x_p.clone());
            let latent_u = terms.loss("latent_unlabelled", gaussian_nll(z_p.clone(), &qz_p) + gaussian_nll(e_p.clone(), &qe_p));
            let latent_r = terms.loss("latent_reference", gaussian_nll(z_pr.clone(), &self.common.forward(x_pr.clone())));
            total = total + (latent_u + latent_r).mul_scalar(w);
        }
        terms.measure("e_effect", e_effect(self, z_u.clone(), decoded_u, rng));
        // The discriminators on the same samples, detached: logistic regression.
        let (real, fake) = (d.forward(x_u, z_u.detach(), Some(e_u.detach()), Some(&mut *rng)), d.forward(x_p.detach(), z_p, Some(e_p), Some(&mut *rng)));
        let (real_r, fake_r) = (d_ref.forward(x_r, z_r.detach(), None, Some(&mut *rng)), d_ref.forward(x_pr.detach(), z_pr, None, Some(&mut *rng)));
        terms.measure("d_accuracy", accuracy(real.clone().detach(), fake.clone().detach()));
        terms.measure("d_reference_accuracy", accuracy(real_r.clone().detach(), fake_r.clone().detach()));
        let d_loss = discriminator_loss(real, fake) + discriminator_loss(real_r, fake_r);
        let d_loss = terms.loss("discriminators", d_loss);
        let report = terms.read(total.clone())?;
        let mut grads = total.backward();
        let parts = [GradientsParams::from_module(&mut grads, &self.target), GradientsParams::from_module(&mut grads, &self.common), GradientsParams::from_module(&mut grads, &self.generator)];
        let mut d_grads = d_loss.backward();
        let d_parts = [GradientsParams::from_module(&mut d_grads, d), GradientsParams::from_module(&mut d_grads, d_ref)];
        for part in parts.into_iter().chain(d_parts) {
            *self = updates.apply(self.clone(), part)?;
        }
        Ok(report)
    }
}

impl Trainable for ReferenceVae {
    type Config = ReferenceVaeConfig;
    type Prepared = ReferencePool;

    fn build(config: &ReferenceVaeConfig, device: &Device) -> Self {
        config.init(device)
    }

    /// The ELBO of a batch taken as unlabelled (ℓ1/b + KL on z and e), for code that wants
    /// one number; training goes through [`Trainable::train_step`].
    fn loss(&self, x: Tensor<4>, config: &ReferenceVaeConfig, _step: u64, rng: &mut SeededRng) -> StepLoss {
        let mut terms = Terms::default();
        let total = self.baseline_loss(x, &config.clone().with_objective(Objective::Vae), rng, &mut terms);
        StepLoss { total, terms: vec![], schedules: vec![] }
    }

    fn reconstruct(&self, x: Tensor<4>, _config: &ReferenceVaeConfig, _step: u64) -> Tensor<4> {
        ReferenceVae::reconstruct(self, x)
    }

    /// Samples from the prior and, for the two-pool objectives, the batch in the reference
    /// style G(μ_z, e_r).
    fn snapshot_extras(&self, x: Tensor<4>, config: &ReferenceVaeConfig, _step: u64, rng: &mut SeededRng) -> Vec<(String, Vec<HostImage>)> {
        let [b, ..] = x.dims();
        let mut extras = vec![("samples".to_string(), self.sample_prior(config, b, rng, &x.device()))];
        if config.objective.uses_reference() {
            extras.push(("in the reference style: G(z, e_r)".to_string(), to_host_images(self.reference_decode(x))));
        }
        extras
    }

    fn sample_prior(&self, _config: &ReferenceVaeConfig, n: usize, rng: &mut SeededRng, device: &Device) -> Vec<HostImage> {
        if n == 0 {
            return vec![];
        }
        to_host_images(self.decode(normal_tensor(rng, n, self.common_dim, device), normal_tensor(rng, n, self.target_dim, device)))
    }

    fn explorable(self, config: &ReferenceVaeConfig, _prepared: &ReferencePool) -> Arc<dyn Explorable> {
        Arc::new(Explored::new(self, config.clone()))
    }

    /// The unlabelled pool (the baselines train on any data, all of it unlabelled).
    fn training_source(config: &ReferenceVaeConfig, source: SharedSource) -> anyhow::Result<SharedSource> {
        if !is_two_pool(source.info()) {
            if config.objective.uses_reference() {
                anyhow::bail!(
                    "{}: the reference-based VAE trains on two pools, an unlabelled one and a reference one; use --data reference-style (the reference-style MNIST) or pools:REFERENCE|UNLABELLED (two sources, such as two image folders), or a baseline objective (vae, beta-vae, dip-vae-i)",
                    source.info().name
                );
            }
            return Ok(source);
        }
        let pools = PoolIndices::of(source.as_ref());
        if pools.unlabelled.is_empty() || (config.objective.uses_reference() && pools.reference.is_empty()) {
            anyhow::bail!("{}: {} unlabelled and {} reference images; both pools need images", source.info().name, pools.unlabelled.len(), pools.reference.len());
        }
        Ok(Arc::new(Subset::new(source, pools.unlabelled, "unlabelled pool")))
    }

    /// Opens the reference pool of the run's data. Images that come without a data spec
    /// (`patchwork bench`'s noise) serve as both pools.
    fn prepare(config: &ReferenceVaeConfig, source: &SharedSource, data: &str, _seed: u64, _resume: Option<&std::path::Path>, progress: &dyn Fn(&str, f32)) -> anyhow::Result<ReferencePool> {
        if !config.objective.uses_reference() {
            return Ok(ReferencePool(None));
        }
        let Ok(spec) = data.parse::<DataSpec>() else { return Ok(ReferencePool(Some(source.clone()))) };
        progress("reference pool", 0.0);
        let all = spec.open(Split::Train, config.image_size)?;
        let pools = PoolIndices::of(all.as_ref());
        if pools.reference.is_empty() {
            anyhow::bail!("{data}: the reference pool holds no image");
        }
        progress("reference pool", 1.0);
        Ok(ReferencePool(Some(Arc::new(Subset::new(all, pools.reference, "reference pool")))))
    }

    fn train_step(&mut self, optimizer: &mut ModuleOptimizer, input: StepInput<'_, ReferenceVaeConfig, ReferencePool>) -> Result<StepReport, StepError> {
        let config = input.config;
        let x = input.x;
        let [b, c, h, w] = x.dims();
        let device = x.device();
        let m = match config.pool_batch {
            PoolBatch::PerPool => b,
            PoolBatch::Total => (b / 2).max(1),
        };
        let x_u = if m < b { x.slice(0..m) } else { x };
        let (rng, guard) = (input.rng, input.guard);
        if !config.objective.uses_reference() {
            let mut terms = Terms::default();
            let total = self.baseline_loss(x_u, config, rng, &mut terms);
            return self.step_on(Updates { optimizer, guard, lr: input.lr }, total, terms);
        }
        let Some(pool) = input.prepared.0.as_ref().filter(|p| !p.is_empty()) else {
            return Err(StepError::Failed("the reference-based VAE draws from a reference pool, and none was prepared".into()));
        };
        let picks: Vec<usize> = (0..m).map(|_| rng.random_range(0..pool.len())).collect();
        let x_r = Tensor::<4>::from_data(TensorData::new(assemble(pool, &picks, h, c).0, [m, c, h, w]), &device);
        match config.objective {
            Objective::SrbVae => self.srb_step(Updates { optimizer, guard, lr: input.lr }, x_u, x_r, config, rng),
            _ => {
                let mut terms = Terms::default();
                let total = self.rb_loss(x_u, x_r, config, rng, &mut terms);
                self.step_on(Updates { optimizer, guard, lr: input.lr }, total, terms)
            }
        }
    }
}

/// A trained reference-based VAE for the explorer.
#[derive(Debug)]
struct Explored {
    model: ReferenceVae,
    config: ReferenceVaeConfig,
    /// e_r on the host, read once: the views ask for it every frame.
    reference: Option<Vec<f32>>,
}

impl Explored {
    fn new(model: ReferenceVae, config: ReferenceVaeConfig) -> Self {
        let reference = config.objective.uses_reference().then(|| model.generator.reference.val().into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default());
        Self { model, config, reference }
    }
}

impl Explorable for Explored {
    explorable_from_trainable!();
    fn prior(&self) -> Option<&dyn PriorSampler> {
        Some(self)
    }
    fn latents(&self) -> Option<&dyn LatentSpace> {
        Some(self)
    }
    fn split(&self) -> Option<&dyn FactorSplit> {
        Some(self)
    }
}


impl Explored {
    fn decode_pairs(&self, pairs: impl Iterator<Item = (Vec<f32>, Vec<f32>)>) -> Vec<HostImage> {
        let (dz, de) = (self.model.common_dim, self.model.target_dim);
        let (mut z, mut e, mut n) = (vec![], vec![], 0);
        for (zi, ei) in pairs {
            z.extend(padded(&zi, dz));
            e.extend(padded(&ei, de));
            n += 1;
        }
        if n == 0 {
            return vec![];
        }
        let device = self.device();
        let z = Tensor::<2>::from_data(TensorData::new(z, [n, dz]), &device);
        let e = Tensor::<2>::from_data(TensorData::new(e, [n, de]), &device);
        to_host_images(self.model.decode(z, e))
    }
}

impl PriorSampler for Explored {
    fn sample(&self, n: usize, rng: &mut SeededRng) -> Vec<HostImage> {
        Trainable::sample_prior(&self.model, &self.config, n, rng, &self.device())
    }
}

/// The latent vector e ⊕ z: the target factors first, so a traversal lists them first.
impl LatentSpace for Explored {
    fn dims(&self) -> usize {
        self.model.target_dim + self.model.common_dim
    }

    fn dim_name(&self, dim: usize) -> String {
        let de = self.model.target_dim;
        if dim < de { format!("e{dim}") } else { format!("z{}", dim - de) }
    }

    fn dim_groups(&self) -> Vec<(&'static str, std::ops::Range<usize>)> {
        let de = self.model.target_dim;
        vec![("e", 0..de), ("z", de..de + self.model.common_dim)]
    }

    fn encode(&self, x: Tensor<4>) -> Vec<LatentCode> {
        let (qz, qe) = self.model.encode(x);
        let mu = host_rows(Tensor::cat(vec![qe.mu, qz.mu], 1));
        let var = host_rows(Tensor::cat(vec![qe.logvar, qz.logvar], 1).exp());
        mu.into_iter().zip(var).map(|(mu, var)| LatentCode { mu, var }).collect()
    }

    fn decode(&self, codes: &[Vec<f32>]) -> Vec<HostImage> {
        let de = self.model.target_dim;
        let dims = LatentSpace::dims(self);
        self.decode_pairs(codes.iter().map(|c| {
            let full: Vec<f32> = padded(c, dims).collect();
            (full[de..].to_vec(), full[..de].to_vec())
        }))
    }
}

impl FactorSplit for Explored {
    fn names(&self) -> SplitNames {
        SplitNames { unspecified: "common z", specified: "target e" }
    }

    fn dims(&self) -> (usize, usize) {
        (self.model.common_dim, self.model.target_dim)
    }

    fn encode(&self, x: Tensor<4>) -> Vec<SplitCode> {
        let (qz, qe) = self.model.encode(x);
        let (mu, var, e) = (host_rows(qz.mu), host_rows(qz.logvar.exp()), host_rows(qe.mu));
        mu.into_iter().zip(var).zip(e).map(|((mu, var), specified)| SplitCode { unspecified: LatentCode { mu, var }, specified }).collect()
    }

    fn decode(&self, codes: &[(Vec<f32>, Vec<f32>)]) -> Vec<HostImage> {
        self.decode_pairs(codes.iter().cloned())
    }

    /// e has a prior too: conditional synthesis draws it.
    fn specified_prior(&self) -> bool {
        true
    }

    fn reference(&self) -> Option<Vec<f32>> {
        self.reference.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::step_rng;

    fn config() -> ReferenceVaeConfig {
        // A small network on 32×32, so the tests run in seconds.
        ReferenceVaeConfig::new().with_image_size(32).with_width(4).with_target_dim(4).with_common_dim(4)
    }

    fn pools() -> (SharedSource, ReferencePool) {
        let unlabelled = ReferenceVae::training_source(&config(), DataSpec::ReferenceStyle(Box::new("mnist".parse().unwrap())).open(Split::Train, 32).unwrap()).unwrap();
        let pool = ReferenceVae::prepare(&config(), &unlabelled, "reference-style", 0, None, &|_, _| ()).unwrap();
        (unlabelled, pool)
    }

    fn batch(source: &SharedSource, indices: &[usize], device: &Device) -> Tensor<4> {
        Tensor::<4>::from_data(TensorData::new(assemble(source, indices, 32, 3).0, [indices.len(), 3, 32, 32]), device)
    }

    fn step(model: &mut ReferenceVae, optimizer: &mut ModuleOptimizer, config: &ReferenceVaeConfig, source: &SharedSource, pool: &ReferencePool, step: u64) -> StepReport {
        let device = Device::flex().autodiff();
        let indices: Vec<usize> = (0..8).map(|i| (i * 37 + step as usize * 8) % source.len()).collect();
        let x = batch(source, &indices, &device);
        let mut rng = step_rng(5, step);
        let input = StepInput { x, indices: &indices, config, step, lr: 1e-3, lr_factor: 1.0, rng: &mut rng, source, prepared: pool, guard: Default::default() };
        model.train_step(optimizer, input).unwrap()
    }

    fn value(report: &StepReport, name: &str) -> f64 {
        report.losses.iter().chain(&report.measures).find(|(n, _)| n == name).map(|(_, v)| *v).unwrap_or_else(|| panic!("no {name} in {report:?}"))
    }

    #[test]
    fn the_unlabelled_pool_is_the_stream_and_the_reference_pool_is_prepared() {
        let (unlabelled, pool) = pools();
        assert_eq!(unlabelled.len(), 10_000);
        let reference = pool.0.unwrap();
        assert_eq!(reference.len(), 5_000);
        assert!((0..20).all(|i| unlabelled.get(i).label == Some(0) && reference.get(i).label == Some(1)));
        // One pool alone is refused for the two-pool objectives, with what to do instead.
        let err = ReferenceVae::training_source(&config(), DataSpec::Embedded(crate::data::embedded::EmbeddedSet::Mnist).open(Split::Train, 28).unwrap()).err().unwrap().to_string();
        assert!(err.contains("two pools") && err.contains("--data reference-style"), "{err}");
        assert!(ReferenceVae::training_source(&config().with_objective(Objective::Vae), DataSpec::Embedded(crate::data::embedded::EmbeddedSet::Mnist).open(Split::Train, 28).unwrap()).is_ok());
    }

    #[test]
    fn a_short_run_of_each_objective_lowers_its_reconstruction() {
        let (source, pool) = pools();
        let device = Device::flex().autodiff();
        for objective in [Objective::SrbVae, Objective::RbVae, Objective::DipVaeI] {
            let config = config().with_objective(objective).with_pixel_reduction(super::super::PixelReduction::Mean);
            let mut model = crate::nn::init_seeded(&device, 3, |d| config.init(d));
            let mut optimizer = burn::optim::AdamConfig::new().with_beta_1(0.5).with_beta_2(0.99).init();
            let first = step(&mut model, &mut optimizer, &config, &source, &pool, 0);
            let mut last = first.clone();
            for s in 1..30 {
                last = step(&mut model, &mut optimizer, &config, &source, &pool, s);
            }
            let (before, after) = (value(&first, "recon_unlabelled"), value(&last, "recon_unlabelled"));
            assert!(after < 0.8 * before, "{objective:?}: ℓ1/b {before} → {after}");
            if objective == Objective::SrbVae {
                for name in ["adversarial", "recon_reference", "latent_unlabelled", "latent_reference", "discriminators", "d_accuracy", "d_reference_accuracy", "e_effect"] {
                    assert!(value(&last, name).is_finite(), "{name}");
                }
                assert!((0.0..=1.0).contains(&value(&last, "d_accuracy")));
            }
        }
    }

    #[test]
    fn the_discriminators_call_real_pairs_1_and_generated_pairs_0() {
        let device = Device::flex();
        let logits = |v: f32| Tensor::<1>::from_data(TensorData::new(vec![v; 4], [4]), &device);
        // Confident and right (real +6, fake −6): near 0; confident and wrong: near 12.
        let right: f32 = discriminator_loss(logits(6.0), logits(-6.0)).into_scalar();
        let wrong: f32 = discriminator_loss(logits(-6.0), logits(6.0)).into_scalar();
        assert!(right < 0.01 && (wrong - 12.0).abs() < 0.01, "{right} {wrong}");
        let chance: f32 = discriminator_loss(logits(0.0), logits(0.0)).into_scalar();
        assert!((chance - 2.0 * std::f32::consts::LN_2).abs() < 1e-5);
        let acc: f32 = accuracy(Tensor::from_data(TensorData::new(vec![1.0f32, -1.0], [2]), &device), Tensor::from_data(TensorData::new(vec![-1.0f32, -2.0], [2]), &device)).into_scalar();
        assert!((acc - 0.75).abs() < 1e-6);
    }

    #[test]
    fn an_srb_step_moves_every_network_and_the_reference_code() {
        let (source, pool) = pools();
        let device = Device::flex().autodiff();
        let config = config();
        let mut model = crate::nn::init_seeded(&device, 4, |d| config.init(d));
        let flat = |m: &ReferenceVae| -> [Vec<f32>; 5] {
            let v = |p: &burn::module::Param<Tensor<2>>| p.val().into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
            [v(&m.target.mu.weight), v(&m.common.mu.weight), m.generator.reference.val().into_data().convert::<f32>().try_to_vec::<f32>().unwrap(), v(&m.d.as_ref().unwrap().output.weight), v(&m.d_reference.as_ref().unwrap().output.weight)]
        };
        let before = flat(&model);
        let mut optimizer = burn::optim::AdamConfig::new().init();
        step(&mut model, &mut optimizer, &config, &source, &pool, 0);
        let after = flat(&model);
        for (i, name) in ["E", "Z", "e_r", "d", "d′"].iter().enumerate() {
            assert_ne!(before[i], after[i], "{name} did not move");
        }
    }

    #[test]
    fn transfer_with_the_same_image_on_both_sides_is_the_reconstruction_and_e_r_is_saved() {
        let device = Device::flex();
        let config = config();
        let mut model = crate::nn::init_seeded(&device, 6, |d| config.init(d));
        model.generator.reference = burn::module::Param::from_tensor(Tensor::from_data(TensorData::new(vec![0.5f32, -1.0, 2.0, 0.25], [4]), &device));
        let explored = Explored::new(model.clone(), config.clone());
        let (source, _) = pools();
        let x = batch(&source, &[0, 1], &device);
        let codes = FactorSplit::encode(&explored, x.clone());
        let swapped = FactorSplit::decode(&explored, &[(codes[0].unspecified.mu.clone(), codes[0].specified.clone())]);
        let reconstruction = to_host_images(model.reconstruct(x.slice(0..1)));
        assert_eq!(swapped[0], reconstruction[0]);
        assert_eq!(explored.reference(), Some(vec![0.5, -1.0, 2.0, 0.25]));
        // e_r goes through a checkpoint's record and back.
        let dir = tempfile::tempdir().unwrap();
        model.clone().save_file(dir.path().join("model")).unwrap();
        let loaded = config.init(&device).try_load_file(dir.path().join(crate::checkpoint::MODEL_FILE)).unwrap();
        assert_eq!(loaded.generator.reference.val().into_data().convert::<f32>().try_to_vec::<f32>().unwrap(), vec![0.5, -1.0, 2.0, 0.25]);
    }
}
