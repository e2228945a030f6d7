//! "Learning Object Representations by Mixing Scenes" (mixing-scenes spec): an autoencoder
//! whose 768-d latent is four quadrant chunks, trained to render mixes of same-position
//! chunks from visually similar images (Algorithm 1 over per-quadrant neighbour lists),
//! with a PatchGAN judging the mixes and a quadrant classifier checking that every mixed-in
//! chunk shows up where it belongs.
//!
//! One training iteration (thesis §3.6): two generator steps (encoder + decoder) on
//! L_G = λ_rec·L_rec + λ_adv·L_adv + λ_cls·L_cls, one discriminator step, one classifier
//! step, each on its own networks' parameters only (one Adam state per parameter; the
//! generator at the run's learning rate, 2e-4 by default, the discriminator at 4e-4).
//!
//! Choices where the thesis is silent (spec §1.3, §2): L1 is a mean over pixels; the
//! cycle's restored chunks reuse f_ref with gradients; the PatchGAN's 4×4 logits are
//! averaged after a per-patch BCE; the discriminator and classifier steps use the mix of
//! the second generator step, detached; the classifier's optimiser is Adam at
//! `lr_classifier` (2e-4); images are in [−1, 1] and the decoder ends in tanh.

use std::sync::Arc;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation;
use rand::Rng;
use crate::rng::SeededRng;

pub mod decoder;
pub mod encoder;
mod explore;
pub mod patch_gan;
pub mod quadrant_classifier;
mod settings;

use super::trainable::{Preparation, StepError, StepInput, Trainable, loss_values, to_host_images};
use decoder::{MixingDecoder, MixingDecoderConfig};
use encoder::{MixingEncoder, MixingEncoderConfig};
use patch_gan::{PatchGan, PatchGanConfig};
use quadrant_classifier::{QuadrantClassifier, QuadrantClassifierConfig};
use crate::data::loader::assemble;
use crate::data::{HostImage, SharedSource};
use crate::mixing::QuadrantMask;
use crate::mixing::algorithm::choose_mix;
use crate::mixing::neighbours::{NEIGHBOURS_FILE, NeighbourConfig, NeighbourIndex};
use crate::train::{StepReport, UpdateGuard};

pub const SCENE_SIZE: usize = 64;

/// Network sizes: the thesis's, or a CPU-sized version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MixingPreset {
    /// Trains on a 2-core CPU: the encoder's first conv 16 maps, growth 8, dense blocks of
    /// 2/2/3/3/4 layers, 48-d chunks (a 192-d latent); the decoder's transition-up widths / 4
    /// and blocks of 4/3/3/2/2 layers at growth 8; the PatchGAN and classifier widths / 8.
    /// Fewer, wider layers rather than every width / 8: flex's convolution time goes with
    /// the input maps × pixels, so a layer of 8 new maps costs about what one of 2 did.
    Small,
    /// The thesis's networks (encoder 2,800,512, decoder 5,300,339, PatchGAN 1,188,391).
    Full,
}

impl MixingPreset {
    pub fn encoder(self) -> MixingEncoderConfig {
        match self {
            MixingPreset::Small => MixingEncoderConfig::new().with_first_maps(16).with_growth(8).with_chunk(48).with_layers([2, 2, 3, 3, 4]),
            MixingPreset::Full => MixingEncoderConfig::new(),
        }
    }

    pub fn decoder(self) -> MixingDecoderConfig {
        match self {
            MixingPreset::Small => MixingDecoderConfig::new().with_chunk(48).with_growth(8).with_width_divisor(4).with_layers([4, 3, 3, 2, 2]),
            MixingPreset::Full => MixingDecoderConfig::new(),
        }
    }

    /// Divides the PatchGAN's and the quadrant classifier's widths.
    pub fn judge_width_divisor(self) -> usize {
        match self {
            MixingPreset::Small => 8,
            MixingPreset::Full => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MixingPreset::Small => "small",
            MixingPreset::Full => "full",
        }
    }
}

