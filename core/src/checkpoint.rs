//! Checkpoints: a folder holding `config.json` (the run's [`TrainConfig`]), `model.bpk`
//! and `optimizer.bpk` (burn records) and `state.json` (step, epoch, seed, metric
//! history), plus what the family prepared from its data (mixing scenes: `neighbours.bin`).
//! Written atomically; refused with a message naming the file at fault.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::atomic::{recover, write_dir_atomically};
use crate::families::{Preparation, Trainable};
use crate::train::{StepMetrics, TrainConfig};

pub const CONFIG_FILE: &str = "config.json";
pub const MODEL_FILE: &str = "model.bpk";
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";
pub const STATE_FILE: &str = "state.json";
const FORMAT_VERSION: u32 = 1;

/// Where a run stands: enough to continue it exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    pub format_version: u32,
    /// The model family (`beta-vae`, …), repeated here to refuse mismatches early.
    pub kind: String,
    pub step: u64,
    pub epoch: u64,
    pub seed: u64,
    /// The device the run last trained on (for information).
    pub device: String,
    /// The checkpoint whose weights the run started from (`train --init`), as
    /// "FOLDER (step N)"; none for a run from random weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialized_from: Option<String>,
    /// A checksum (FNV-1a, 64 bits, hex) of each weights file, written with the checkpoint
    /// and checked when it loads: a flipped bit or a zeroed block in `model.bpk` leaves a
    /// file burn still reads, with wrong weights. None in checkpoints saved before.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub checksums: std::collections::BTreeMap<String, String>,
    pub history: Vec<StepMetrics>,
}

impl TrainState {
    pub fn new(kind: &str, seed: u64, device: &str) -> Self {
        Self { format_version: FORMAT_VERSION, kind: kind.into(), step: 0, epoch: 0, seed, device: device.into(), initialized_from: None, checksums: Default::default(), history: vec![] }
    }

    /// Indented JSON with one line per history row: a long run's history (26,000 steps of
    /// mixing scenes) takes half the bytes of fully indented JSON and still reads and
    /// diffs by line.
    pub fn to_json(&self) -> anyhow::Result<String> {
        let head = serde_json::to_string_pretty(&Self { history: vec![], ..self.clone() })?;
        let rows = self.history.iter().map(serde_json::to_string).collect::<Result<Vec<_>, _>>()?;
        if rows.is_empty() {
            return Ok(head);
        }
        let empty = "\"history\": []";
        anyhow::ensure!(head.contains(empty), "state.json layout: no empty history in {head}");
        Ok(head.replacen(empty, &format!("\"history\": [\n    {}\n  ]", rows.join(",\n    ")), 1))
    }
}

/// Writes a checkpoint folder atomically (see [`write_dir_atomically`]).
pub fn save<M: Trainable>(dir: &Path, config: &TrainConfig, model: &M, optimizer: &ModuleOptimizer, state: &TrainState, prepared: &M::Prepared) -> anyhow::Result<()> {
    write_dir_atomically(dir, |tmp| {
        config.save(tmp.join(CONFIG_FILE)).context("cannot write config.json")?;
        // burn appends `.bpk` itself when the path has no extension.
        model.clone().save_file(tmp.join("model")).map_err(|e| anyhow::anyhow!("cannot write {MODEL_FILE}: {e}"))?;
        optimizer.save(tmp.join("optimizer")).map_err(|e| anyhow::anyhow!("cannot write {OPTIMIZER_FILE}: {e}"))?;
        let mut state = state.clone();
        for file in [MODEL_FILE, OPTIMIZER_FILE] {
            state.checksums.insert(file.to_string(), file_checksum(&tmp.join(file))?);
        }
        std::fs::write(tmp.join(STATE_FILE), state.to_json()?).context("cannot write state.json")?;
        prepared.save(tmp)
    })
    .with_context(|| format!("saving checkpoint {}", dir.display()))
}

/// FNV-1a (64 bits) of a file's bytes, in hex: cheap, and enough to tell a damaged file.
fn file_checksum(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3));
    Ok(format!("{hash:016x}"))
}

