//! Numerical faults and failed saves, for every registered family (docs/reliability.md):
//! a NaN, an infinite pixel and an infinite gradient injected at chosen steps pause the run
//! before the update, a save then writes the last good weights, and once resumed the run
//! is the run it would have been without them. A save that fails keeps the weights in
//! memory, pauses the run, and saving again works.

use std::sync::Arc;

use patchwork_core::bench::smallest_config;
use patchwork_core::analysis::explorable::ExplorableModel;
use patchwork_core::checkpoint;
use patchwork_core::data::{DataSpec, HostImage, SharedSource, Split, Subset};
use patchwork_core::families::FamilyKind;
use patchwork_core::train::{InjectedFault, RunSpec, RunStart, TrainCommand, TrainConfig, TrainEvent, spawn};

use super::common::{collect, cpu, losses, run};

fn family_run(kind: FamilyKind) -> (TrainConfig, SharedSource) {
    let model = smallest_config(kind);
    let data: DataSpec = kind.info().data.parse().unwrap();
    let full = data.open(Split::Train, model.image_size()).unwrap();
    let n = full.len();
    // The first and the last images: both pools of a two-pool source.
    let source: SharedSource = Arc::new(Subset::new(full, (0..8).chain(n - 8..n).collect(), "faults test"));
    let mut config = TrainConfig::new(model, kind.info().data.into());
    (config.batch_size, config.max_steps, config.epochs, config.snapshot_every, config.checkpoint_every_epochs) = (4, Some(5), 1000, 1000, 0);
    (config, source)
}

#[test]
fn injected_nans_infinities_and_gradients_pause_every_family_before_the_update() {
    for &kind in FamilyKind::ALL {
        let (config, source) = family_run(kind);
        let probe = source.clone();
        let clean = losses(&collect(run(config.clone(), source.clone(), None, None)));
        assert_eq!(clean.len(), 5, "{kind}");
        let dir = tempfile::tempdir().unwrap();
        let faults: Vec<InjectedFault> = ["nan@1", "inf@2", "gradient@3"].iter().map(|f| f.parse().unwrap()).collect();
        let handle = spawn(RunSpec { config, device: cpu(), run_dir: None, start: RunStart::Fresh, source: Some(source), faults });
        let mut diverged = vec![];
        let mut saved = vec![];
        let mut steps = vec![];
        for event in handle.events.iter() {
            match event {
                TrainEvent::Diverged { step, term, value } => {
                    assert!(!value.is_finite(), "{kind}: {term} = {value}");
                    diverged.push((step, term));
                    // What a save writes now: the weights of the last good step.
                    handle.send(TrainCommand::SaveNow(Some(dir.path().join(format!("at-{step}")))));
                    handle.send(TrainCommand::Resume);
                }
                TrainEvent::CheckpointSaved { step, .. } => saved.push(step),
                TrainEvent::Step { metrics, .. } => steps.push((metrics.step, metrics.all().cloned().collect::<Vec<_>>())),
                TrainEvent::Failed { message } | TrainEvent::SaveFailed { message, .. } => panic!("{kind}: {message}"),
                _ => {}
            }
        }
        handle.join();
        let at: Vec<u64> = diverged.iter().map(|(s, _)| *s).collect();
        assert_eq!(at, vec![1, 2, 3], "{kind}: each fault pauses the run at its step");
        assert_eq!(diverged[2].1, "gradient norm", "{kind}: the infinite gradient is caught before the update");
        assert!(diverged[..2].iter().all(|(_, term)| term != "gradient norm"), "{kind}: a NaN or infinite input is caught at the loss: {diverged:?}");
        assert_eq!(saved, vec![1, 2, 3], "{kind}");
        let images: Vec<HostImage> = (0..2).map(|i| probe.get(i).image).collect();
        for step in [1, 2, 3] {
            let at = dir.path().join(format!("at-{step}"));
            let meta = checkpoint::read_meta(&at).unwrap();
            assert_eq!(meta.state.step, step, "{kind}: the save holds the last good step");
            assert!(meta.state.history.iter().all(|m| m.all().all(|(_, v)| v.is_finite())), "{kind}");
            // Its running statistics too (batch norm's, used at inference): a NaN batch
            // passed through the forward pass before the step was refused.
            let model = ExplorableModel::load(&at, &burn::prelude::Device::flex()).unwrap();
            // (A NaN pixel becomes 0 on the way to the host: a poisoned model gives black images.)
            let out = model.reconstruct(&images);
            assert!(out.len() == 2 && out.iter().all(|im| im.pixels.iter().any(|&p| p > 0)), "{kind}: NaN reconstructions from the checkpoint of step {step}");
        }
        // Resumed after each fault, the run is the run without faults: nothing of a refused
        // step (a network some families had already updated) was kept.
        assert_eq!(steps, clean, "{kind}: the faulted run, resumed, equals the clean run");
    }
}