#[derive(Config, Debug, PartialEq)]
pub struct MixingScenesConfig {
    #[config(default = "MixingPreset::Small")]
    pub preset: MixingPreset,
    /// Always 64: the encoder's 32× downsampling must leave a 2×2 chunk map.
    #[config(default = 64)]
    pub image_size: usize,
    #[config(default = 3)]
    pub channels: usize,
    #[config(default = 0.904)]
    pub lambda_rec: f64,
    #[config(default = 0.052)]
    pub lambda_adv: f64,
    #[config(default = 0.044)]
    pub lambda_cls: f64,
    /// Ablation switches (thesis Table 4.5): drop a term of L_G.
    #[config(default = true)]
    pub use_rec: bool,
    #[config(default = true)]
    pub use_adv: bool,
    #[config(default = true)]
    pub use_cls: bool,
    /// Discriminator learning rate (thesis 4e-4, TTUR); the generator's is the run's lr.
    #[config(default = 4e-4)]
    pub lr_discriminator: f64,
    /// Classifier learning rate (not given in the thesis).
    #[config(default = 2e-4)]
    pub lr_classifier: f64,
    /// Generator steps per iteration (thesis 2).
    #[config(default = 2)]
    pub generator_steps: usize,
    /// Iterations that train the plain autoencoder (the direct L1 reconstruction: one
    /// encode and one decode, no mixing, no judges) before Algorithm 1's iterations start.
    /// None is the thesis's schedule. A warm-up step costs about a sixth of a mixing
    /// iteration, so a CPU run can learn to reconstruct before it learns to mix. An
    /// `Option` so configs saved before the setting existed still load (missing = none).
    pub rec_warmup: Option<u64>,
    /// Weight of a collage term in warm-up steps (not in the thesis): the batch is mixed
    /// with itself shifted by one under a random 1–3-quadrant mask, in latent space (chunks)
    /// and in pixel space (the collage), and the decoded mix is pulled towards the collage
    /// by L1. It teaches chunk j to carry quadrant j and nothing else, which the plain
    /// autoencoder does not learn and the mixing iterations learn only slowly on a CPU.
    /// None (the thesis) leaves the warm-up a plain autoencoder.
    pub warmup_collage: Option<f64>,
    #[config(default = "NeighbourConfig::new()")]
    pub neighbours: NeighbourConfig,
}

impl MixingScenesConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.image_size != SCENE_SIZE {
            return Err(format!("mixing scenes works on {SCENE_SIZE}×{SCENE_SIZE} images (2×2 quadrant chunks), not {}", self.image_size));
        }
        if self.channels != 3 {
            return Err("mixing scenes works on colour images (3 channels)".into());
        }
        for (name, v) in [("lambda_rec", self.lambda_rec), ("lambda_adv", self.lambda_adv), ("lambda_cls", self.lambda_cls)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be a finite number ≥ 0"));
            }
        }
        if !(self.use_rec || self.use_adv || self.use_cls) {
            return Err("at least one generator loss term must be on".into());
        }
        if self.rec_warmup.is_some_and(|n| n > 0) && !self.use_rec {
            return Err("a reconstruction warm-up needs the reconstruction term on".into());
        }
        if let Some(w) = self.warmup_collage {
            if !(w.is_finite() && w >= 0.0) {
                return Err("the warm-up collage weight must be a finite number ≥ 0".into());
            }
            if self.rec_warmup.unwrap_or(0) == 0 && w > 0.0 {
                return Err("the collage term is a warm-up term: it needs warm-up steps".into());
            }
        }
        if self.generator_steps == 0 {
            return Err("generator_steps must be at least 1".into());
        }
        if !(self.lr_discriminator > 0.0 && self.lr_classifier > 0.0) {
            return Err("the discriminator and classifier learning rates must be positive".into());
        }
        if self.neighbours.neighbours == 0 || self.neighbours.neighbours > 255 {
            return Err("neighbours per quadrant must be between 1 and 255".into());
        }
        let n = &self.neighbours;
        if !(1..=65_536).contains(&n.clusters) {
            return Err(format!("neighbours: clusters per quadrant must be between 1 and 65,536, not {}", n.clusters));
        }
        if !(0.0..=1.0).contains(&n.tau_quantile) {
            return Err(format!("neighbours: tau_quantile is a quantile, between 0 and 1, not {}", n.tau_quantile));
        }
        if n.tau.is_some_and(|t| !(t.is_finite() && t >= 0.0)) {
            return Err("neighbours: tau must be a finite distance ≥ 0".into());
        }
        if n.kmeans_iterations > 10_000 {
            return Err(format!("neighbours: kmeans_iterations of at most 10,000, not {}", n.kmeans_iterations));
        }
        Ok(())
    }

    pub fn init(&self, device: &Device) -> MixingScenes {
        let d = self.preset.judge_width_divisor();
        MixingScenes {
            encoder: self.preset.encoder().with_channels(self.channels).init(device),
            decoder: self.preset.decoder().with_channels(self.channels).init(device),
            discriminator: PatchGanConfig::new().with_channels(self.channels).with_base_maps((42 / d).max(1)).init(device),
            classifier: QuadrantClassifierConfig::new().with_channels(self.channels).with_width_divisor(d).init(device),
        }
    }

    /// Whether iteration `step` is a warm-up step of the plain autoencoder.
    pub fn in_warmup(&self, step: u64) -> bool {
        step < self.rec_warmup.unwrap_or(0)
    }

    /// The generator terms' weights in a mixing iteration: 0 for a term switched off.
    fn generator_weights(&self) -> GeneratorWeights {
        let on = |use_it: bool, w: f64| if use_it { w } else { 0.0 };
        GeneratorWeights {
            rec: on(self.use_rec, self.lambda_rec),
            adv: on(self.use_adv, self.lambda_adv),
            cls: on(self.use_cls, self.lambda_cls),
        }
    }
}

