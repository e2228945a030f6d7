//! The model the explorer's views look into: the weights of the run in progress (updated
//! with every snapshot, at least once a second) or a checkpoint opened for exploring.

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use patchwork_core::analysis::explorable::ExplorableModel;
use patchwork_core::capabilities::Capability;
use patchwork_core::families::FamilyKind;

use super::jobs::LatestJob;
use super::session::TrainingSession;

pub struct ModelSlot {
    /// The checkpoint opened for exploring (the shipped PatchVAE on first launch).
    pub checkpoint: Option<ExplorableModel>,
    /// The latest weights of the run in progress.
    pub live: Option<ExplorableModel>,
    /// Views show the live weights while a run has them; off = keep the checkpoint.
    pub follow_training: bool,
    /// Bumped whenever `current()` may have changed, so views recompute.
    pub generation: u64,
    pub error: Option<String>,
    loading: LatestJob<(PathBuf, Result<ExplorableModel, String>)>,
    pub loading_path: Option<PathBuf>,
    seen: Option<(u64, u64)>,
}

impl Default for ModelSlot {
    fn default() -> Self {
        Self { checkpoint: None, live: None, follow_training: true, generation: 0, error: None, loading: LatestJob::default(), loading_path: None, seen: None }
    }
}

impl ModelSlot {
    pub fn current(&self) -> Option<&ExplorableModel> {
        match (&self.live, self.follow_training) {
            (Some(live), true) => Some(live),
            _ => self.checkpoint.as_ref().or(self.live.as_ref()),
        }
    }

    /// Loads a checkpoint of any family in the background (on the CPU); a bad one is
    /// refused with a message and the current model kept. `show` switches the views from
    /// the live weights to it (an explicit open; not the shipped model loaded at start).
    pub fn open(&mut self, dir: &Path, show: bool) {
        if show {
            self.set_follow_training(false);
        }
        let owned = dir.to_path_buf();
        self.loading_path = Some(owned.clone());
        self.loading.request(move || {
            let result = ExplorableModel::load(&owned, &Device::flex()).map_err(|e| format!("{e:#}"));
            (owned, result)
        });
    }

    pub fn is_loading(&self) -> bool {
        self.loading.busy()
    }

    /// Takes a finished load and the newest live weights. Returns a message for the
    /// status line when a checkpoint was refused.
    pub fn poll(&mut self, session: Option<&TrainingSession>) -> Option<String> {
        let mut message = None;
        if let Some((dir, result)) = self.loading.poll() {
            if !self.loading.busy() {
                self.loading_path = None;
            }
            match result {
                Ok(model) => {
                    self.checkpoint = Some(model);
                    self.error = None;
                    self.generation += 1;
                }
                Err(e) => {
                    message = Some(format!("not opened: {e}"));
                    self.error = Some(format!("{}: {e}", dir.display()));
                }
            }
        }
        if let Some(session) = session {
            let key = (session.id, session.snapshots);
            if self.seen != Some(key) {
                if let Some(model) = session.snapshot.as_ref().and_then(|s| s.model.clone()) {
                    self.live = Some(model);
                    if self.follow_training {
                        self.generation += 1;
                    }
                }
                self.seen = Some(key);
            }
        }
        message
    }

    /// Switches between the live weights and the checkpoint.
    pub fn set_follow_training(&mut self, follow: bool) {
        if self.follow_training != follow {
            self.follow_training = follow;
            self.generation += 1;
        }
    }

    /// A line saying what the views show.
    pub fn describe(&self) -> String {
        match (self.current(), &self.loading_path) {
            (_, Some(path)) => format!("opening {}…", path.display()),
            (Some(m), None) => m.describe(),
            (None, None) => "no model: open a checkpoint or start training".into(),
        }
    }
}

/// The checkpoint Patchwork ships for `kind`, if any (from the working directory, else
/// next to the sources this binary was built from).
pub fn shipped_checkpoint(kind: FamilyKind) -> Option<PathBuf> {
    let name = kind.info().shipped?;
    let local = PathBuf::from("checkpoints").join(name);
    Some(if local.is_dir() { local } else { PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../checkpoints")).join(name) })
}

/// Every shipped checkpoint that is there, by family.
pub fn shipped_checkpoints() -> Vec<(FamilyKind, PathBuf)> {
    FamilyKind::ALL.iter().filter_map(|&k| Some((k, shipped_checkpoint(k)?))).filter(|(_, dir)| dir.is_dir()).collect()
}

/// Whether `dir` is a shipped checkpoint (nothing the user chose).
pub fn is_shipped(dir: &Path) -> bool {
    FamilyKind::ALL.iter().filter_map(|k| k.info().shipped).any(|name| dir.ends_with(name))
}

/// The shipped checkpoint of a family whose models offer `capability`.
pub fn shipped_offering(capability: Capability) -> Option<(FamilyKind, PathBuf)> {
    shipped_checkpoints().into_iter().find(|(k, _)| k.info().capabilities.contains(&capability))
}