#[test]
fn a_save_that_fails_keeps_the_weights_pauses_the_run_and_saving_again_works() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let mut config = super::common::small_config(16, 1000);
    config.checkpoint_every_epochs = 1;
    // Where the checkpoint goes, a file: every save fails until it is moved away (as a
    // full disk would fail it until space is freed).
    std::fs::create_dir_all(&run_dir).unwrap();
    let blocker = run_dir.join("checkpoint");
    std::fs::write(&blocker, b"in the way").unwrap();
    let handle = run(config, super::common::fashion_subset(64), Some(run_dir.clone()), None);
    let mut failures = 0;
    let mut saved_at = None;
    let mut steps_after_failure = 0;
    for event in handle.events.iter() {
        match event {
            TrainEvent::SaveFailed { path, step, message } => {
                failures += 1;
                assert_eq!((path.as_path(), step), (blocker.as_path(), 4), "the first epoch's checkpoint");
                assert!(!message.is_empty());
                if failures == 1 {
                    // Paused: no step arrives while the save waits. Try again while it still fails.
                    handle.send(TrainCommand::SaveNow(None));
                } else {
                    std::fs::remove_file(&blocker).unwrap();
                    handle.send(TrainCommand::SaveNow(None));
                }
            }
            TrainEvent::Step { .. } if failures > 0 => steps_after_failure += 1,
            TrainEvent::CheckpointSaved { step, .. } if saved_at.is_none() => {
                saved_at = Some(step);
                assert_eq!(steps_after_failure, 0, "the run waited for the save");
                handle.send(TrainCommand::Stop);
            }
            TrainEvent::Failed { message } => panic!("{message}"),
            _ => {}
        }
    }
    handle.join();
    assert_eq!((failures, saved_at), (2, Some(4)));
    let meta = checkpoint::read_meta(&run_dir.join("checkpoint")).unwrap();
    assert_eq!(meta.state.step, 4, "the weights kept in memory were saved");
    let _: patchwork_core::families::beta_vae::BetaVae = meta.load_model(&burn::prelude::Device::flex()).unwrap();
}

#[test]
fn a_run_stopping_with_a_save_that_fails_waits_for_one_that_works() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let blocker = run_dir.join("checkpoint");
    std::fs::write(&blocker, b"in the way").unwrap();
    let elsewhere = dir.path().join("elsewhere");
    let handle = run(super::common::small_config(16, 3), super::common::fashion_subset(64), Some(run_dir), None);
    let mut finished = None;
    for event in handle.events.iter() {
        match event {
            // The final save fails; saving elsewhere lets the run end with its weights.
            TrainEvent::SaveFailed { .. } => {
                handle.send(TrainCommand::SaveNow(Some(elsewhere.clone())));
            }
            TrainEvent::Finished { step, checkpoint } => finished = Some((step, checkpoint)),
            TrainEvent::Failed { message } => panic!("{message}"),
            _ => {}
        }
    }
    handle.join();
    assert_eq!(finished, Some((3, Some(elsewhere.clone()))));
    assert_eq!(checkpoint::read_meta(&elsewhere).unwrap().state.step, 3);
    assert_eq!(std::fs::read(&blocker).unwrap(), b"in the way", "nothing overwrote what was in the way");
}

