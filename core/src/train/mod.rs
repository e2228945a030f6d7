//! The training runtime: a run lives on its own thread and talks only through
//! [`TrainEvent`]s and [`TrainCommand`]s.

pub mod config;
pub mod faults;
pub mod messages;
pub mod runner;
pub mod snapshots;

pub use config::{LrSchedule, TrainConfig};
pub use faults::{FaultKind, InjectedFault, UpdateGuard, faults_from_env};
pub use messages::{Progress, Snapshot, StepMetrics, StepReport, TrainCommand, TrainEvent};
pub use snapshots::{LoadedSnapshots, SnapshotArchive, SnapshotHistory, load_snapshots};
pub use runner::{DISCARDED_METRICS_FILE, METRICS_FILE, RunSpec, RunStart, TrainerHandle, spawn, step_rng};
