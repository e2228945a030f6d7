//! The typed messages between a training thread and whoever watches it (CLI, GUI).

use std::path::PathBuf;

use crate::data::HostImage;

/// Metrics of one optimisation step. Every loss term is named.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepMetrics {
    pub step: u64,
    pub epoch: u64,
    /// Total loss and each of its terms, by name ("loss", "recon", "kl", …).
    pub terms: Vec<(String, f64)>,
    pub lr: f64,
    pub images_per_sec: f64,
    /// Seconds of training up to this step, over all of the run's sessions (it continues
    /// from the checkpoint's when resumed), pauses left out.
    pub elapsed: f64,
}

impl StepMetrics {
    pub fn term(&self, name: &str) -> Option<f64> {
        self.terms.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
}

/// A picture of what the model does now: inputs and their reconstructions, plus
/// named grids specific to the model (samples, traversals, occurrence maps…).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub step: u64,
    pub inputs: Vec<HostImage>,
    pub reconstructions: Vec<HostImage>,
    pub extras: Vec<(String, Vec<HostImage>)>,
    /// The weights of this step, for views that ask their own questions of the model
    /// (parts, swaps, traversals) while the run goes on. Cheap: tensors are shared, and
    /// the optimiser replaces rather than mutates them.
    pub model: Option<crate::analysis::explorable::ExplorableModel>,
}

/// Where a run is going: steps done so far and steps in all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub step: u64,
    pub total_steps: u64,
    pub epoch: u64,
    pub epochs: u64,
    pub steps_per_epoch: u64,
}

#[derive(Debug, Clone)]
pub enum TrainEvent {
    /// Work before the first step (mixing scenes: the neighbour index), `fraction` done.
    Preparing { task: String, fraction: f32 },
    /// `images`: the training data's; `skipped`: the files it left out as unreadable
    /// (image folders), with why.
    Started { device: String, parameters: usize, progress: Progress, images: usize, skipped: Vec<(PathBuf, String)> },
    Step { metrics: StepMetrics, progress: Progress },
    /// Boxed: a few kilobytes of images, where every other event is a few words.
    Snapshot(Box<Snapshot>),
    CheckpointSaved { path: PathBuf, step: u64 },
    Paused { step: u64 },
    Resumed { step: u64 },
    HyperparameterChanged { name: String, value: f64 },
    /// A loss term went non-finite at `step`: the update was not applied, the
    /// weights are those of the last good step, and the run is paused.
    Diverged { step: u64, term: String, value: f64 },
    Finished { step: u64, checkpoint: Option<PathBuf> },
    Failed { message: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum TrainCommand {
    Pause,
    Resume,
    Stop,
    /// Save a checkpoint now, to the run folder's checkpoint (None) or to a path.
    SaveNow(Option<PathBuf>),
    /// Change a hyperparameter ("lr", "beta", …) from the next step on.
    SetHyperparameter { name: String, value: f64 },
}
