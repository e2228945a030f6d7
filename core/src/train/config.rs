//! A run's settings, saved as `config.json` in every checkpoint.

use burn::prelude::*;

use crate::models::ModelConfig;

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
    /// The config of a new run that starts from the weights of a checkpoint trained with
    /// this one (`train --init`, the Runs tab's "Train on"): the new run counts its steps
    /// from 0, so the old run's step-indexed schedule (its step limit, mixing scenes'
    /// warm-up) does not carry over.
    pub fn for_run_from_its_weights(&self) -> Self {
        let mut config = self.clone();
        config.max_steps = None;
        if let ModelConfig::MixingScenes(c) = &mut config.model {
            c.rec_warmup = None;
        }
        config
    }

    pub fn validate(&self) -> Result<(), String> {
        self.model.validate()?;
        if self.batch_size == 0 {
            return Err("batch_size must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!("lr must be a positive number, not {}", self.lr));
        }
        if self.epochs == 0 && self.max_steps.is_none() {
            return Err("epochs must be at least 1".into());
        }
        self.data.parse::<crate::data::DataSpec>().map_err(|e| e.to_string())?;
        Ok(())
    }
}