/// L_G's weights for one iteration. A judge whose weight is 0 is neither run in the
/// generator's pass nor trained: its term could not change the generator.
#[derive(Debug, Clone, Copy, PartialEq)]
struct GeneratorWeights {
    rec: f64,
    adv: f64,
    cls: f64,
}

#[derive(Module, Debug)]
pub struct MixingScenes {
    pub encoder: MixingEncoder,
    pub decoder: MixingDecoder,
    pub discriminator: PatchGan,
    pub classifier: QuadrantClassifier,
}

/// The images and choices of one batch: references, the candidate per quadrant, the masks.
struct MixBatch {
    reference: Tensor<4>,
    /// `[4b, c, h, w]`: all candidates for quadrant 0, then quadrant 1, …
    candidates: Tensor<4>,
    masks: Vec<QuadrantMask>,
}

/// What one generator forward computed.
struct GeneratorPass {
    total: Tensor<1>,
    terms: Vec<(String, Tensor<1>)>,
    mix: Tensor<4>,
}

/// Chunk-wise 0/1 weights `[b, 4·chunk]`: 1 where the mask takes the other image.
pub fn mask_weights(masks: &[QuadrantMask], chunk: usize, device: &Device) -> Tensor<2> {
    let values: Vec<f32> = masks.iter().flat_map(|m| m.0.iter().flat_map(|&take| std::iter::repeat_n(if take { 1.0 } else { 0.0 }, chunk))).collect();
    Tensor::from_data(TensorData::new(values, [masks.len(), 4 * chunk]), device)
}

/// `[b, 4·chunk]` holding, for each `(quadrant q, reference i)` of `replaced`, chunk q of
/// the matching row of `codes` (`[replaced.len(), 4·chunk]`) at row i; zeros elsewhere.
/// Built with one-hot placement matrices so gradients reach `codes`.
fn replacement_chunks(codes: Tensor<2>, replaced: &[(usize, usize)], b: usize, chunk: usize) -> Tensor<2> {
    let device = codes.device();
    let r = replaced.len();
    let per_quadrant = (0..4).map(|q| {
        let mut placement = vec![0.0f32; b * r];
        for (k, &(rq, i)) in replaced.iter().enumerate() {
            if rq == q {
                placement[i * r + k] = 1.0;
            }
        }
        let placement = Tensor::<2>::from_data(TensorData::new(placement, [b, r]), &device);
        placement.matmul(codes.clone().slice([0..r, q * chunk..(q + 1) * chunk]))
    });
    Tensor::cat(per_quadrant.collect(), 1)
}

/// Pixel-wise 0/1 weights `[b, c, size, size]`: 1 inside the quadrants a mask takes from
/// the other image (quadrant (y ≥ size/2)·2 + (x ≥ size/2), the chunk order).
pub fn pixel_mask_weights(masks: &[QuadrantMask], channels: usize, size: usize, device: &Device) -> Tensor<4> {
    let half = size / 2;
    let values: Vec<f32> = masks
        .iter()
        .flat_map(|m| {
            (0..channels).flat_map(move |_| (0..size).flat_map(move |y| (0..size).map(move |x| if m.0[(y >= half) as usize * 2 + (x >= half) as usize] { 1.0 } else { 0.0 })))
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [masks.len(), channels, size, size]), device)
}

/// A random mask replacing 1 to 3 quadrants, uniform over the 14 such masks.
fn random_partial_mask(rng: &mut SeededRng) -> QuadrantMask {
    let bits: u8 = rng.random_range(1..15);
    QuadrantMask(std::array::from_fn(|q| bits >> (3 - q) & 1 == 1))
}

/// The batch rotated by one: image i paired with image i + 1.
fn next_in_batch<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    let b = t.dims()[0];
    Tensor::cat(vec![t.clone().slice(1..b), t.slice(0..1)], 0)
}

