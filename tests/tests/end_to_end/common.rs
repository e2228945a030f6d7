// Helpers shared by the cross-crate tests.
#![allow(dead_code)]

use std::sync::Arc;

use patchwork_core::data::{DataSpec, SharedSource, Split, Subset};
use patchwork_core::device::ResolvedDevice;
use patchwork_core::families::ModelConfig;
use patchwork_core::families::beta_vae::{BetaVaeConfig, VaeArch};
use patchwork_core::train::{RunSpec, RunStart, TrainConfig, TrainEvent, TrainerHandle, spawn};

pub fn cpu() -> ResolvedDevice {
    patchwork_core::device::resolve(patchwork_core::device::DeviceChoice::Cpu).unwrap()
}

/// The first `n` embedded Fashion-MNIST training images, at 28×28.
pub fn fashion_subset(n: usize) -> SharedSource {
    fashion_subset_at(n, 28)
}

/// The first `n` embedded Fashion-MNIST training images, prepared for `size`×`size` models.
pub fn fashion_subset_at(n: usize, size: usize) -> SharedSource {
    let full = DataSpec::Embedded(patchwork_core::data::embedded::EmbeddedSet::FashionMnist).open(Split::Train, size).unwrap();
    Arc::new(Subset::new(full, (0..n).collect(), "subset"))
}

/// A small, fast model: MLP β-VAE at 28×28.
pub fn small_config(batch: usize, max_steps: u64) -> TrainConfig {
    let model = BetaVaeConfig::new(VaeArch::Mlp).with_image_size(28).with_latent(8).with_hidden(64).with_beta(1.0);
    quick_config(ModelConfig::BetaVae(model), batch, max_steps)
}

/// A run of `model` on Fashion-MNIST that stops after `max_steps`, with no periodic
/// snapshots or checkpoints.
pub fn quick_config(model: ModelConfig, batch: usize, max_steps: u64) -> TrainConfig {
    let mut c = TrainConfig::new(model, "fashion-mnist".into());
    c.batch_size = batch;
    c.max_steps = Some(max_steps);
    c.epochs = 1000;
    c.snapshot_every = 1000;
    c.checkpoint_every_epochs = 0;
    c
}

pub fn run(config: TrainConfig, source: SharedSource, run_dir: Option<std::path::PathBuf>, resume: Option<std::path::PathBuf>) -> TrainerHandle {
    spawn(RunSpec { config, device: cpu(), run_dir, start: resume.map_or(RunStart::Fresh, RunStart::Resume), source: Some(source), faults: vec![] })
}

/// Collects every event until the run ends; panics on failure.
pub fn collect(handle: TrainerHandle) -> Vec<TrainEvent> {
    let events: Vec<TrainEvent> = handle.events.iter().collect();
    handle.join();
    if let Some(TrainEvent::Failed { message }) = events.iter().find(|e| matches!(e, TrainEvent::Failed { .. })) {
        panic!("run failed: {message}");
    }
    events
}

pub fn losses(events: &[TrainEvent]) -> Vec<(u64, Vec<(String, f64)>)> {
    events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Step { metrics, .. } => Some((metrics.step, metrics.all().cloned().collect())),
            _ => None,
        })
        .collect()
}