/// The parts of a checkpoint that can be read without building a model.
#[derive(Debug, Clone)]
pub struct CheckpointMeta {
    pub dir: PathBuf,
    pub config: TrainConfig,
    pub state: TrainState,
}

/// The checkpoint a path names: the path itself, or a run folder's `checkpoint/` (where
/// `train` and the window save it).
pub fn checkpoint_folder(path: &Path) -> PathBuf {
    let inner = path.join("checkpoint");
    if !path.join(CONFIG_FILE).is_file() && inner.join(CONFIG_FILE).is_file() { inner } else { path.to_path_buf() }
}

/// Reads and checks `config.json` and `state.json` of a checkpoint or of a run folder's
/// checkpoint; every error names the file.
pub fn read_meta(path: &Path) -> anyhow::Result<CheckpointMeta> {
    let dir = &checkpoint_folder(path);
    recover(dir);
    if !dir.is_dir() {
        bail!("{}: not a checkpoint folder (no such folder)", dir.display());
    }
    // optimizer.bpk is optional: shipped checkpoints leave it out to stay small, and
    // resuming them starts the optimizer afresh.
    for file in [CONFIG_FILE, MODEL_FILE, STATE_FILE] {
        if !dir.join(file).is_file() {
            bail!("{}: missing (is {} a Patchwork checkpoint?)", dir.join(file).display(), dir.display());
        }
    }
    let config_path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&config_path).with_context(|| format!("{}: cannot read", config_path.display()))?;
    let config: TrainConfig =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: invalid config: {e}", config_path.display()))?;
    config.validate().map_err(|e| anyhow::anyhow!("{}: invalid config: {e}", config_path.display()))?;
    let state_path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&state_path).with_context(|| format!("{}: cannot read", state_path.display()))?;
    let state: TrainState =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: invalid training state: {e}", state_path.display()))?;
    if state.format_version != FORMAT_VERSION {
        bail!("{}: checkpoint format {} is not supported (expected {FORMAT_VERSION})", state_path.display(), state.format_version);
    }
    if state.kind != config.model.kind().name() {
        bail!("{}: says model '{}' but config.json says '{}'", state_path.display(), state.kind, config.model.kind());
    }
    Ok(CheckpointMeta { dir: dir.to_path_buf(), config, state })
}

/// burn lists every tensor whose shape differs from the model's, which for weights saved by
/// another version of a network is a page of text: say what it means, with the first one.
/// `built_by` names the config the model was built from, `cause` the likely reason.
fn weights_error(message: &str, built_by: &str, cause: &str) -> String {
    let mismatches: Vec<&str> = message.split('"').filter(|item| item.contains("shape mismatch")).collect();
    match mismatches.first() {
        Some(first) => format!("{} tensor(s) have other shapes than {built_by} builds (first: {first}); {cause}", mismatches.len()),
        None => message.to_string(),
    }
}

impl CheckpointMeta {
    /// Refuses a checkpoint of another model family than `M`.
    pub fn model_config<M: Trainable>(&self) -> anyhow::Result<&M::Config> {
        M::config_of(&self.config.model).ok_or_else(|| {
            anyhow::anyhow!("{}: holds a '{}' model, not the model asked for", self.dir.join(CONFIG_FILE).display(), self.config.model.kind())
        })
    }

    /// Builds the model and loads its weights.
    pub fn load_model<M: Trainable>(&self, device: &Device) -> anyhow::Result<M> {
        let config = self.model_config::<M>()?;
        self.load_built(config, device, "cannot load the model weights", "this checkpoint's config.json", "the weights were saved by a different version of the network")
    }

    /// Builds the model from another config (a new run's, `train --init`) and loads this
    /// checkpoint's weights into it: the two must describe the same network.
    pub fn load_weights_into<M: Trainable>(&self, config: &M::Config, device: &Device) -> anyhow::Result<M> {
        self.model_config::<M>()?;
        let cause = "start from weights of the same architecture (preset, size, latent, parts), or leave those settings as the checkpoint has them";
        self.load_built(config, device, "cannot start from these weights", "the new run's settings", cause)
    }

