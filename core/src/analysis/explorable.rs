//! A trained model as the explorer sees it: inference only, from a checkpoint or from the
//! weights of a run in progress, with the questions every view may ask of it.

use std::path::{Path, PathBuf};

use burn::prelude::*;

use super::parts::{PartAnalysis, PartCode, analyse, decode_codes};
use super::traverse::{LatentCode, decode_latents, encode_latents};
use crate::checkpoint::read_meta;
use crate::train::step_rng;
use crate::data::HostImage;
use crate::data::fit::fit_image;
use crate::models::beta_vae::{BetaVae, BetaVaeConfig};
use crate::models::family::to_host_images;
use crate::models::patch_vae::{PatchVae, PatchVaeConfig};
use crate::models::mixing_scenes::{MixingScenes, MixingScenesConfig};
use crate::models::{FamilyVisitor, Prepared, Trainable};
use crate::mixing::QuadrantMask;
use crate::mixing::neighbours::NeighbourIndex;
use std::sync::Arc;

/// The model of one family with its config.
// A few kilobytes of module structs (the weights are behind burn's tensor handles), one
// per opened model: boxing the variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Family {
    BetaVae { model: BetaVae, config: BetaVaeConfig },
    PatchVae { model: PatchVae, config: PatchVaeConfig },
    /// With the neighbour lists of its training pool when the checkpoint or run has them.
    MixingScenes { model: MixingScenes, config: MixingScenesConfig, index: Option<Arc<NeighbourIndex>> },
}

/// Where the weights came from.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelOrigin {
    Checkpoint(PathBuf),
    /// A run in progress (its folder, if it has one).
    LiveRun(Option<PathBuf>),
}

/// Weights ready for inference, the step they were trained to and the run's seed.
#[derive(Debug, Clone)]
pub struct ExplorableModel {
    pub family: Family,
    pub step: u64,
    pub seed: u64,
    pub origin: ModelOrigin,
}

