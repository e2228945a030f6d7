//! How a β-VAE trains (one Adam step on the β or capacity objective) and what the explorer
//! can ask of a trained one: its latent space and samples from the prior.

use std::sync::Arc;

use burn::prelude::*;
use crate::rng::SeededRng;

use super::{BetaVae, BetaVaeConfig, BetaVaeHyper};
use crate::capabilities::{Explorable, PriorSampler, LatentCode, LatentSpace};
use crate::data::HostImage;
use crate::families::trainable::{explorable_from_trainable, StepLoss, Trainable, normal_noise, to_host_images};
use crate::nn::blocks::Resnet9;

impl Trainable for BetaVae {
    type Config = BetaVaeConfig;
    type Prepared = ();

    fn build(config: &BetaVaeConfig, device: &Device) -> Self {
        config.init(device)
    }

    fn loss(&self, x: Tensor<4>, config: &BetaVaeConfig, step: u64, rng: &mut SeededRng) -> StepLoss {
        let [b, ..] = x.dims();
        let device = x.device();
        let eps = Tensor::<2>::from_data(TensorData::new(normal_noise(rng, b * self.latent), [b, self.latent]), &device);
        let hyper = BetaVaeHyper { beta: config.beta, recon: config.recon, capacity: config.capacity, step, weighted: config.weighted_loss };
        let out = self.loss(x, eps, &hyper);
        StepLoss {
            total: out.total,
            terms: vec![("recon", out.recon), ("kl", out.kl)],
            schedules: out.capacity.map(|c| vec![("capacity", c)]).unwrap_or_default(),
        }
    }

    fn reconstruct(&self, x: Tensor<4>, config: &BetaVaeConfig, _step: u64) -> Tensor<4> {
        let post = self.encode(x);
        BetaVae::to_image(self.decode_logits(post.mu), config.recon)
    }

    fn sample_prior(&self, config: &BetaVaeConfig, n: usize, rng: &mut SeededRng, device: &Device) -> Vec<HostImage> {
        let z = Tensor::<2>::from_data(TensorData::new(normal_noise(rng, n * self.latent), [n, self.latent]), device);
        to_host_images(BetaVae::to_image(self.decode_logits(z), config.recon))
    }

    fn backbone(&self) -> Option<&Resnet9> {
        self.resnet_backbone()
    }

    fn explorable(self, config: &BetaVaeConfig, _prepared: &()) -> Arc<dyn Explorable> {
        Arc::new(Explored { model: self, config: config.clone() })
    }
}


/// A trained β-VAE for the explorer.
#[derive(Debug)]
struct Explored {
    model: BetaVae,
    config: BetaVaeConfig,
}

impl Explorable for Explored {
    explorable_from_trainable!();
    fn prior(&self) -> Option<&dyn PriorSampler> {
        Some(self)
    }
    fn latents(&self) -> Option<&dyn LatentSpace> {
        Some(self)
    }
}

impl LatentSpace for Explored {
    fn dims(&self) -> usize {
        self.model.latent
    }

    /// Encodes a batch `[b, c, h, w]` in [−1, 1].
    fn encode(&self, x: Tensor<4>) -> Vec<LatentCode> {
        let model = &self.model;
        let [b, ..] = x.dims();
        let post = model.encode(x);
        let z = model.latent;
        let mu: Vec<f32> = post.mu.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
        let var: Vec<f32> = post.logvar.exp().into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default();
        (0..b).map(|i| LatentCode { mu: mu[i * z..(i + 1) * z].to_vec(), var: var[i * z..(i + 1) * z].to_vec() }).collect()
    }

    /// Decodes latent vectors (each of the model's latent size) to images.
    fn decode(&self, codes: &[Vec<f32>]) -> Vec<HostImage> {
        let (model, config, device) = (&self.model, &self.config, &self.device());
        if codes.is_empty() {
            return vec![];
        }
        let z = model.latent;
        let flat: Vec<f32> = codes.iter().flat_map(|c| crate::families::trainable::padded(c, z)).collect();
        let t = Tensor::<2>::from_data(TensorData::new(flat, [codes.len(), z]), device);
        to_host_images(BetaVae::to_image(model.decode_logits(t), config.recon))
    }
}

impl PriorSampler for Explored {
    fn sample(&self, n: usize, rng: &mut SeededRng) -> Vec<HostImage> {
        Trainable::sample_prior(&self.model, &self.config, n, rng, &self.device())
    }
}
