//! The cycle-consistent VAE's settings table and its place in the registry.

use super::{CycleVaeConfig, ReverseCycle};
use crate::bench::BenchSettings;
use crate::capabilities::Capability;
use crate::families::settings::{Configurable, Kind, Role, Setting, Value, choice, choice_of, count, number, switch};
use crate::families::{FamilyConfig, FamilyInfo};
use crate::train::LrSchedule;

const REVERSE: &[&str] = &["l1", "wasserstein", "none"];
const WEIGHT: Kind = Kind::Number { min: 0.0, max: 1000.0, speed: 0.1 };
const LIVE: Role = Role::Live { logged: true };

static SETTINGS: [Setting; 11] = [
    Setting::new("style_dim", "z-dim", "style z size", Kind::Count { min: 1, max: 4096 }, Role::Network, "unspecified (style) dimensions z (official code 16; the report's sweep 16…512)"),
    Setting::new("class_dim", "s-dim", "class s size", Kind::Count { min: 1, max: 4096 }, Role::Network, "specified (class) dimensions s (official code 16)"),
    Setting::new("image_size", "size", "image size", Kind::Size(&[28, 64]), Role::Network, "28: the official code's networks (MNIST)\n64: the same one stage deeper, for 64×64 data (dSprites, colour folders)"),
    Setting::new("channels", "channels", "channels", Kind::Count { min: 1, max: 3 }, Role::Network, "image channels, 1 = grey or 3 = RGB (default: the data's)").not_in_form(),
    Setting::new("reconstruction_coef", "reconstruction-coef", "λ_rec", WEIGHT, LIVE, "weight of each forward-cycle reconstruction, MSE on [0, 1] pixels (official code 2; its comment: 3 for a 64-d space)"),
    Setting::new("kl_coef", "kl-coef", "λ_KL", WEIGHT, LIVE, "weight of KL(q(z|x) ‖ N(0, I)), divided as the code by the batch's pixels (official code 3)"),
    Setting::new(
        "reverse_cycle",
        "reverse-cycle",
        "reverse cycle",
        Kind::Choice(REVERSE),
        Role::Objective,
        "what pulls the two re-encoded z's together (it trains the encoder only)\nl1: ‖μ₁ − μ₂‖₁ (the code's)\nwasserstein: W₂ between the two Gaussians (the report's variant V3)\nnone: no reverse cycle, the ablation",
    ),
    Setting::new("reverse_coef", "reverse-coef", "λ_reverse", WEIGHT, LIVE, "weight of the reverse cycle (official code 10)"),
    Setting::new("reverse_reconstruction", "reverse-reconstruction", "reverse reconstruction (V1)", Kind::Switch, Role::Objective, "the report's variant V1: each image reconstructed again from its own z and the s re-encoded from its generated image, training the decoder (its Table 4.2: z-test 17.56 → 14.25 %)"),
    Setting::new("holdout_classes", "holdout-classes", "held-out classes", Kind::Classes, Role::Objective, "classes left out of training, as 7,8,9 (the report's few-shot setting, Fig. 4.14)"),
    Setting::new("holdout_examples", "holdout-examples", "examples let in", Kind::Count { min: 0, max: 100_000 }, Role::Objective, "images of each held-out class let into training (the report: 0, 1 or 10)").needs("holdout_classes"),
];

impl Configurable for CycleVaeConfig {
    fn settings(&self) -> &'static [Setting] {
        &SETTINGS
    }

    fn get(&self, name: &str) -> Option<Value> {
        Some(match name {
            "style_dim" => Value::Count(self.style_dim as u64),
            "class_dim" => Value::Count(self.class_dim as u64),
            "image_size" => Value::Count(self.image_size as u64),
            "channels" => Value::Count(self.channels as u64),
            "reconstruction_coef" => Value::Number(self.reconstruction_coef),
            "kl_coef" => Value::Number(self.kl_coef),
            "reverse_cycle" => choice_of(&self.reverse_cycle, REVERSE),
            "reverse_coef" => Value::Number(self.reverse_coef),
            "reverse_reconstruction" => Value::Switch(self.reverse_reconstruction),
            "holdout_classes" => Value::Count(self.holdout_classes),
            "holdout_examples" => Value::Count(self.holdout_examples as u64),
            _ => return None,
        })
    }

    fn set(&mut self, name: &str, value: Value) -> Result<(), String> {
        match name {
            "style_dim" => self.style_dim = count(value, name)?,
            "class_dim" => self.class_dim = count(value, name)?,
            "image_size" => self.image_size = count(value, name)?,
            "channels" => self.channels = count(value, name)?,
            "reconstruction_coef" => self.reconstruction_coef = number(value, name)?,
            "kl_coef" => self.kl_coef = number(value, name)?,
            "reverse_cycle" => self.reverse_cycle = choice::<ReverseCycle>(value, name)?,
            "reverse_coef" => self.reverse_coef = number(value, name)?,
            "reverse_reconstruction" => self.reverse_reconstruction = switch(value, name)?,
            "holdout_classes" => match value {
                Value::Count(mask) => self.holdout_classes = mask,
                other => return Err(crate::families::settings::mismatch(name, other)),
            },
            "holdout_examples" => self.holdout_examples = count(value, name)?,
            _ => return Err(format!("{} has no setting '{name}'", Self::INFO.name)),
        }
        Ok(())
    }
}

impl FamilyConfig for CycleVaeConfig {
    const INFO: FamilyInfo = FamilyInfo {
        name: "cycle-vae",
        aliases: &["cycle-consistent-vae"],
        summary: "a class s and a style z from pairs of the same class (Jha et al.'s cycle-consistent VAE); 28×28 labelled images, or 64×64 (colour)",
        capabilities: &[Capability::Split],
        // The official code's batch of 64 and learning rate 1e-4.
        batch_size: Some(64),
        lr: Some(1e-4),
        adam_betas: None,
        // The code's StepLR(step_size=80, gamma=0.1) over its 100 epochs.
        lr_schedule: Some(LrSchedule::Step { every_epochs: 80, gamma: 0.1 }),
        data: "mnist",
        needs_channels: None,
        shipped: Some("cycle-vae-mnist"),
        bench: BenchSettings { batch: 64, warmup_steps: 3, runs: 5, steps_per_run: 5 },
        bench_each: None,
    };

    fn for_data(channels: usize) -> Self {
        CycleVaeConfig::new().with_channels(channels)
    }

    fn image_size(&self) -> usize {
        self.image_size
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn validate(&self) -> Result<(), String> {
        CycleVaeConfig::validate(self)
    }
}
