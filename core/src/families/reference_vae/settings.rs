//! The reference-based VAE's settings table and its place in the registry.

use super::{Objective, PixelReduction, PoolBatch, ReferenceVaeConfig};
use crate::bench::BenchSettings;
use crate::capabilities::Capability;
use crate::families::settings::{Configurable, Kind, Role, Setting, Value, choice, choice_of, count, number, switch};
use crate::families::{FamilyConfig, FamilyInfo};

const OBJECTIVES: &[&str] = &["srb-vae", "rb-vae", "vae", "beta-vae", "dip-vae-i"];
const REDUCTIONS: &[&str] = &["sum", "mean"];
const POOL_BATCHES: &[&str] = &["per-pool", "total"];
const WEIGHT: Kind = Kind::Number { min: 0.0, max: 1000.0, speed: 0.1 };
/// Live, but not plotted with every step: the measures (discriminator accuracies, e_effect)
/// share that plot and are what a user watches; the weights are in config.json.
const LIVE: Role = Role::Live { logged: false };

static SETTINGS: [Setting; 15] = [
    Setting::new(
        "objective",
        "objective",
        "objective",
        Kind::Choice(OBJECTIVES),
        Role::Objective,
        "what the run optimises\nsrb-vae: the symmetric KL, adversarially with two discriminators, plus Eq. 10's reconstructions (the paper's method)\nrb-vae: the plain ELBO of Eq. 3 (can learn to ignore e)\nvae, beta-vae, dip-vae-i: the paper's baselines on the same networks, from the unlabelled pool alone, z ⊕ e as one code",
    ),
    Setting::new("target_dim", "e-dim", "target e size", Kind::Count { min: 1, max: 4096 }, Role::Network, "target-factor dimensions e (the paper's 32)"),
    Setting::new("common_dim", "z-dim", "common z size", Kind::Count { min: 1, max: 4096 }, Role::Network, "common-factor dimensions z (the paper's 32)"),
    Setting::new("image_size", "size", "image size", Kind::Size(&[32, 64, 96, 128]), Role::Network, "image side, a multiple of 16 (the paper's 64 for MNIST, 96 for faces)"),
    Setting::new("channels", "channels", "channels", Kind::Count { min: 1, max: 3 }, Role::Network, "image channels, 1 = grey or 3 = RGB (default: the data's)").not_in_form(),
    Setting::new("width", "width", "width", Kind::Count { min: 1, max: 256 }, Role::Network, "channels of the first block; the blocks have 1, 2, 4 and 8 times it (the paper's 32; 16 quarters the cost for CPU runs)"),
    Setting::new("laplace_b", "laplace-b", "Laplace b", Kind::Number { min: 1e-6, max: 100.0, speed: 0.001 }, Role::Objective, "scale b of the Laplace likelihood: −log p(x|z,e) = ℓ1 / b (the paper's 0.01)"),
    Setting::new(
        "pixel_reduction",
        "pixel-reduction",
        "ℓ1 over pixels",
        Kind::Choice(REDUCTIONS),
        Role::Objective,
        "how ℓ1/b is reduced over an image's pixels, which the paper does not say\nsum: the likelihood as written (default; with the mean, Rb-VAE's and the baselines' posteriors collapsed)\nmean: the mean over pixels, PyTorch's L1Loss default (it weighs sRb-VAE's adversarial and latent terms ~10⁴ times more)",
    ),
    Setting::new("reconstruction_weight", "reconstruction-weight", "λ Eq. 10", WEIGHT, LIVE, "sRb-VAE: weight of Eq. 10's reconstruction terms beside Eq. 8's adversarial ones (the paper gives none: 1)"),
    Setting::new("image_terms", "no-image-terms", "Eq. 10 image terms", Kind::Switch, Role::Objective, "sRb-VAE: ℓ1/b reconstruction of the images of both pools (the paper's; off: its ablation)"),
    Setting::new("latent_terms", "no-latent-terms", "Eq. 10 latent terms", Kind::Switch, Role::Objective, "sRb-VAE: −log q of prior codes under the encoders of their generated images (the paper's; off: its ablation)"),
    Setting::new("dropout", "dropout", "discriminator dropout", Kind::Number { min: 0.0, max: 0.95, speed: 0.01 }, Role::Objective, "sRb-VAE: dropout on the inputs of the discriminators' last hidden layer, so they cannot ignore the latents (the paper's 0.25; 0 is its ablation)"),
    Setting::new("beta", "beta", "β", WEIGHT, LIVE, "β-VAE's weight on the KL (the paper sweeps [1, 50])"),
    Setting::new("dip_lambda", "dip-lambda", "λ_od", WEIGHT, LIVE, "DIP-VAE-I's off-diagonal weight λ_od, with λ_d = 10 λ_od (the paper sweeps [1, 50])"),
    Setting::new(
        "pool_batch",
        "pool-batch",
        "batch counts",
        Kind::Choice(POOL_BATCHES),
        Role::Objective,
        "what the batch size counts (the paper's 36 does not say)\nper-pool: that many images of each pool per step (Algorithm 1's reading; default)\ntotal: half from each pool",
    ),
];