/// Mixes two tensors of one shape: `other` where `weights` is 1, else `base` (chunked
/// latents with [`mask_weights`], images with [`pixel_mask_weights`]).
pub fn mix_by_weights<const D: usize>(base: Tensor<D>, other: Tensor<D>, weights: Tensor<D>) -> Tensor<D> {
    base.clone() + (other - base) * weights
}

fn bce_with_logits(logits: Tensor<2>, target: f32) -> Tensor<1> {
    // −[t·log σ(x) + (1−t)·log(1−σ(x))] = softplus(x) − t·x, stable for any x.
    (activation::softplus(logits.clone(), 1.0) - logits * target).mean()
}

impl MixingScenes {
    pub fn chunk(&self) -> usize {
        self.encoder.chunk
    }

    /// Images in [−1, 1] → latents `[b, 4·chunk]` (chunks TL, TR, BL, BR).
    pub fn encode(&self, x: Tensor<4>) -> Tensor<2> {
        self.encoder.forward(x)
    }

    pub fn decode(&self, z: Tensor<2>) -> Tensor<4> {
        self.decoder.forward(z)
    }

    /// Object transfer (thesis §4.2): the reference with the masked quadrants' chunks taken
    /// from the object image, rendered. Mask 0000 is the plain reconstruction.
    pub fn transfer(&self, object: Tensor<4>, reference: Tensor<4>, masks: &[QuadrantMask]) -> Tensor<4> {
        let [b, ..] = reference.dims();
        let z = self.encode(Tensor::cat(vec![reference, object], 0));
        let weights = mask_weights(masks, self.chunk(), &z.device());
        self.decode(mix_by_weights(z.clone().slice(0..b), z.slice(b..2 * b), weights))
    }

    /// PatchGAN logits averaged to one BCE against `target`.
    fn adversarial(discriminator: &PatchGan, x: Tensor<4>, target: f32) -> Tensor<1> {
        let logits = discriminator.forward(x);
        let [b, c, h, w] = logits.dims();
        bce_with_logits(logits.reshape([b, c * h * w]), target)
    }

    /// Σ_j BCE(Cls(I_mix ⊕ I_qj), y^j), averaged over the batch: y^j is 1 at quadrant j iff
    /// quadrant j was replaced (replacements keep their position, spec §1.3).
    fn classifier_loss(classifier: &QuadrantClassifier, mix: Tensor<4>, batch: &MixBatch) -> Tensor<1> {
        let [b, ..] = mix.dims();
        let device = mix.device();
        let mut total: Option<Tensor<1>> = None;
        for j in 0..4 {
            let candidate = batch.candidates.clone().slice(j * b..(j + 1) * b);
            let logits = classifier.forward(mix.clone(), candidate);
            let targets: Vec<f32> = batch.masks.iter().flat_map(|m| (0..4).map(move |q| if q == j && m.0[j] { 1.0 } else { 0.0 })).collect();
            let y = Tensor::<2>::from_data(TensorData::new(targets, [b, 4]), &device);
            // Summed over the four outputs, averaged over the batch.
            let term = (activation::softplus(logits.clone(), 1.0) - logits * y).sum_dim(1).mean();
            total = Some(match total {
                Some(t) => t + term,
                None => term,
            });
        }
        total.unwrap_or_else(|| Tensor::zeros([1], &device))
    }

