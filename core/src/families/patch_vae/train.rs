//! How a PatchVAE trains (one Adam step on its ELBO, with the GAN variant's discriminator
//! term where set) and what the explorer can ask of a trained one: its parts (occurrence
//! maps, appearances, swaps) and samples from the prior.

use std::sync::Arc;

use burn::prelude::*;
use crate::rng::SeededRng;

use super::{OccurrenceSampling, PatchVae, PatchVaeConfig, occurrence_mode, sample_occurrence};
use crate::analysis::heat::overlay;
use crate::capabilities::parts::{PartAnalysis, PartCode};
use crate::capabilities::{Explorable, PriorSampler, PartSpace};
use crate::data::HostImage;
use crate::families::trainable::{explorable_from_trainable, StepLoss, Trainable, normal_noise, to_host_images, uniform_noise};
use crate::nn::blocks::Resnet9;

impl Trainable for PatchVae {
    type Config = PatchVaeConfig;
    type Prepared = ();

    fn build(config: &PatchVaeConfig, device: &Device) -> Self {
        config.init(device)
    }

    fn loss(&self, x: Tensor<4>, config: &PatchVaeConfig, step: u64, rng: &mut SeededRng) -> StepLoss {
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
        StepLoss { total: out.total, terms, schedules: vec![("temperature", config.temperature.at(step))] }
    }

    fn reconstruct(&self, x: Tensor<4>, config: &PatchVaeConfig, step: u64) -> Tensor<4> {
        PatchVae::reconstruct(self, x, config, step)
    }

    /// Samples from the prior as the official code draws them: binary occurrence maps
    /// with the prior probability, standard normal appearances.
    fn sample_prior(&self, config: &PatchVaeConfig, b: usize, rng: &mut SeededRng, device: &Device) -> Vec<HostImage> {
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

    /// Samples from the prior, and every part's occurrence probability over the first
    /// input, in red over it as the Parts view draws it: scrubbing back through a run's
    /// snapshots shows the parts emerge.
    fn snapshot_extras(&self, x: Tensor<4>, config: &PatchVaeConfig, _step: u64, rng: &mut SeededRng) -> Vec<(String, Vec<HostImage>)> {
        let [b, c, h, w] = x.dims();
        let samples = self.sample_prior(config, b, rng, &x.device());
        let (n, g) = (self.parts, self.grid());
        let first = x.slice([0..1, 0..c, 0..h, 0..w]);
        let probs = to_vec(self.encode(first.clone(), config.sampling).probs);
        let maps = match to_host_images(first).first() {
            Some(image) => probs.chunks_exact(g * g).take(n).map(|map| overlay(image, map, g, PART_MAP_OPACITY)).collect(),
            None => vec![],
        };
        vec![("samples".into(), samples), (PART_MAPS.into(), maps)]
    }

    fn backbone(&self) -> Option<&Resnet9> {
        Some(&self.backbone)
    }

    fn explorable(self, config: &PatchVaeConfig, _prepared: &()) -> Arc<dyn Explorable> {
        Arc::new(Explored { model: self, config: config.clone() })
    }
}

/// A trained PatchVAE for the explorer.
#[derive(Debug)]
struct Explored {
    model: PatchVae,
    config: PatchVaeConfig,
}

impl Explorable for Explored {
    explorable_from_trainable!();
    fn prior(&self) -> Option<&dyn PriorSampler> {
        Some(self)
    }
    fn parts(&self) -> Option<&dyn PartSpace> {
        Some(self)
    }
}

impl PriorSampler for Explored {
    fn sample(&self, n: usize, rng: &mut SeededRng) -> Vec<HostImage> {
        Trainable::sample_prior(&self.model, &self.config, n, rng, &self.device())
    }
}

impl PartSpace for Explored {
    fn parts(&self) -> usize {
        self.model.parts
    }
    fn part_dim(&self) -> usize {
        self.model.part_dim
    }
    fn grid(&self) -> usize {
        self.model.grid()
    }
    fn analyse(&self, x: Tensor<4>, step: u64, rng: &mut SeededRng) -> Vec<PartAnalysis> {
        analyse(&self.model, &self.config, step, x, rng)
    }
    fn occurrence_probabilities(&self, x: Tensor<4>) -> Vec<f32> {
        to_vec(self.model.encode(x, self.config.sampling).probs)
    }
    fn decode(&self, codes: &[PartCode]) -> Vec<HostImage> {
        decode_codes(&self.model, codes, &self.device())
    }
}

/// The snapshot grid of every part's occurrence map over the first input.
pub const PART_MAPS: &str = "each part's occurrence map of the first input";

/// How strongly the snapshot's part maps redden their image where a part certainly is.
const PART_MAP_OPACITY: f32 = 0.8;

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default()
}

