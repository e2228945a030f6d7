//! PatchVAE's settings table and its place in the registry.

use super::{GanSettings, OccurrenceSampling, PatchVaeConfig, TemperatureSchedule};
use crate::bench::BenchSettings;
use crate::capabilities::Capability;
use crate::families::settings::{self, Configurable, Kind, Role, Setting, Value, choice, choice_of, count, number, optional_number, switch};
use crate::families::{FamilyConfig, FamilyInfo};

const SAMPLINGS: &[&str] = &["bernoulli", "categorical", "hard"];
const SCHEDULES: &[&str] = &["compounding", "exponential"];
const LIVE: Role = Role::Live { logged: true };

static SETTINGS: [Setting; 11] = [
    Setting::new("parts", "parts", "parts N", Kind::Count { min: 1, max: 64 }, Role::Network, "number of parts (paper and code: 16)"),
    Setting::new("part_dim", "part-dim", "part size d_p", Kind::Count { min: 1, max: 64 }, Role::Network, "appearance dimensions per part (code default 6)"),
    Setting::new("image_size", "size", "image size", Kind::Size(&[32, 64]), Role::Network, "image size the model sees, 32 or 64 (28×28 data is resized to 32)"),
    Setting::new("channels", "channels", "channels", Kind::Count { min: 1, max: 3 }, Role::Network, "image channels, 1 = grey or 3 = RGB (default: the data's)").not_in_form(),
    Setting::new("gan", "gan", "GAN variant", Kind::Switch, Role::Network, "adds the paper's 4-conv discriminator and an adversarial loss on reconstructions (β_g = 1)"),
    Setting::new("beta_occ", "beta-occ", "β_occ", Kind::Number { min: 0.0, max: 100.0, speed: 0.1 }, LIVE, "weight of the occurrence KL (official code 10; the paper's Table 6: 0.3)"),
    Setting::new("beta_app", "beta-app", "β_app", Kind::Number { min: 0.0, max: 100.0, speed: 0.1 }, LIVE, "weight of the appearance KL (default 1)"),
    Setting::new("prior", "prior", "prior", Kind::Number { min: 0.0001, max: 0.9999, speed: 0.001 }, Role::Objective, "prior occurrence probability of a part at a location (paper §4.3 and code: 1/N)").optional(),
    Setting::new(
        "sampling",
        "sampling",
        "occurrence sampling",
        Kind::Choice(SAMPLINGS),
        Role::Objective,
        "bernoulli: relaxed Bernoulli per part and location (paper)\ncategorical: one part per location\nhard: straight-through binary samples",
    ),
    Setting::new(
        "temperature_schedule",
        "temperature-schedule",
        "temperature schedule",
        Kind::Choice(SCHEDULES),
        Role::Objective,
        "how the relaxed-Bernoulli temperature falls from 1 (rate 3e-5, floor 0.1)\ncompounding: every 1000 steps τ ← τ·exp(−rate·step) (official code, default)\nexponential: τ = exp(−rate·step), every step (the paper's reading)",
    ),
    Setting::new("weighted", "weighted", "weighted loss L_w", Kind::Switch, Role::Objective, "the paper's weighted loss L_w: the reconstruction error of each 8×8 patch weighted by the input's Laplacian magnitude there (§3.3); off by default"),
];

impl Configurable for PatchVaeConfig {
    fn settings(&self) -> &'static [Setting] {
        &SETTINGS
    }

    fn get(&self, name: &str) -> Option<Value> {
        Some(match name {
            "parts" => Value::Count(self.parts as u64),
            "part_dim" => Value::Count(self.part_dim as u64),
            "image_size" => Value::Count(self.image_size as u64),
            "channels" => Value::Count(self.channels as u64),
            "gan" => Value::Switch(self.gan.is_some()),
            "beta_occ" => Value::Number(self.beta_occ),
            "beta_app" => Value::Number(self.beta_app),
            "prior" => settings::optional(self.prior, Value::Number),
            "sampling" => choice_of(&self.sampling, SAMPLINGS),
            "temperature_schedule" => choice_of(&self.temperature.schedule, SCHEDULES),
            "weighted" => Value::Switch(self.weighted_loss),
            _ => return None,
        })
    }

    fn set(&mut self, name: &str, value: Value) -> Result<(), String> {
        match name {
            "parts" => self.parts = count(value, name)?,
            "part_dim" => self.part_dim = count(value, name)?,
            "image_size" => self.image_size = count(value, name)?,
            "channels" => self.channels = count(value, name)?,
            "gan" => {
                let on = switch(value, name)?;
                if on != self.gan.is_some() {
                    self.gan = on.then(GanSettings::default);
                }
            }
            "beta_occ" => self.beta_occ = number(value, name)?,
            "beta_app" => self.beta_app = number(value, name)?,
            "prior" => self.prior = optional_number(value, name)?,
            "sampling" => self.sampling = choice::<OccurrenceSampling>(value, name)?,
            "temperature_schedule" => self.temperature.schedule = choice::<TemperatureSchedule>(value, name)?,
            "weighted" => self.weighted_loss = switch(value, name)?,
            _ => return Err(format!("{} has no setting '{name}'", Self::INFO.name)),
        }
        Ok(())
    }
}

impl FamilyConfig for PatchVaeConfig {
    const INFO: FamilyInfo = FamilyInfo {
        name: "patchvae",
        aliases: &["patch-vae"],
        summary: "parts with occurrence maps and appearances (Gupta et al.)",
        capabilities: &[Capability::PriorSamples, Capability::Parts],
        batch_size: None,
        lr: None,
        adam_betas: None,
        lr_schedule: None,
        data: "fashion-mnist",
        needs_channels: None,
        shipped: Some("patchvae-fashion-mnist"),
        bench: BenchSettings { batch: 128, warmup_steps: 3, runs: 5, steps_per_run: 5 },
        bench_each: None,
    };

    fn for_data(channels: usize) -> Self {
        PatchVaeConfig::new().with_channels(channels)
    }

    fn image_size(&self) -> usize {
        self.image_size
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn validate(&self) -> Result<(), String> {
        PatchVaeConfig::validate(self)
    }
}