    /// The generator's forward (thesis §1.3) and L_G.
    fn generator_pass(&self, batch: &MixBatch, lambdas: GeneratorWeights) -> GeneratorPass {
        let [b, ..] = batch.reference.dims();
        let device = batch.reference.device();
        let chunk = self.chunk();
        // Only the candidates that replace a quadrant are encoded (about half of them): the
        // kept ones' chunks are multiplied by 0, and the encoder's instance norm makes each
        // image's code independent of what else is in the batch, so this is exact.
        let replaced: Vec<(usize, usize)> = (0..4).flat_map(|q| batch.masks.iter().enumerate().filter(move |(_, m)| m.0[q]).map(move |(i, _)| (q, i))).collect();
        let rows: Vec<i64> = replaced.iter().map(|&(q, i)| (q * b + i) as i64).collect();
        let chosen = batch.candidates.clone().select(0, Tensor::<1, Int>::from_data(TensorData::new(rows, [replaced.len()]), &device));
        let z = self.encode(Tensor::cat(vec![batch.reference.clone(), chosen], 0));
        let f_ref = z.clone().slice(0..b);
        let replacement = replacement_chunks(z.slice(b..b + replaced.len()), &replaced, b, chunk);
        let weights = mask_weights(&batch.masks, chunk, &device);
        let f_mix = mix_by_weights(f_ref.clone(), replacement, weights.clone());
        let direct = self.decode(f_ref.clone());
        let mix = self.decode(f_mix);
        // Cycle: re-encode the mix, restore the replaced chunks from f_ref, decode.
        let f_cycle = mix_by_weights(self.encode(mix.clone()), f_ref, weights);
        let cycle = self.decode(f_cycle);
        let recon_direct = (direct - batch.reference.clone()).abs().mean();
        let recon_cycle = (cycle - batch.reference.clone()).abs().mean();
        let recon = recon_direct.clone() + recon_cycle.clone();
        let mut total = recon.clone() * lambdas.rec;
        let mut terms = vec![
            ("recon".to_string(), recon),
            ("recon_direct".to_string(), recon_direct),
            ("recon_cycle".to_string(), recon_cycle),
        ];
        // The judges only pass gradients back to the mix here: frozen copies spare the
        // backward pass their weight gradients, which the generator step would discard.
        if lambdas.adv > 0.0 {
            let adv = Self::adversarial(&self.discriminator.clone().no_grad(), mix.clone(), 1.0);
            total = total + adv.clone() * lambdas.adv;
            terms.push(("adv_g".to_string(), adv));
        }
        if lambdas.cls > 0.0 {
            let cls = Self::classifier_loss(&self.classifier.clone().no_grad(), mix.clone(), batch);
            total = total + cls.clone() * lambdas.cls;
            terms.push(("cls_g".to_string(), cls));
        }
        GeneratorPass { total, terms, mix }
    }

    /// One warm-up step: the plain autoencoder on the direct reconstruction (one encode,
    /// one decode, about a sixth of a mixing iteration's work), plus, where
    /// `warmup_collage` is set, the collage term (see [`MixingScenesConfig::warmup_collage`]):
    /// the mixes reuse the batch's own codes, so it costs a second decode and no encode.
    fn autoencoder_step(&mut self, optimizer: &mut ModuleOptimizer, guard: UpdateGuard, x: Tensor<4>, lr: f64, config: &MixingScenesConfig, rng: &mut SeededRng) -> Result<StepReport, StepError> {
        let [b, c, h, _] = x.dims();
        let z = self.encode(x.clone());
        let collage_weight = config.warmup_collage.unwrap_or(0.0);
        let (recon_direct, recon_collage) = if collage_weight > 0.0 && b > 1 {
            let device = x.device();
            let masks: Vec<QuadrantMask> = (0..b).map(|_| random_partial_mask(rng)).collect();
            let f_mix = mix_by_weights(z.clone(), next_in_batch(z.clone()), mask_weights(&masks, self.chunk(), &device));
            let collage = mix_by_weights(x.clone(), next_in_batch(x.clone()), pixel_mask_weights(&masks, c, h, &device));
            let decoded = self.decode(Tensor::cat(vec![z, f_mix], 0));
            let direct = (decoded.clone().slice(0..b) - x).abs().mean();
            (direct, Some((decoded.slice(b..2 * b) - collage).abs().mean()))
        } else {
            ((self.decode(z) - x).abs().mean(), None)
        };
        let mut total = recon_direct.clone() * config.lambda_rec;
        let mut named = vec![("recon_direct".to_string(), recon_direct)];
        if let Some(collage) = recon_collage {
            total = total + collage.clone() * collage_weight;
            named.push(("recon_collage".to_string(), collage));
        }
        named.insert(0, ("loss".to_string(), total.clone()));
        let losses = loss_values(named)?;
        self.generator_step(optimizer, guard, lr, total)?;
        Ok(StepReport { losses, ..StepReport::default() })
    }

    /// One Adam step of the encoder and decoder on `loss`.
    fn generator_step(&mut self, optimizer: &mut ModuleOptimizer, guard: UpdateGuard, lr: f64, loss: Tensor<1>) -> Result<(), StepError> {
        let mut grads = loss.backward();
        let encoder = GradientsParams::from_module(&mut grads, &self.encoder);
        let decoder = GradientsParams::from_module(&mut grads, &self.decoder);
        *self = guard.step(optimizer, lr, self.clone(), encoder)?;
        *self = guard.step(optimizer, lr, self.clone(), decoder)?;
        Ok(())
    }

