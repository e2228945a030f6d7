//! A training run as the GUI sees it: the handle to its thread and what its events said.

use std::path::PathBuf;

use patchwork_core::train::{Progress, Snapshot, StepMetrics, TrainCommand, TrainEvent, TrainerHandle};

use patchwork_core::train::SnapshotHistory;

#[derive(Debug, Clone, PartialEq)]
pub enum RunStatus {
    Starting,
    /// Work before the first step (e.g. building the neighbour index), fraction done.
    Preparing { task: String, fraction: f32 },
    Running,
    Paused,
    /// A loss term went non-finite; the last good weights are kept and the run waits.
    Diverged { step: u64, term: String },
    /// Saving the checkpoint of `step` failed (`message`: why); the weights are still in
    /// memory and the run waits for a save that works, a resume or a stop.
    SaveFailed { step: u64, message: String },
    Finished,
    Failed(String),
}

pub struct TrainingSession {
    handle: TrainerHandle,
    /// Unique per session, so watchers can tell a new run from the old one.
    pub id: u64,
    /// Snapshots received so far.
    pub snapshots: u64,
    pub run_dir: Option<PathBuf>,
    pub device: String,
    pub parameters: usize,
    pub status: RunStatus,
    pub progress: Option<Progress>,
    pub history: Vec<StepMetrics>,
    pub snapshot: Option<Snapshot>,
    /// Past snapshots, for scrubbing back through the run.
    pub snapshot_history: SnapshotHistory,
    pub log: Vec<String>,
    /// Since when a GPU run has been compiling its kernels: from its start to its first step.
    pub compiling_since: Option<std::time::Instant>,
}

impl TrainingSession {
    pub fn new(handle: TrainerHandle, run_dir: Option<PathBuf>, device: String) -> Self {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self { handle, id, snapshots: 0, run_dir, device, parameters: 0, status: RunStatus::Starting, progress: None, history: vec![], snapshot: None, snapshot_history: SnapshotHistory::default(), log: vec![], compiling_since: None }
    }

    /// Applies every event that has arrived; never blocks.
    pub fn poll(&mut self) {
        while let Ok(event) = self.handle.events.try_recv() {
            self.apply(event);
        }
    }

    fn apply(&mut self, event: TrainEvent) {
        match event {
            TrainEvent::Preparing { task, fraction } => self.status = RunStatus::Preparing { task, fraction },
            // The window reported the data's skipped files when it opened them.
            TrainEvent::Started { device, parameters, progress, compiles_kernels, .. } => {
                self.device = device;
                self.parameters = parameters;
                self.progress = Some(progress);
                self.status = RunStatus::Running;
                self.compiling_since = compiles_kernels.then(std::time::Instant::now);
            }
            TrainEvent::Step { metrics, progress } => {
                self.compiling_since = None;
                self.history.push(metrics);
                self.progress = Some(progress);
            }
            TrainEvent::Snapshot(s) => {
                self.snapshot_history.push(&s);
                self.snapshot = Some(*s);
                self.snapshots += 1;
            }
            TrainEvent::CheckpointSaved { path, step } => {
                self.log.push(format!("step {step}: saved {}", path.display()));
                if matches!(self.status, RunStatus::SaveFailed { .. }) {
                    // The run still waits, as the save's failure left it.
                    self.status = RunStatus::Paused;
                }
            }
            TrainEvent::SaveFailed { path, step, message } => {
                self.log.push(format!("step {step}: saving {} failed: {message}", path.display()));
                self.status = RunStatus::SaveFailed { step, message };
            }
            TrainEvent::Paused { step } => {
                self.status = RunStatus::Paused;
                self.log.push(format!("paused at step {step}"));
            }
            TrainEvent::Resumed { step } => {
                self.status = RunStatus::Running;
                self.log.push(format!("resumed at step {step}"));
            }
            TrainEvent::HyperparameterChanged { name, value } => self.log.push(format!("{name} set to {value}")),
            TrainEvent::Diverged { step, term, value } => {
                self.log.push(format!("step {step}: {term} = {value}: diverged, last good weights kept"));
                self.status = RunStatus::Diverged { step, term };
            }
            TrainEvent::Finished { step, .. } => {
                self.status = RunStatus::Finished;
                self.log.push(format!("finished at step {step}"));
            }
            TrainEvent::Failed { message } => {
                self.log.push(message.clone());
                // "not changed"/"not saved" messages leave the run going.
                if !message.starts_with("not ") {
                    self.status = RunStatus::Failed(message);
                }
            }
        }
    }

