//! The training runtime end to end: overfitting, checkpoints, resume determinism,
//! divergence handling, commands.

use crate::common::*;
use patchwork_core::checkpoint;
use patchwork_core::families::beta_vae::BetaVae;
use patchwork_core::train::{LrSchedule, TrainCommand, TrainConfig, TrainEvent};

#[test]
fn overfits_64_images() {
    let mut config = small_config(64, 300);
    config.lr = 3e-3;
    let events = collect(run(config, fashion_subset(64), None, None));
    let l = losses(&events);
    let first = l[0].1[0].1;
    let last: f64 = l[l.len() - 10..].iter().map(|(_, t)| t[0].1).sum::<f64>() / 10.0;
    assert_eq!(l.len(), 300);
    assert!(last < 0.35 * first, "loss {first} → {last}");
    assert!(matches!(events.last(), Some(TrainEvent::Finished { step: 300, .. })));
}

#[test]
fn same_seed_gives_the_same_run_and_resume_continues_it_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let source = fashion_subset(256);
    // Uninterrupted: 12 steps (3 epochs of 4 batches).
    let full = losses(&collect(run(small_config(64, 12), source.clone(), None, None)));
    let again = losses(&collect(run(small_config(64, 12), source.clone(), None, None)));
    assert_eq!(full, again, "same seed, same device, same run");
    // Interrupted after 5 steps (mid-epoch), then resumed from its checkpoint.
    let first = losses(&collect(run(small_config(64, 5), source.clone(), Some(dir.path().join("run")), None)));
    let ckpt = dir.path().join("run/checkpoint");
    let meta = checkpoint::read_meta(&ckpt).unwrap();
    assert_eq!(meta.state.step, 5);
    let second = losses(&collect(run(small_config(64, 12), source, Some(dir.path().join("run2")), Some(ckpt))));
    let stitched: Vec<_> = first.into_iter().chain(second).collect();
    assert_eq!(stitched, full);
}

#[test]
fn checkpoints_round_trip_and_bad_ones_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    collect(run(small_config(32, 3), fashion_subset(64), Some(run_dir.clone()), None));
    let ckpt = run_dir.join("checkpoint");
    assert!(run_dir.join("metrics.jsonl").is_file());
    let meta = checkpoint::read_meta(&ckpt).unwrap();
    assert_eq!(meta.state.step, 3);
    assert_eq!(meta.state.history.len(), 3);
    let device = burn::prelude::Device::flex();
    let model: BetaVae = meta.load_model(&device).unwrap();
    assert_eq!(model.latent, 8);

    // A copy with a truncated weights file.
    let copy = |name: &str| {
        let to = dir.path().join(name);
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(&ckpt).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
        to
    };
    let truncated = copy("truncated");
    let bytes = std::fs::read(truncated.join("model.bpk")).unwrap();
    std::fs::write(truncated.join("model.bpk"), &bytes[..bytes.len() / 2]).unwrap();
    let err = checkpoint::read_meta(&truncated).unwrap().load_model::<BetaVae>(&device).err().unwrap().to_string();
    // Refused by the checksum saved in state.json, before burn reads the file.
    assert!(err.contains("model.bpk") && err.contains("damaged or changed since it was saved"), "{err}");

    // A config that is not JSON.
    let bad_config = copy("bad-config");
    std::fs::write(bad_config.join("config.json"), "{ not json").unwrap();
    let err = checkpoint::read_meta(&bad_config).err().unwrap().to_string();
    assert!(err.contains("config.json") && err.contains("invalid config"), "{err}");

    // A checkpoint of a model kind this build does not know.
    let other_kind = copy("other-kind");
    let text = std::fs::read_to_string(other_kind.join("config.json")).unwrap().replace("\"beta-vae\"", "\"no-such-family\"");
    std::fs::write(other_kind.join("config.json"), text).unwrap();
    let err = checkpoint::read_meta(&other_kind).err().unwrap().to_string();
    assert!(err.contains("config.json") && err.contains("no-such-family"), "{err}");

    // Weights of another architecture under a valid config.
    let mismatched = copy("mismatched");
    let text = std::fs::read_to_string(mismatched.join("config.json")).unwrap().replace("\"latent\": 8", "\"latent\": 9");
    std::fs::write(mismatched.join("config.json"), text).unwrap();
    let err = checkpoint::read_meta(&mismatched).unwrap().load_model::<BetaVae>(&device).err().unwrap().to_string();
    assert!(err.contains("model.bpk"), "{err}");

    // A weights-only checkpoint (as shipped in checkpoints/) loads and resumes with a
    // fresh optimizer.
    let weights_only = copy("weights-only");
    std::fs::remove_file(weights_only.join("optimizer.bpk")).unwrap();
    let meta = checkpoint::read_meta(&weights_only).unwrap();
    assert!(!meta.has_optimizer());
    let _: BetaVae = meta.load_model(&device).unwrap();
    let resumed = losses(&collect(run(small_config(32, 5), fashion_subset(64), None, Some(weights_only))));
    assert_eq!(resumed.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![4, 5]);

    // Not a checkpoint at all.
    let err = checkpoint::read_meta(dir.path()).err().unwrap().to_string();
    assert!(err.contains("missing"), "{err}");
}