/// Analyses a batch `[b, c, h, w]` in [−1, 1] with a model as trained up to `step`.
fn analyse(model: &PatchVae, config: &PatchVaeConfig, step: u64, x: Tensor<4>, rng: &mut SeededRng) -> Vec<PartAnalysis> {
    let [b, ..] = x.dims();
    let (n, d, g) = (model.parts, model.part_dim, model.grid());
    let device = x.device();
    let post = model.encode(x, config.sampling);
    let temperature = config.temperature.at(step);
    let u = Tensor::<4>::from_data(TensorData::new(uniform_noise(rng, b * n * g * g), [b, n, g, g]), &device);
    let sampled = to_vec(sample_occurrence(post.logits.clone(), u, config.sampling, temperature));
    let mode = occurrence_mode(post.logits, config.sampling, temperature);
    let recon = to_host_images(model.decode_parts(mode.clone(), post.app_mu.clone()));
    let (probs, mode, mu, var) = (to_vec(post.probs), to_vec(mode), to_vec(post.app_mu), to_vec(post.app_var));
    let (per_map, per_app) = (n * g * g, n * d);
    recon
        .into_iter()
        .enumerate()
        .map(|(i, reconstruction)| PartAnalysis {
            probabilities: probs[i * per_map..(i + 1) * per_map].to_vec(),
            sampled: sampled[i * per_map..(i + 1) * per_map].to_vec(),
            code: PartCode {
                parts: n,
                part_dim: d,
                grid: g,
                occurrence: mode[i * per_map..(i + 1) * per_map].to_vec(),
                appearance: mu[i * per_app..(i + 1) * per_app].to_vec(),
            },
            appearance_var: var[i * per_app..(i + 1) * per_app].to_vec(),
            reconstruction,
        })
        .collect()
}

/// Decodes part codes (all of the model's shape) to images.
fn decode_codes(model: &PatchVae, codes: &[PartCode], device: &Device) -> Vec<HostImage> {
    if codes.is_empty() {
        return vec![];
    }
    let (n, d, g) = (model.parts, model.part_dim, model.grid());
    let b = codes.len();
    let occ: Vec<f32> = codes.iter().flat_map(|c| c.occurrence.iter().copied()).collect();
    let app: Vec<f32> = codes.iter().flat_map(|c| c.appearance.iter().copied()).collect();
    let occ = Tensor::<4>::from_data(TensorData::new(occ, [b, n, g, g]), device);
    let app = Tensor::<3>::from_data(TensorData::new(app, [b, n, d]), device);
    to_host_images(model.decode_parts(occ, app))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::parts::tests::code;

    #[test]
    fn the_host_part_code_has_the_models_layout() {
        let (n, d, g) = (5, 3, 4);
        let target = code(n, d, g, 1);
        let device = Device::flex();
        let t = super::super::patch_code(
            Tensor::<4>::from_data(TensorData::new(target.occurrence.clone(), [1, n, g, g]), &device),
            Tensor::<3>::from_data(TensorData::new(target.appearance.clone(), [1, n, d]), &device),
        );
        let t = to_vec(t);
        assert!(t.iter().zip(&target.patch_code()).all(|(a, b)| (a - b).abs() < 1e-6));
    }

    #[test]
    fn analysis_reconstruction_equals_decoding_its_code() {
        let device = Device::flex();
        let cfg = PatchVaeConfig::new().with_channels(1).with_parts(4).with_part_dim(2);
        let model = crate::nn::init_seeded(&device, 5, |d| cfg.init(d));
        let x = Tensor::<4>::zeros([2, 1, 32, 32], &device);
        let mut rng = crate::train::step_rng(1, 0);
        let analysis = analyse(&model, &cfg, 0, x, &mut rng);
        assert_eq!(analysis.len(), 2);
        assert_eq!(analysis[0].probabilities.len(), 4 * 16);
        let decoded = decode_codes(&model, &[analysis[1].code.clone()], &device);
        assert_eq!(decoded[0], analysis[1].reconstruction);
    }

    #[test]
    fn snapshots_carry_every_parts_map_of_the_first_input_at_its_size() {
        let device = Device::flex();
        let cfg = PatchVaeConfig::new().with_channels(1).with_parts(4).with_part_dim(2);
        let model = crate::nn::init_seeded(&device, 5, |d| cfg.init(d));
        let x = Tensor::<4>::zeros([3, 1, 32, 32], &device);
        let extras = model.snapshot_extras(x.clone(), &cfg, 0, &mut crate::train::step_rng(1, 0));
        let (name, maps) = &extras[1];
        assert_eq!((name.as_str(), maps.len(), maps[0].width, maps[0].height), (PART_MAPS, 4, 32, 32));
        // Each map is the first image's occurrence probabilities over it, cell by cell.
        let first = x.slice([0..1, 0..1, 0..32, 0..32]);
        let probs = to_vec(model.encode(first.clone(), cfg.sampling).probs);
        assert_eq!(maps[2], overlay(&to_host_images(first)[0], &probs[2 * 16..3 * 16], 4, PART_MAP_OPACITY));
        assert_eq!(extras[0].1.len(), 3, "samples, one per input");
    }
}
