//! A trained model as the explorer sees it: inference only, from a checkpoint or from the
//! weights of a run in progress, with the questions every view may ask of it. Each question
//! goes to a capability of the model ([`crate::capabilities`]); a model without it answers
//! `None`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::prelude::*;

use crate::capabilities::parts::{PartAnalysis, PartCode};
use crate::capabilities::{Capability, ChunkMixer, Explorable, FactorSplit, LatentCode, LatentSpace, PartSpace, SplitCode, SplitNames};
use crate::checkpoint::read_meta;
use crate::data::HostImage;
use crate::data::fit::fit_image;
use crate::families::trainable::to_host_images;
use crate::families::{FamilyKind, FamilyVisitor, ModelConfig, Preparation, Trainable};
use crate::mixing::QuadrantMask;
use crate::mixing::neighbours::NeighbourIndex;
use crate::nn::init_seeded;
use crate::train::step_rng;

/// Where the weights came from.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelOrigin {
    Checkpoint(PathBuf),
    /// A run in progress (its folder, if it has one).
    LiveRun(Option<PathBuf>),
}

/// Weights ready for inference, their family, the step they were trained to and the run's
/// seed. Cheap to clone: the model is shared.
#[derive(Debug, Clone)]
pub struct ExplorableModel {
    pub kind: FamilyKind,
    pub model: Arc<dyn Explorable>,
    pub step: u64,
    pub seed: u64,
    pub origin: ModelOrigin,
}

