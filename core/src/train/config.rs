//! A run's settings, saved as `config.json` in every checkpoint.

use burn::prelude::*;

use crate::families::ModelConfig;

/// A learning-rate schedule over a run's steps (its epochs, or `max_steps` when that ends it
/// first).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    /// Cosine annealing from `lr` at the first step to `lr_min` at the last, without
    /// restarts (Loshchilov & Hutter's SGDR; PyTorch's `CosineAnnealingLR`).
    Cosine { lr_min: f64 },
    /// The rate times `gamma` after every `every_epochs` epochs (PyTorch's `StepLR`; the
    /// cycle-consistent VAE's code decays ×0.1 at epoch 80 of its 100).
    Step { every_epochs: u64, gamma: f64 },
}

impl LrSchedule {
    /// The learning rate at `step` (0-based) of a run of `total_steps` whose base rate is
    /// `lr` and whose epochs are `steps_per_epoch` steps.
    pub fn lr_at(&self, lr: f64, step: u64, total_steps: u64, steps_per_epoch: u64) -> f64 {
        match *self {
            LrSchedule::Cosine { lr_min } => {
                let progress = (step as f64 / total_steps.max(1) as f64).min(1.0);
                lr_min + (lr - lr_min) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
            LrSchedule::Step { every_epochs, gamma } => {
                let decays = step / (every_epochs.max(1) * steps_per_epoch.max(1));
                lr * gamma.powi(decays.min(i32::MAX as u64) as i32)
            }
        }
    }

    /// Checks the schedule against the run's base rate `lr`.
    pub fn validate(&self, lr: f64) -> Result<(), String> {
        match *self {
            LrSchedule::Cosine { lr_min } if !(lr_min.is_finite() && (0.0..lr).contains(&lr_min)) => {
                Err(format!("lr_min must be at least 0 and below lr ({lr}), not {lr_min}"))
            }
            LrSchedule::Step { every_epochs: 0, .. } => Err("a step schedule decays every 1 epoch or more, not every 0".into()),
            LrSchedule::Step { gamma, .. } if !(gamma.is_finite() && gamma > 0.0 && gamma <= 1.0) => {
                Err(format!("a step schedule's factor must be in (0, 1], not {gamma}"))
            }
            _ => Ok(()),
        }
    }
}

/// The largest batch a config may ask for: beyond any GPU's memory for these models, and
/// small enough that a config claiming 10⁹ is refused before anything is allocated.
pub const MAX_BATCH: usize = 65_536;

#[derive(Config, Debug, PartialEq)]
pub struct TrainConfig {
    pub model: ModelConfig,
    /// Data source, as `patchwork train --data` takes it (see `DataSpec`).
    pub data: String,
    #[config(default = 5)]
    pub epochs: u64,
    #[config(default = 128)]
    pub batch_size: usize,
    /// Adam learning rate. The papers use 1e-4 for long runs (PatchVAE, 1Konny/Beta-VAE);
    /// 1e-3 learns visibly within the few epochs an interactive session runs.
    #[config(default = 1e-3)]
    pub lr: f64,
    /// How the learning rate moves over the run; `None` keeps it at `lr` throughout (the
    /// papers').
    pub lr_schedule: Option<LrSchedule>,
    #[config(default = 0.9)]
    pub adam_beta1: f64,
    #[config(default = 0.999)]
    pub adam_beta2: f64,
    #[config(default = 42)]
    pub seed: u64,
    /// Steps between live snapshots (inputs, reconstructions, samples).
    #[config(default = 25)]
    pub snapshot_every: u64,
    /// Epochs between checkpoints; one is always written when the run ends.
    #[config(default = 1)]
    pub checkpoint_every_epochs: u64,
    /// Stop after this many steps even if epochs remain (quick runs, benchmarks).
    pub max_steps: Option<u64>,
}

impl TrainConfig {
    /// A fresh run of `model` on `data` with its family's run settings (batch, learning
    /// rate, Adam's betas) where it has its own.
    pub fn fresh(model: ModelConfig, data: String) -> Self {
        let info = model.info();
        let mut config = Self::new(model, data);
        config.batch_size = info.batch_size.unwrap_or(config.batch_size);
        config.lr = info.lr.unwrap_or(config.lr);
        config.lr_schedule = info.lr_schedule;
        (config.adam_beta1, config.adam_beta2) = info.adam_betas.unwrap_or((config.adam_beta1, config.adam_beta2));
        config
    }