    /// Builds `M` from `config` and loads `model.bpk` into it; a failure says `failure`, and
    /// a shape mismatch names `built_by` and the likely `cause` (see [`weights_error`]).
    fn load_built<M: Trainable>(&self, config: &M::Config, device: &Device, failure: &str, built_by: &str, cause: &str) -> anyhow::Result<M> {
        self.verify(MODEL_FILE)?;
        let path = self.dir.join(MODEL_FILE);
        M::build(config, device)
            .try_load_file(&path)
            .map_err(|e| anyhow::anyhow!("{}: {failure}: {}", path.display(), weights_error(&e.to_string(), built_by, cause)))
    }

    /// Refuses `file` when its checksum differs from the one saved with it (none saved:
    /// a checkpoint from before checksums, taken as it is).
    fn verify(&self, file: &str) -> anyhow::Result<()> {
        let Some(saved) = self.state.checksums.get(file) else { return Ok(()) };
        let path = self.dir.join(file);
        let now = file_checksum(&path)?;
        if &now != saved {
            bail!("{}: damaged or changed since it was saved (its checksum is {now}, state.json says {saved})", path.display());
        }
        Ok(())
    }

    /// Whether the checkpoint holds optimizer state (weights-only checkpoints do not).
    pub fn has_optimizer(&self) -> bool {
        self.dir.join(OPTIMIZER_FILE).is_file()
    }

    /// Loads the optimizer state into `optimizer` (load the model first: state is
    /// matched to parameters by id). A weights-only checkpoint leaves `optimizer` fresh.
    pub fn load_optimizer(&self, optimizer: ModuleOptimizer) -> anyhow::Result<ModuleOptimizer> {
        if !self.has_optimizer() {
            return Ok(optimizer);
        }
        self.verify(OPTIMIZER_FILE)?;
        let path = self.dir.join(OPTIMIZER_FILE);
        optimizer.load(&path).map_err(|e| anyhow::anyhow!("{}: cannot load the optimizer state: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_of_shape_mismatches_is_summarised_with_the_first() {
        let burn = r#"Record validation error: Apply errors: ["encoder.first.weight: shape mismatch, expected Shape { dims: [16, 5, 3, 3] } but record has Shape { dims: [6, 5, 3, 3] }", "encoder.first.bias: shape mismatch, expected Shape { dims: [16] } but record has Shape { dims: [6] }"]"#;
        let said = weights_error(burn, "X", "Y");
        assert!(said.starts_with("2 tensor(s) have other shapes than X builds"), "{said}");
        assert!(said.ends_with("; Y"), "{said}");
        assert!(said.contains("encoder.first.weight: shape mismatch"), "{said}");
        assert!(!said.contains("encoder.first.bias"), "{said}");
        assert_eq!(weights_error("file is truncated", "X", "Y"), "file is truncated");
    }

    #[test]
    fn state_json_has_a_line_per_history_row_and_reads_back() {
        let mut state = TrainState::new("beta-vae", 7, "cpu: flex (2 threads)");
        assert_eq!(serde_json::from_str::<TrainState>(&state.to_json().unwrap()).unwrap(), state);
        for step in 1..=3 {
            let terms = vec![("loss".to_string(), 1.0 / step as f64), ("kl".to_string(), 0.5)];
            state.history.push(crate::train::StepMetrics { step, epoch: 0, losses: terms, lr: 1e-3, images_per_sec: 40.0, elapsed: step as f64, ..Default::default() });
        }
        state.step = 3;
        state.initialized_from = Some("checkpoints/earlier (step 9)".into());
        let json = state.to_json().unwrap();
        assert_eq!(serde_json::from_str::<TrainState>(&json).unwrap(), state);
        let rows: Vec<&str> = json.lines().filter(|l| l.trim_start().starts_with("{\"step\"")).collect();
        assert_eq!(rows.len(), 3, "{json}");
        assert!(rows[0].contains("\"step\":1,") && rows[2].contains("\"step\":3,"), "{json}");
    }
}