#[test]
fn divergence_pauses_and_keeps_the_last_good_weights() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_config(64, 200);
    config.lr = 1e6;
    let handle = run(config, fashion_subset(128), Some(dir.path().join("run")), None);
    let mut diverged_at = None;
    for event in handle.events.iter() {
        match event {
            TrainEvent::Diverged { step, .. } => {
                diverged_at = Some(step);
                handle.send(TrainCommand::SaveNow(None));
                handle.send(TrainCommand::Stop);
            }
            TrainEvent::Failed { message } => panic!("{message}"),
            _ => {}
        }
    }
    handle.join();
    let step = diverged_at.expect("lr 1e6 diverges");
    let meta = checkpoint::read_meta(&dir.path().join("run/checkpoint")).unwrap();
    assert_eq!(meta.state.step, step, "no update was applied at the diverging step");
    assert!(meta.state.history.iter().all(|m| m.all().all(|(_, v)| v.is_finite())));
    // The kept weights still give finite reconstructions.
    let model: BetaVae = meta.load_model(&burn::prelude::Device::flex()).unwrap();
    let x = burn::prelude::Tensor::<4>::zeros([1, 1, 28, 28], &burn::prelude::Device::flex());
    let mu: Vec<f32> = model.encode(x).mu.into_data().try_to_vec::<f32>().unwrap();
    assert!(mu.iter().all(|v| v.is_finite()));
}

#[test]
fn pause_resume_and_hyperparameter_commands_take_effect() {
    let handle = run(small_config(32, 100_000), fashion_subset(64), None, None);
    let mut paused = false;
    let mut changed = false;
    for event in handle.events.iter() {
        match event {
            TrainEvent::Step { metrics, .. } if metrics.step == 3 && !paused => {
                handle.send(TrainCommand::Pause);
            }
            TrainEvent::Paused { step } => {
                paused = true;
                handle.send(TrainCommand::SetHyperparameter { name: "beta".into(), value: 2.5 });
                handle.send(TrainCommand::SetHyperparameter { name: "nonsense".into(), value: 1.0 });
                handle.send(TrainCommand::Resume);
                assert!(step >= 3);
            }
            TrainEvent::HyperparameterChanged { name, value } => {
                assert_eq!((name.as_str(), value), ("beta", 2.5));
                changed = true;
            }
            TrainEvent::Step { metrics, .. } if paused && changed => {
                assert_eq!(metrics.term("beta"), Some(2.5));
                handle.send(TrainCommand::Stop);
            }
            TrainEvent::Failed { message } => assert!(message.contains("nonsense"), "{message}"),
            _ => {}
        }
    }
    handle.join();
    assert!(paused && changed);
}

#[test]
fn a_cosine_schedule_anneals_the_learning_rate_and_a_resume_stays_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let source = fashion_subset(256);
    let cosine = |max_steps| TrainConfig { lr_schedule: Some(LrSchedule::Cosine { lr_min: 1e-5 }), ..small_config(64, max_steps) };
    let rates = |events: &[TrainEvent]| -> Vec<f64> {
        events
            .iter()
            .filter_map(|e| match e {
                TrainEvent::Step { metrics, .. } => Some(metrics.lr),
                _ => None,
            })
            .collect()
    };
    let full = rates(&collect(run(cosine(12), source.clone(), Some(dir.path().join("full")), None)));
    assert_eq!(full.len(), 12);
    assert_eq!(full[0], 1e-3, "the first step runs at lr");
    assert!(full.windows(2).all(|w| w[1] < w[0]), "{full:?}");
    // Halfway through, halfway between lr and lr_min; the last step just above lr_min.
    assert!((full[6] - (1e-3 + 1e-5) / 2.0).abs() < 1e-9, "{full:?}");
    assert!(full[11] > 1e-5 && full[11] < 3e-5, "{full:?}");
    // A run stopped at step 5 and resumed continues along the same curve.
    let handle = run(cosine(12), source.clone(), Some(dir.path().join("run")), None);
    let mut first = vec![];
    for event in handle.events.iter() {
        if let TrainEvent::Step { metrics, .. } = &event {
            first.push(metrics.lr);
            if metrics.step == 5 {
                handle.send(TrainCommand::Stop);
            }
        }
    }
    handle.join();
    let second = rates(&collect(run(cosine(12), source, Some(dir.path().join("run2")), Some(dir.path().join("run/checkpoint")))));
    let stitched: Vec<f64> = first.into_iter().chain(second).collect();
    assert_eq!(stitched, full);
}