impl ExplorableModel {
    /// Loads a checkpoint of any family (or a run folder's) onto `device`; a bad checkpoint
    /// is refused with a message naming the file and the problem.
    pub fn load(dir: &Path, device: &Device) -> anyhow::Result<Self> {
        let meta = read_meta(dir)?;
        struct Load<'a>(&'a crate::checkpoint::CheckpointMeta, &'a Device);
        impl FamilyVisitor for Load<'_> {
            type Output = anyhow::Result<Arc<dyn Explorable>>;
            fn visit<M: Trainable>(self) -> Self::Output {
                let config = self.0.model_config::<M>()?.clone();
                let model: M = self.0.load_model(self.1)?;
                let prepared = M::Prepared::load(&self.0.dir)?;
                Ok(model.explorable(&config, &prepared))
            }
        }
        let model = meta.config.model.visit(Load(&meta, device))?;
        Ok(Self { kind: meta.config.model.kind(), model, step: meta.state.step, seed: meta.state.seed, origin: ModelOrigin::Checkpoint(meta.dir.clone()) })
    }

    /// A freshly initialised model of `config` (seed 1), for benchmarks and tests.
    pub fn untrained(config: &ModelConfig, device: &Device, origin: ModelOrigin) -> anyhow::Result<Self> {
        struct Build<'a>(&'a ModelConfig, &'a Device);
        impl FamilyVisitor for Build<'_> {
            type Output = anyhow::Result<Arc<dyn Explorable>>;
            fn visit<M: Trainable>(self) -> Self::Output {
                let config = M::config_of(self.0).ok_or_else(|| anyhow::anyhow!("model family mismatch"))?.clone();
                Ok(init_seeded(self.1, 1, |d| M::build(&config, d)).explorable(&config, &M::Prepared::default()))
            }
        }
        let model = config.visit(Build(config, device))?;
        Ok(Self { kind: config.kind(), model, step: 0, seed: 1, origin })
    }

    pub fn kind(&self) -> FamilyKind {
        self.kind
    }

    pub fn image_size(&self) -> usize {
        self.model.image_size()
    }

    pub fn channels(&self) -> usize {
        self.model.channels()
    }

    pub fn device(&self) -> Device {
        self.model.device()
    }

    pub fn offers(&self, capability: Capability) -> bool {
        self.model.offers(capability)
    }

    /// One line naming the model: family, origin and step.
    pub fn describe(&self) -> String {
        let origin = match &self.origin {
            ModelOrigin::Checkpoint(dir) => dir.display().to_string(),
            ModelOrigin::LiveRun(Some(dir)) => format!("live run {}", dir.display()),
            ModelOrigin::LiveRun(None) => "live run".to_string(),
        };
        format!("{} — {origin}, step {}", self.kind, self.step)
    }

    /// Images fitted to the model's input (size, channels) as a batch in [−1, 1].
    pub fn batch(&self, images: &[HostImage]) -> Tensor<4> {
        let (size, channels) = (self.image_size(), self.channels());
        let values: Vec<f32> = images.iter().flat_map(|img| fit_image(img, size, channels)).collect();
        Tensor::<4>::from_data(TensorData::new(values, [images.len(), channels, size, size]), &self.device())
    }

    /// Deterministic reconstructions (posterior means).
    pub fn reconstruct(&self, images: &[HostImage]) -> Vec<HostImage> {
        if images.is_empty() {
            return vec![];
        }
        to_host_images(self.model.reconstruct(self.batch(images), self.step))
    }

    fn part_space(&self) -> Option<&dyn PartSpace> {
        self.model.parts()
    }

    fn latent_space(&self) -> Option<&dyn LatentSpace> {
        self.model.latents()
    }

    fn chunk_mixer(&self) -> Option<&dyn ChunkMixer> {
        self.model.chunks()
    }

    /// Part analysis of `images` (noise drawn from the run's seed and step, so the same
    /// model and images always give the same maps); `None` for a model without parts.
    pub fn analyse_parts(&self, images: &[HostImage]) -> Option<Vec<PartAnalysis>> {
        let parts = self.part_space()?;
        if images.is_empty() {
            return Some(vec![]);
        }
        let mut rng = step_rng(self.seed, self.step);
        Some(parts.analyse(self.batch(images), self.step, &mut rng))
    }

    /// Occurrence probabilities `[b, parts, grid, grid]` of a batch (see [`Self::batch`]),
    /// flattened.
    pub fn occurrence_probabilities(&self, x: Tensor<4>) -> Option<Vec<f32>> {
        Some(self.part_space()?.occurrence_probabilities(x))
    }

    /// Decodes part codes; `None` for a model without parts.
    pub fn decode_part_codes(&self, codes: &[PartCode]) -> Option<Vec<HostImage>> {
        Some(self.part_space()?.decode(codes))
    }

    /// Posteriors of `images`; `None` for a model without a latent vector.
    pub fn encode_latents(&self, images: &[HostImage]) -> Option<Vec<LatentCode>> {
        let latents = self.latent_space()?;
        if images.is_empty() {
            return Some(vec![]);
        }
        Some(latents.encode(self.batch(images)))
    }

    /// Decodes latent vectors; `None` for a model without a latent vector.
    pub fn decode_latents(&self, codes: &[Vec<f32>]) -> Option<Vec<HostImage>> {
        Some(self.latent_space()?.decode(codes))
    }

    /// `n` samples from the prior, drawn from `seed`; none for a model without a prior.
    pub fn sample_prior(&self, n: usize, seed: u64) -> Vec<HostImage> {
        let mut rng = step_rng(seed, 0);
        self.model.prior().map(|p| p.sample(n, &mut rng)).unwrap_or_default()
    }

    /// Number of parts; `None` for a model without parts.
    pub fn parts(&self) -> Option<usize> {
        self.part_space().map(|p| p.parts())
    }

    /// The part grid's side; `None` for a model without parts.
    pub fn part_grid(&self) -> Option<usize> {
        self.part_space().map(|p| p.grid())
    }

    /// Latent size, appearance size per part, or the chunks' total size.
    pub fn latent_dims(&self) -> usize {
        match (self.latent_space(), self.part_space(), self.chunk_mixer()) {
            (Some(l), _, _) => l.dims(),
            (_, Some(p), _) => p.part_dim(),
            (_, _, Some(c)) => 4 * c.chunk(),
            _ => 0,
        }
    }

    /// Renders `reference` with the quadrants set in each mask taken from `object` (one
    /// output per mask); `None` for a model without quadrant chunks.
    pub fn transfer(&self, object: &HostImage, reference: &HostImage, masks: &[QuadrantMask]) -> Option<Vec<HostImage>> {
        let n = masks.len();
        self.transfer_pairs(&vec![object.clone(); n], &vec![reference.clone(); n], masks)
    }

    /// Object transfer for pairs, `objects[i]` into `references[i]` with `masks[i]`;
    /// `None` for a model without quadrant chunks or unequal lengths.
    pub fn transfer_pairs(&self, objects: &[HostImage], references: &[HostImage], masks: &[QuadrantMask]) -> Option<Vec<HostImage>> {
        let chunks = self.chunk_mixer()?;
        if objects.len() != masks.len() || references.len() != masks.len() {
            return None;
        }
        if masks.is_empty() {
            return Some(vec![]);
        }
        Some(to_host_images(chunks.transfer(self.batch(objects), self.batch(references), masks)))
    }

    /// Latents of `images`, chunk-major (TL, TR, BL, BR).
    pub fn encode_chunks(&self, images: &[HostImage]) -> Option<Vec<Vec<f32>>> {
        let chunks = self.chunk_mixer()?;
        if images.is_empty() {
            return Some(vec![]);
        }
        let z = chunks.encode(self.batch(images));
        let [b, d] = z.dims();
        let values: Vec<f32> = z.into_data().convert::<f32>().try_to_vec::<f32>().ok()?;
        Some((0..b).map(|i| values[i * d..(i + 1) * d].to_vec()).collect())
    }

    /// Decodes chunked latents.
    pub fn decode_chunks(&self, codes: &[Vec<f32>]) -> Option<Vec<HostImage>> {
        let chunks = self.chunk_mixer()?;
        let d = 4 * chunks.chunk();
        if codes.is_empty() || codes.iter().any(|c| c.len() != d) {
            return None;
        }
        let values: Vec<f32> = codes.concat();
        let z = Tensor::<2>::from_data(TensorData::new(values, [codes.len(), d]), &self.device());
        Some(to_host_images(chunks.decode(z)))
    }

    fn factor_split(&self) -> Option<&dyn FactorSplit> {
        self.model.split()
    }

    /// The names and (unspecified, specified) sizes of a split latent; `None` without one.
    pub fn split(&self) -> Option<(SplitNames, (usize, usize))> {
        self.factor_split().map(|s| (s.names(), s.dims()))
    }

    /// Split codes of `images`; `None` for a model without a split latent.
    pub fn encode_split(&self, images: &[HostImage]) -> Option<Vec<SplitCode>> {
        let split = self.factor_split()?;
        if images.is_empty() {
            return Some(vec![]);
        }
        Some(split.encode(self.batch(images)))
    }

    /// Decodes (unspecified, specified) pairs; `None` for a model without a split latent.
    pub fn decode_split(&self, codes: &[(Vec<f32>, Vec<f32>)]) -> Option<Vec<HostImage>> {
        let split = self.factor_split()?;
        if codes.is_empty() {
            return Some(vec![]);
        }
        Some(split.decode(codes))
    }

    /// The neighbour lists of the training pool, when known.
    pub fn neighbour_index(&self) -> Option<&Arc<NeighbourIndex>> {
        self.chunk_mixer()?.neighbour_index()
    }
}