impl Configurable for ReferenceVaeConfig {
    fn settings(&self) -> &'static [Setting] {
        &SETTINGS
    }

    fn get(&self, name: &str) -> Option<Value> {
        Some(match name {
            "objective" => choice_of(&self.objective, OBJECTIVES),
            "target_dim" => Value::Count(self.target_dim as u64),
            "common_dim" => Value::Count(self.common_dim as u64),
            "image_size" => Value::Count(self.image_size as u64),
            "channels" => Value::Count(self.channels as u64),
            "width" => Value::Count(self.width as u64),
            "laplace_b" => Value::Number(self.laplace_b),
            "pixel_reduction" => choice_of(&self.pixel_reduction, REDUCTIONS),
            "reconstruction_weight" => Value::Number(self.reconstruction_weight),
            "image_terms" => Value::Switch(self.image_terms),
            "latent_terms" => Value::Switch(self.latent_terms),
            "dropout" => Value::Number(self.dropout),
            "beta" => Value::Number(self.beta),
            "dip_lambda" => Value::Number(self.dip_lambda),
            "pool_batch" => choice_of(&self.pool_batch, POOL_BATCHES),
            _ => return None,
        })
    }

    fn set(&mut self, name: &str, value: Value) -> Result<(), String> {
        match name {
            "objective" => self.objective = choice::<Objective>(value, name)?,
            "target_dim" => self.target_dim = count(value, name)?,
            "common_dim" => self.common_dim = count(value, name)?,
            "image_size" => self.image_size = count(value, name)?,
            "channels" => self.channels = count(value, name)?,
            "width" => self.width = count(value, name)?,
            "laplace_b" => self.laplace_b = number(value, name)?,
            "pixel_reduction" => self.pixel_reduction = choice::<PixelReduction>(value, name)?,
            "reconstruction_weight" => self.reconstruction_weight = number(value, name)?,
            "image_terms" => self.image_terms = switch(value, name)?,
            "latent_terms" => self.latent_terms = switch(value, name)?,
            "dropout" => self.dropout = number(value, name)?,
            "beta" => self.beta = number(value, name)?,
            "dip_lambda" => self.dip_lambda = number(value, name)?,
            "pool_batch" => self.pool_batch = choice::<PoolBatch>(value, name)?,
            _ => return Err(format!("{} has no setting '{name}'", Self::INFO.name)),
        }
        Ok(())
    }
}

impl FamilyConfig for ReferenceVaeConfig {
    const INFO: FamilyInfo = FamilyInfo {
        name: "reference-vae",
        aliases: &["srb-vae", "rb-vae", "reference-based-vae"],
        summary: "target factors e against a reference pool where they are constant, and common factors z (Ruiz et al.'s reference-based VAE, Rb-VAE and sRb-VAE); two pools",
        capabilities: &[Capability::Latents, Capability::PriorSamples, Capability::Split],
        // The paper's batch of 36, Adam lr 1e-4, β = (0.5, 0.99).
        batch_size: Some(36),
        lr: Some(1e-4),
        adam_betas: Some((0.5, 0.99)),
        lr_schedule: None,
        data: "reference-style",
        needs_channels: None,
        shipped: Some("reference-vae-mnist"),
        bench: BenchSettings { batch: 36, warmup_steps: 2, runs: 3, steps_per_run: 3 },
        bench_each: None,
    };

    fn for_data(channels: usize) -> Self {
        ReferenceVaeConfig::new().with_channels(channels)
    }

    fn image_size(&self) -> usize {
        self.image_size
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn validate(&self) -> Result<(), String> {
        ReferenceVaeConfig::validate(self)
    }
}