    pub fn is_active(&self) -> bool {
        matches!(self.status, RunStatus::Starting | RunStatus::Preparing { .. } | RunStatus::Running | RunStatus::Paused | RunStatus::Diverged { .. } | RunStatus::SaveFailed { .. })
    }

    pub fn send(&self, command: TrainCommand) {
        self.handle.send(command);
    }

    pub fn toggle_pause(&mut self) {
        match self.status {
            RunStatus::Running => self.send(TrainCommand::Pause),
            RunStatus::Paused | RunStatus::Diverged { .. } | RunStatus::SaveFailed { .. } => self.send(TrainCommand::Resume),
            _ => {}
        }
    }

    pub fn save_now(&self) {
        if self.is_active() {
            self.send(TrainCommand::SaveNow(None));
        }
    }

    /// "compiling kernels… N s" while a GPU run has not made its first step.
    pub fn compiling_text(&self) -> Option<String> {
        match (&self.status, self.compiling_since) {
            (RunStatus::Running, Some(since)) => Some(format!("compiling kernels… {} s", since.elapsed().as_secs())),
            _ => None,
        }
    }

    pub fn status_text(&self) -> String {
        let progress = self.progress.map(|p| format!("epoch {}/{}, step {}/{}", (p.epoch + 1).min(p.epochs), p.epochs, p.step, p.total_steps));
        let rate = self.history.last().map(|m| format!("{:.0} images/s", m.images_per_sec));
        let state = match &self.status {
            RunStatus::Starting => "starting".to_string(),
            RunStatus::Preparing { task, fraction } => format!("preparing the {task} ({:.0}%)", fraction * 100.0),
            RunStatus::Running => self.compiling_text().unwrap_or_else(|| "training".to_string()),
            RunStatus::Paused => "paused".to_string(),
            RunStatus::Diverged { step, term } => format!("diverged at step {step} ({term} not finite)"),
            RunStatus::SaveFailed { step, .. } => format!("paused: the checkpoint of step {step} is not saved"),
            RunStatus::Finished => "finished".to_string(),
            RunStatus::Failed(m) => format!("failed: {m}"),
        };
        [Some(state), progress, rate].into_iter().flatten().collect::<Vec<_>>().join(", ")
    }
}

impl Drop for TrainingSession {
    fn drop(&mut self) {
        self.handle.send(TrainCommand::Stop);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    fn started(compiles_kernels: bool) -> TrainEvent {
        let progress = Progress { step: 0, total_steps: 10, epoch: 0, epochs: 1, steps_per_epoch: 10 };
        TrainEvent::Started { device: "gpu: test".into(), parameters: 1, progress, images: 10, skipped: vec![], compiles_kernels }
    }

    #[test]
    fn a_gpu_run_says_it_compiles_kernels_until_its_first_step() {
        let (events, event_rx) = channel();
        let (commands, _command_rx) = channel();
        let mut session = TrainingSession::new(TrainerHandle::from_channels(event_rx, commands), None, String::new());
        events.send(started(true)).unwrap();
        session.poll();
        assert!(session.status_text().starts_with("compiling kernels… 0 s"), "{}", session.status_text());
        // The Train view's progress bar says it too, not "0 images/s".
        let bar = crate::gui::views::train::progress_text(&session, 64);
        assert!(bar.starts_with("epoch 1/1 · step 0/10 · compiling kernels… 0 s") && !bar.contains("images/s"), "{bar}");
        let progress = Progress { step: 1, total_steps: 10, epoch: 0, epochs: 1, steps_per_epoch: 10 };
        events.send(TrainEvent::Step { metrics: StepMetrics { step: 1, ..Default::default() }, progress }).unwrap();
        session.poll();
        assert!(session.status_text().starts_with("training"), "{}", session.status_text());
        // On the CPU nothing is compiled: training from the start.
        events.send(started(false)).unwrap();
        session.poll();
        assert!(session.status_text().starts_with("training"), "{}", session.status_text());
    }
}
