//! The typed messages between a training thread and whoever watches it (CLI, GUI).

use std::path::PathBuf;

use crate::data::HostImage;

/// Metrics of one optimisation step, each value in the field of what it is: losses are
/// plotted as losses, annealed schedules and live hyperparameters where they belong, with
/// no list of names in any view.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(from = "StoredStepMetrics")]
pub struct StepMetrics {
    pub step: u64,
    pub epoch: u64,
    /// The total ("loss", first) and each of its terms, by name ("recon", "kl", …).
    pub losses: Vec<(String, f64)>,
    /// Values the run anneals over its steps, known on the host (the relaxed-Bernoulli
    /// temperature, the capacity C). The learning rate is `lr`.
    pub schedules: Vec<(String, f64)>,
    /// The live hyperparameters in force at this step (β, loss weights λ, …): the family's
    /// settings that may change while the run goes on.
    pub hyper: Vec<(String, f64)>,
    /// Other quantities a step measures (mixing scenes: quadrants replaced per mix).
    pub measures: Vec<(String, f64)>,
    pub lr: f64,
    pub images_per_sec: f64,
    /// Seconds of training up to this step, over all of the run's sessions (it continues
    /// from the checkpoint's when resumed), pauses left out.
    pub elapsed: f64,
    /// When the step ended, in seconds since the Unix epoch (TensorBoard's "wall" axis);
    /// absent in files written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_time: Option<f64>,
}

impl StepMetrics {
    /// A value by name, whatever its kind.
    pub fn term(&self, name: &str) -> Option<f64> {
        self.all().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    pub fn loss(&self, name: &str) -> Option<f64> {
        self.losses.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// Every named value: losses, schedules, hyperparameters, measures.
    pub fn all(&self) -> impl Iterator<Item = &(String, f64)> {
        self.losses.iter().chain(&self.schedules).chain(&self.hyper).chain(&self.measures)
    }
}

/// `StepMetrics` as `metrics.jsonl` and `state.json` hold it, today's and older: before the
/// kinds were separate fields, one `terms` list held them all.
#[derive(serde::Deserialize)]
struct StoredStepMetrics {
    step: u64,
    epoch: u64,
    #[serde(default)]
    losses: Vec<(String, f64)>,
    #[serde(default)]
    schedules: Vec<(String, f64)>,
    #[serde(default)]
    hyper: Vec<(String, f64)>,
    #[serde(default)]
    measures: Vec<(String, f64)>,
    #[serde(default)]
    terms: Vec<(String, f64)>,
    lr: f64,
    images_per_sec: f64,
    elapsed: f64,
    #[serde(default)]
    wall_time: Option<f64>,
}

impl From<StoredStepMetrics> for StepMetrics {
    fn from(s: StoredStepMetrics) -> Self {
        let mut m = StepMetrics { step: s.step, epoch: s.epoch, losses: s.losses, schedules: s.schedules, hyper: s.hyper, measures: s.measures, lr: s.lr, images_per_sec: s.images_per_sec, elapsed: s.elapsed, wall_time: s.wall_time };
        for (name, value) in s.terms {
            legacy_field(&mut m, &name).push((name, value));
        }
        m
    }
}

/// Where a value of an older file's `terms` list goes: the names those versions wrote
/// that were not losses (frozen: newer files say what each value is).
fn legacy_field<'a>(m: &'a mut StepMetrics, name: &str) -> &'a mut Vec<(String, f64)> {
    match name {
        "temperature" | "capacity" => &mut m.schedules,
        "beta" | "gamma" | "c_max" | "beta_occ" | "beta_app" | "lambda_rec" | "lambda_adv" | "lambda_cls" => &mut m.hyper,
        "replaced" => &mut m.measures,
        _ => &mut m.losses,
    }
}

/// What one training step reports besides the hyperparameters it ran with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepReport {
    /// The total ("loss", first) and each term.
    pub losses: Vec<(String, f64)>,
    pub schedules: Vec<(String, f64)>,
    pub measures: Vec<(String, f64)>,
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
    /// (image folders), with why. `compiles_kernels`: the device compiles its kernels as
    /// the first steps meet them (a GPU), so the first step can take minutes where the
    /// kernel cache does not have them yet.
    Started { device: String, parameters: usize, progress: Progress, images: usize, skipped: Vec<(PathBuf, String)>, compiles_kernels: bool },
    Step { metrics: StepMetrics, progress: Progress },
    /// Boxed: a few kilobytes of images, where every other event is a few words.
    Snapshot(Box<Snapshot>),
    CheckpointSaved { path: PathBuf, step: u64 },
    /// Saving the weights of `step` to `path` failed (`message` says why: a full disk, a
    /// folder gone). They are still in memory and the run is paused until a save works
    /// (`SaveNow`) or it is resumed or stopped; a run stopping with an unsaved checkpoint
    /// waits for a `SaveNow` or a second `Stop`.
    SaveFailed { path: PathBuf, step: u64, message: String },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_metrics_lines_load_with_each_value_in_its_field() {
        let old = r#"{"step":3,"epoch":0,"terms":[["loss",1.5],["recon_direct",0.2],["lambda_rec",0.904],["temperature",0.9],["replaced",2.0]],"lr":0.0002,"images_per_sec":10.0,"elapsed":1.0}"#;
        let m: StepMetrics = serde_json::from_str(old).unwrap();
        assert_eq!(m.losses, vec![("loss".to_string(), 1.5), ("recon_direct".to_string(), 0.2)]);
        assert_eq!(m.hyper, vec![("lambda_rec".to_string(), 0.904)]);
        assert_eq!(m.schedules, vec![("temperature".to_string(), 0.9)]);
        assert_eq!(m.measures, vec![("replaced".to_string(), 2.0)]);
        // Today's lines read back as written.
        let line = serde_json::to_string(&m).unwrap();
        assert!(!line.contains("terms"));
        assert_eq!(serde_json::from_str::<StepMetrics>(&line).unwrap(), m);
    }
}