impl ExplorableModel {
    /// Loads a checkpoint of any family onto `device`; a bad checkpoint is refused with a
    /// message naming the file and the problem.
    pub fn load(dir: &Path, device: &Device) -> anyhow::Result<Self> {
        let meta = read_meta(dir)?;
        struct Load<'a>(&'a crate::checkpoint::CheckpointMeta, &'a Device);
        impl FamilyVisitor for Load<'_> {
            type Output = anyhow::Result<Family>;
            fn visit<M: Trainable>(self) -> anyhow::Result<Family> {
                let config = self.0.model_config::<M>()?.clone();
                let model: M = self.0.load_model(self.1)?;
                let prepared = Prepared::load(&self.0.dir)?;
                Ok(model.explorable(&config, &prepared))
            }
        }
        let family = meta.config.model.visit(Load(&meta, device))?;
        Ok(Self { family, step: meta.state.step, seed: meta.state.seed, origin: ModelOrigin::Checkpoint(dir.to_path_buf()) })
    }

    pub fn kind(&self) -> &'static str {
        match &self.family {
            Family::BetaVae { .. } => "beta-vae",
            Family::PatchVae { .. } => "patchvae",
            Family::MixingScenes { .. } => "mixing-scenes",
        }
    }

    pub fn image_size(&self) -> usize {
        match &self.family {
            Family::BetaVae { config, .. } => config.image_size,
            Family::PatchVae { config, .. } => config.image_size,
            Family::MixingScenes { config, .. } => config.image_size,
        }
    }

    pub fn channels(&self) -> usize {
        match &self.family {
            Family::BetaVae { config, .. } => config.channels,
            Family::PatchVae { config, .. } => config.channels,
            Family::MixingScenes { config, .. } => config.channels,
        }
    }

    pub fn device(&self) -> Device {
        match &self.family {
            Family::BetaVae { model, .. } => model.devices().into_iter().next().unwrap_or_else(Device::flex),
            Family::PatchVae { model, .. } => model.devices().into_iter().next().unwrap_or_else(Device::flex),
            Family::MixingScenes { model, .. } => model.devices().into_iter().next().unwrap_or_else(Device::flex),
        }
    }

    /// One line naming the model: family, origin and step.
    pub fn describe(&self) -> String {
        let origin = match &self.origin {
            ModelOrigin::Checkpoint(dir) => dir.display().to_string(),
            ModelOrigin::LiveRun(Some(dir)) => format!("live run {}", dir.display()),
            ModelOrigin::LiveRun(None) => "live run".to_string(),
        };
        format!("{} — {origin}, step {}", self.kind(), self.step)
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
        let x = self.batch(images);
        match &self.family {
            Family::BetaVae { model, config } => to_host_images(model.reconstruct(x, config, self.step)),
            Family::PatchVae { model, config } => to_host_images(Trainable::reconstruct(model, x, config, self.step)),
            Family::MixingScenes { model, config, .. } => to_host_images(Trainable::reconstruct(model, x, config, self.step)),
        }
    }

    /// PatchVAE part analysis of `images` (noise drawn from the run's seed and step, so
    /// the same model and images always give the same maps); `None` for other families.
    pub fn analyse_parts(&self, images: &[HostImage]) -> Option<Vec<PartAnalysis>> {
        let Family::PatchVae { model, config } = &self.family else { return None };
        if images.is_empty() {
            return Some(vec![]);
        }
        let mut rng = step_rng(self.seed, self.step);
        Some(analyse(model, config, self.step, self.batch(images), &mut rng))
    }

    /// Decodes PatchVAE part codes; `None` for other families.
    pub fn decode_part_codes(&self, codes: &[PartCode]) -> Option<Vec<HostImage>> {
        let Family::PatchVae { model, .. } = &self.family else { return None };
        Some(decode_codes(model, codes, &self.device()))
    }

    /// β-VAE posteriors of `images`; `None` for other families.
    pub fn encode_latents(&self, images: &[HostImage]) -> Option<Vec<LatentCode>> {
        let Family::BetaVae { model, .. } = &self.family else { return None };
        if images.is_empty() {
            return Some(vec![]);
        }
        Some(encode_latents(model, self.batch(images)))
    }

    /// Decodes β-VAE latent vectors; `None` for other families.
    pub fn decode_latents(&self, codes: &[Vec<f32>]) -> Option<Vec<HostImage>> {
        let Family::BetaVae { model, config } = &self.family else { return None };
        Some(decode_latents(model, config, codes, &self.device()))
    }

    /// `n` samples from the prior, drawn from `seed`.
    pub fn sample_prior(&self, n: usize, seed: u64) -> Vec<HostImage> {
        let mut rng = step_rng(seed, 0);
        let device = self.device();
        match &self.family {
            Family::BetaVae { model, config } => model.sample_prior(config, n, &mut rng, &device),
            Family::PatchVae { model, config } => model.sample_prior(config, n, &mut rng, &device),
            Family::MixingScenes { .. } => vec![],
        }
    }

    /// Number of parts (PatchVAE); `None` for other families.
    pub fn parts(&self) -> Option<usize> {
        match &self.family {
            Family::PatchVae { config, .. } => Some(config.parts),
            _ => None,
        }
    }

    /// Latent size (β-VAE) or appearance size per part (PatchVAE).
    pub fn latent_dims(&self) -> usize {
        match &self.family {
            Family::BetaVae { config, .. } => config.latent,
            Family::PatchVae { config, .. } => config.part_dim,
            Family::MixingScenes { model, .. } => 4 * model.chunk(),
        }
    }

    /// Mixing scenes: renders `reference` with the quadrants set in each mask taken from
    /// `object` (one output per mask); `None` for other families.
    pub fn transfer(&self, object: &HostImage, reference: &HostImage, masks: &[QuadrantMask]) -> Option<Vec<HostImage>> {
        let n = masks.len();
        self.transfer_pairs(&vec![object.clone(); n], &vec![reference.clone(); n], masks)
    }

    /// Mixing scenes: object transfer for pairs, `objects[i]` into `references[i]` with
    /// `masks[i]`; `None` for other families or unequal lengths.
    pub fn transfer_pairs(&self, objects: &[HostImage], references: &[HostImage], masks: &[QuadrantMask]) -> Option<Vec<HostImage>> {
        let Family::MixingScenes { model, .. } = &self.family else { return None };
        if objects.len() != masks.len() || references.len() != masks.len() {
            return None;
        }
        if masks.is_empty() {
            return Some(vec![]);
        }
        Some(to_host_images(model.transfer(self.batch(objects), self.batch(references), masks)))
    }

    /// Mixing scenes: latents of `images`, chunk-major (TL, TR, BL, BR).
    pub fn encode_chunks(&self, images: &[HostImage]) -> Option<Vec<Vec<f32>>> {
        let Family::MixingScenes { model, .. } = &self.family else { return None };
        if images.is_empty() {
            return Some(vec![]);
        }
        let z = model.encode(self.batch(images));
        let [b, d] = z.dims();
        let values: Vec<f32> = z.into_data().convert::<f32>().try_to_vec::<f32>().ok()?;
        Some((0..b).map(|i| values[i * d..(i + 1) * d].to_vec()).collect())
    }

    /// Mixing scenes: decodes chunked latents.
    pub fn decode_chunks(&self, codes: &[Vec<f32>]) -> Option<Vec<HostImage>> {
        let Family::MixingScenes { model, .. } = &self.family else { return None };
        let d = 4 * model.chunk();
        if codes.is_empty() || codes.iter().any(|c| c.len() != d) {
            return None;
        }
        let values: Vec<f32> = codes.concat();
        let z = Tensor::<2>::from_data(TensorData::new(values, [codes.len(), d]), &self.device());
        Some(to_host_images(model.decode(z)))
    }

    /// Mixing scenes: the neighbour lists of the training pool, when known.
    pub fn neighbour_index(&self) -> Option<&Arc<NeighbourIndex>> {
        match &self.family {
            Family::MixingScenes { index, .. } => index.as_ref(),
            _ => None,
        }
    }
}