    /// Draws Algorithm 1's candidates for every reference of the batch and loads them.
    fn mix_batch(x: Tensor<4>, indices: &[usize], index: &NeighbourIndex, source: &SharedSource, rng: &mut SeededRng) -> Result<MixBatch, StepError> {
        let [_, c, h, _] = x.dims();
        let mut per_quadrant: [Vec<usize>; 4] = Default::default();
        let mut masks = Vec::with_capacity(indices.len());
        for &i in indices {
            let lists = index.lists_of(i).ok_or_else(|| StepError::Failed(format!("image {i} is not in the neighbour index")))?;
            let choice = choose_mix(lists, index.tau, rng).ok_or_else(|| StepError::Failed(format!("image {i} has an empty neighbour list")))?;
            for (q, candidate) in choice.candidates.iter().enumerate() {
                per_quadrant[q].push(candidate.image);
            }
            masks.push(choice.mask);
        }
        let all: Vec<usize> = per_quadrant.concat();
        let (images, _) = assemble(source, &all, h, c);
        let candidates = Tensor::<4>::from_data(TensorData::new(images, [all.len(), c, h, h]), &x.device());
        Ok(MixBatch { reference: x, candidates, masks })
    }
}

/// What mixing scenes prepares from its training data and keeps with its checkpoints: the
/// per-quadrant neighbour lists Algorithm 1 draws from (`None` in a model built without
/// data, as the benchmarks build it).
#[derive(Debug, Clone, Default)]
pub struct Neighbours(pub Option<Arc<NeighbourIndex>>);

impl Preparation for Neighbours {
    fn save(&self, dir: &std::path::Path) -> anyhow::Result<()> {
        match &self.0 {
            Some(index) => index.save(dir),
            None => Ok(()),
        }
    }

    fn load(dir: &std::path::Path) -> anyhow::Result<Self> {
        if dir.join(NEIGHBOURS_FILE).is_file() {
            return Ok(Neighbours(Some(Arc::new(NeighbourIndex::load(dir)?))));
        }
        Ok(Neighbours(None))
    }
}

impl Trainable for MixingScenes {
    type Config = MixingScenesConfig;
    type Prepared = Neighbours;

    fn build(config: &MixingScenesConfig, device: &Device) -> Self {
        config.init(device)
    }

    /// L_G alone (used by evaluation code that wants one number; training goes through
    /// [`Trainable::train_step`]). Without neighbour lists the batch is mixed with itself
    /// shifted by one, mask 0110.
    fn loss(&self, x: Tensor<4>, config: &MixingScenesConfig, _step: u64, _rng: &mut SeededRng) -> super::trainable::StepLoss {
        let [b, ..] = x.dims();
        let shifted = next_in_batch(x.clone());
        let batch = MixBatch { reference: x, candidates: Tensor::cat(vec![shifted; 4], 0), masks: vec![QuadrantMask([false, true, true, false]); b] };
        let pass = self.generator_pass(&batch, config.generator_weights());
        super::trainable::StepLoss { total: pass.total, terms: vec![], schedules: vec![] }
    }

    fn reconstruct(&self, x: Tensor<4>, _config: &MixingScenesConfig, _step: u64) -> Tensor<4> {
        self.decode(self.encode(x))
    }

    /// The live view's extra grid: each image with the next one's top-right and
    /// bottom-left quadrants transferred in (mask 0110).
    fn snapshot_extras(&self, x: Tensor<4>, _config: &MixingScenesConfig, _step: u64, _rng: &mut SeededRng) -> Vec<(String, Vec<HostImage>)> {
        let [b, ..] = x.dims();
        if b < 2 {
            return vec![];
        }
        let mixed = self.transfer(next_in_batch(x.clone()), x, &vec![QuadrantMask([false, true, true, false]); b]);
        vec![("mix with the next image (0110)".into(), to_host_images(mixed))]
    }

    /// No prior: mixing scenes is an autoencoder.
    fn sample_prior(&self, _config: &MixingScenesConfig, _n: usize, _rng: &mut SeededRng, _device: &Device) -> Vec<HostImage> {
        vec![]
    }

    fn prepare(config: &MixingScenesConfig, source: &SharedSource, data: &str, seed: u64, resume: Option<&std::path::Path>, progress: &dyn Fn(&str, f32)) -> anyhow::Result<Neighbours> {
        if let Some(dir) = resume {
            if let Ok(index) = NeighbourIndex::load(dir) {
                if index.lists.len() == source.len() {
                    return Ok(Neighbours(Some(Arc::new(index))));
                }
            }
        }
        let index = NeighbourIndex::build(source.as_ref(), data, config.image_size, &config.neighbours, seed, &|f| progress("neighbour index", f))?;
        Ok(Neighbours(Some(Arc::new(index))))
    }