    /// The config of a new run that starts from the weights of a checkpoint trained with
    /// this one (`train --init`, the Runs tab's "Train on"): the new run counts its steps
    /// from 0, so the old run's step-indexed schedule (its step limit, mixing scenes'
    /// warm-up) does not carry over.
    pub fn for_run_from_its_weights(&self) -> Self {
        let mut config = self.clone();
        config.max_steps = None;
        config.model.for_run_from_its_weights();
        config
    }

    pub fn validate(&self) -> Result<(), String> {
        self.model.validate()?;
        if !(1..=MAX_BATCH).contains(&self.batch_size) {
            return Err(format!("batch_size must be from 1 to {MAX_BATCH}, not {}", self.batch_size));
        }
        for (name, beta) in [("adam_beta1", self.adam_beta1), ("adam_beta2", self.adam_beta2)] {
            if !(beta.is_finite() && (0.0..1.0).contains(&beta)) {
                return Err(format!("{name} must be at least 0 and below 1, not {beta}"));
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!("lr must be a positive number, not {}", self.lr));
        }
        if let Some(schedule) = self.lr_schedule {
            schedule.validate(self.lr)?;
        }
        if self.epochs == 0 && self.max_steps.is_none() {
            return Err("epochs must be at least 1".into());
        }
        self.data.parse::<crate::data::DataSpec>().map_err(|e| e.to_string())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::beta_vae::{BetaVaeConfig, VaeArch};

    #[test]
    fn cosine_runs_from_lr_to_lr_min_and_refuses_a_minimum_above_lr() {
        let schedule = LrSchedule::Cosine { lr_min: 1e-4 };
        assert_eq!(schedule.lr_at(1e-3, 0, 100, 10), 1e-3);
        assert!((schedule.lr_at(1e-3, 50, 100, 10) - 5.5e-4).abs() < 1e-12);
        assert!((schedule.lr_at(1e-3, 100, 100, 10) - 1e-4).abs() < 1e-12);
        assert!((schedule.lr_at(1e-3, 250, 100, 10) - 1e-4).abs() < 1e-12, "stays at lr_min past the end");
        let config = |lr_min| TrainConfig::new(ModelConfig::BetaVae(BetaVaeConfig::new(VaeArch::Mlp)), "fashion-mnist".into()).with_lr_schedule(Some(LrSchedule::Cosine { lr_min }));
        assert_eq!(config(0.0).validate(), Ok(()));
        assert!(config(1e-3).validate().unwrap_err().contains("lr_min"));
        assert!(config(-1.0).validate().is_err());
        // Saved configs without a schedule (every checkpoint before it existed) still load.
        let json = burn::config::config_to_json(&config(0.0).with_lr_schedule(None));
        let without: String = json.lines().filter(|l| !l.contains("lr_schedule")).collect::<Vec<_>>().join("\n");
        assert_eq!(serde_json::from_str::<TrainConfig>(&without).unwrap().lr_schedule, None);
    }

    #[test]
    fn step_decays_by_gamma_every_so_many_epochs_and_the_cycle_vae_takes_the_codes() {
        let schedule = LrSchedule::Step { every_epochs: 80, gamma: 0.1 };
        // 10 steps an epoch: epochs 0…79 at lr, 80…159 at lr/10, from 160 at lr/100.
        assert_eq!(schedule.lr_at(1e-4, 0, 2000, 10), 1e-4);
        assert_eq!(schedule.lr_at(1e-4, 799, 2000, 10), 1e-4);
        assert!((schedule.lr_at(1e-4, 800, 2000, 10) - 1e-5).abs() < 1e-15);
        assert!((schedule.lr_at(1e-4, 1600, 2000, 10) - 1e-6).abs() < 1e-15);
        let config = |every_epochs, gamma| TrainConfig::new(ModelConfig::BetaVae(BetaVaeConfig::new(VaeArch::Mlp)), "fashion-mnist".into()).with_lr_schedule(Some(LrSchedule::Step { every_epochs, gamma }));
        assert_eq!(config(80, 0.1).validate(), Ok(()));
        assert!(config(0, 0.1).validate().unwrap_err().contains("every 0"));
        assert!(config(80, 1.5).validate().unwrap_err().contains("factor"));
        assert!(config(80, f64::NAN).validate().is_err());
        let cycle = TrainConfig::fresh("cycle-vae".parse::<crate::families::FamilyKind>().unwrap().default_config(1), "mnist".into());
        assert_eq!(cycle.lr_schedule, Some(schedule));
        let beta = TrainConfig::fresh(ModelConfig::BetaVae(BetaVaeConfig::new(VaeArch::Mlp)), "mnist".into());
        assert_eq!(beta.lr_schedule, None);
    }
}