    fn train_step(&mut self, optimizer: &mut ModuleOptimizer, input: StepInput<'_, MixingScenesConfig, Neighbours>) -> Result<StepReport, StepError> {
        let Neighbours(Some(index)) = input.prepared else {
            return Err(StepError::Failed("mixing scenes trains from neighbour lists, and none were prepared".into()));
        };
        let config = input.config;
        if config.in_warmup(input.step) {
            return self.autoencoder_step(optimizer, input.guard, input.x, input.lr, config, input.rng);
        }
        let batch = Self::mix_batch(input.x, input.indices, index, input.source, input.rng)?;
        let replaced = batch.masks.iter().map(|m| m.replaced() as f64).sum::<f64>() / batch.masks.len().max(1) as f64;
        let weights = config.generator_weights();
        // Generator steps: encoder and decoder only.
        let mut g_terms = vec![];
        let mut mix = None;
        for _ in 0..config.generator_steps {
            let pass = self.generator_pass(&batch, weights);
            let mut named = vec![("loss".to_string(), pass.total.clone())];
            named.extend(pass.terms);
            g_terms = loss_values(named)?;
            self.generator_step(optimizer, input.guard, input.lr, pass.total)?;
            mix = Some(pass.mix.detach());
        }
        let Some(mix) = mix else { return Err(StepError::Failed("no generator step ran".into())) };
        let mut terms = g_terms;
        if weights.adv > 0.0 {
            // Discriminator step: real references, fake mixes.
            let d_loss = Self::adversarial(&self.discriminator, batch.reference.clone(), 1.0) + Self::adversarial(&self.discriminator, mix.clone(), 0.0);
            terms.extend(loss_values(vec![("d".to_string(), d_loss.clone())])?);
            let mut grads = d_loss.backward();
            let d_grads = GradientsParams::from_module(&mut grads, &self.discriminator);
            *self = input.guard.step(optimizer, config.lr_discriminator * input.lr_factor, self.clone(), d_grads)?;
        }
        if weights.cls > 0.0 {
            // Classifier step on the same mixes.
            let c_loss = Self::classifier_loss(&self.classifier, mix, &batch);
            terms.extend(loss_values(vec![("cls".to_string(), c_loss.clone())])?);
            let mut grads = c_loss.backward();
            let c_grads = GradientsParams::from_module(&mut grads, &self.classifier);
            *self = input.guard.step(optimizer, config.lr_classifier * input.lr_factor, self.clone(), c_grads)?;
        }
        Ok(StepReport { losses: terms, schedules: vec![], measures: vec![("replaced".to_string(), replaced)] })
    }

    fn explorable(self, config: &MixingScenesConfig, prepared: &Neighbours) -> Arc<dyn crate::capabilities::Explorable> {
        Arc::new(explore::Explored { model: self, config: config.clone(), index: prepared.0.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_neighbour_settings_out_of_range_are_refused() {
        assert_eq!(MixingScenesConfig::new().validate(), Ok(()));
        let with = |f: fn(&mut NeighbourConfig)| {
            let mut c = MixingScenesConfig::new();
            f(&mut c.neighbours);
            c.validate().unwrap_err()
        };
        assert!(with(|n| n.clusters = 0).contains("clusters"));
        assert!(with(|n| n.clusters = 1_000_000_000).contains("clusters"));
        assert!(with(|n| n.tau_quantile = -1.0).contains("tau_quantile"));
        assert!(with(|n| n.tau_quantile = f64::NAN).contains("tau_quantile"));
        assert!(with(|n| n.tau = Some(f64::INFINITY)).contains("tau"));
        assert!(with(|n| n.kmeans_iterations = 1_000_000_000).contains("kmeans_iterations"));
    }

    #[test]
    fn mask_zero_is_the_plain_reconstruction_and_masks_take_whole_chunks() {
        let device = Device::flex();
        let model = MixingScenesConfig::new().init(&device);
        let a = Tensor::<4>::random([2, 3, 64, 64], burn::tensor::Distribution::Uniform(-1.0, 1.0), &device);
        let b = Tensor::<4>::random([2, 3, 64, 64], burn::tensor::Distribution::Uniform(-1.0, 1.0), &device);
        let plain: Vec<f32> = model.decode(model.encode(a.clone())).into_data().try_to_vec().unwrap();
        let none: Vec<f32> = model.transfer(b.clone(), a.clone(), &[QuadrantMask::default(); 2]).into_data().try_to_vec().unwrap();
        assert!(plain.iter().zip(&none).all(|(x, y)| (x - y).abs() < 1e-5));
        // Mixing latents takes exactly the masked chunks.
        let c = model.chunk();
        let za = model.encode(a);
        let zb = model.encode(b);
        let masks = [QuadrantMask::parse("0010").unwrap(), QuadrantMask::parse("1100").unwrap()];
        let mixed: Vec<f32> = mix_by_weights(za.clone(), zb.clone(), mask_weights(&masks, c, &device)).into_data().try_to_vec().unwrap();
        let za: Vec<f32> = za.into_data().try_to_vec().unwrap();
        let zb: Vec<f32> = zb.into_data().try_to_vec().unwrap();
        for (i, mask) in masks.iter().enumerate() {
            let expected = mask.mix(&za[i * 4 * c..(i + 1) * 4 * c], &zb[i * 4 * c..(i + 1) * 4 * c]);
            assert!(expected.iter().zip(&mixed[i * 4 * c..(i + 1) * 4 * c]).all(|(x, y)| (x - y).abs() < 1e-6));
        }
    }

    #[test]
    fn replacement_chunks_put_each_encoded_candidates_chunk_at_its_reference_and_quadrant() {
        let device = Device::flex();
        let (b, chunk) = (2, 2);
        // Three encoded candidates: quadrant 0 for reference 1, quadrant 2 for references 0 and 1.
        let replaced = [(0, 1), (2, 0), (2, 1)];
        let codes: Vec<f32> = (0..3 * 4 * chunk).map(|v| v as f32).collect();
        let codes = Tensor::<2>::from_data(TensorData::new(codes, [3, 4 * chunk]), &device);
        let out: Vec<f32> = replacement_chunks(codes, &replaced, b, chunk).into_data().try_to_vec().unwrap();
        #[rustfmt::skip]
        let expected = [
            0.0, 0.0,  0.0, 0.0,  12.0, 13.0,  0.0, 0.0, // reference 0: quadrant 2 from code row 1
            0.0, 1.0,  0.0, 0.0,  20.0, 21.0,  0.0, 0.0, // reference 1: quadrant 0 from row 0, quadrant 2 from row 2
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn pixel_mask_collages_match_the_host_collage_and_random_masks_replace_one_to_three() {
        use rand::SeedableRng;
        let device = Device::flex();
        // ±1 images survive the trip to 8-bit pixels exactly.
        let sign = |seed: u64| {
            let mut rng = SeededRng::seed_from_u64(seed);
            let v: Vec<f32> = (0..2 * 3 * 64 * 64).map(|_| if rng.random_range(0..2) == 0 { -1.0 } else { 1.0 }).collect();
            Tensor::<4>::from_data(TensorData::new(v, [2, 3, 64, 64]), &device)
        };
        let (reference, object) = (sign(1), sign(2));
        let masks = [QuadrantMask::parse("0010").unwrap(), QuadrantMask::parse("0110").unwrap()];
        let mixed = to_host_images(mix_by_weights(reference.clone(), object.clone(), pixel_mask_weights(&masks, 3, 64, &device)));
        let (reference, object) = (to_host_images(reference), to_host_images(object));
        for i in 0..2 {
            assert_eq!(mixed[i], crate::eval::transfer::collage(&object[i], &reference[i], masks[i], 64));
        }
        let mut rng = SeededRng::seed_from_u64(3);
        let drawn: std::collections::HashSet<[bool; 4]> = (0..500).map(|_| random_partial_mask(&mut rng).0).collect();
        assert_eq!(drawn.len(), 14, "every mask with 1 to 3 replaced quadrants, and only those");
        assert!(drawn.iter().all(|m| (1..=3).contains(&m.iter().filter(|&&b| b).count())));
    }

    #[test]
    fn the_warm_up_length_can_be_set_on_a_running_config_and_stays_valid() {
        let config = MixingScenesConfig { rec_warmup: Some(1_000_000), warmup_collage: Some(1.0), ..MixingScenesConfig::new() };
        let mut model = super::super::ModelConfig::MixingScenes(config);
        model.set_hyperparameter("rec_warmup", 640.0).unwrap();
        let super::super::ModelConfig::MixingScenes(c) = &model else { unreachable!() };
        assert!(c.in_warmup(639) && !c.in_warmup(640));
        // Not a whole number of steps, and no warm-up under the collage term: refused, unchanged.
        assert!(model.set_hyperparameter("rec_warmup", 2.5).is_err());
        assert!(model.set_hyperparameter("rec_warmup", 0.0).unwrap_err().contains("warm-up"));
        let super::super::ModelConfig::MixingScenes(c) = &model else { unreachable!() };
        assert_eq!(c.rec_warmup, Some(640));
    }
}
