//! One test over the registry instead of per-family copies: every registered family
//! builds its default config, trains 3 steps on the CPU, saves, loads, resumes one step,
//! and answers each capability it declares. Adding a family to the registry adds it here
//! with no new test code.

use std::sync::Arc;

use patchwork_core::analysis::explorable::ExplorableModel;
use patchwork_core::capabilities::Capability;
use patchwork_core::data::{DataSpec, HostImage, SharedSource, Split, Subset};
use patchwork_core::families::{FamilyKind, Role};
use patchwork_core::mixing::QuadrantMask;
use patchwork_core::train::{TrainConfig, TrainEvent};

use super::common::{collect, run};

fn finished_at(events: &[TrainEvent]) -> Option<u64> {
    events.iter().find_map(|e| match e {
        TrainEvent::Finished { step, .. } => Some(*step),
        _ => None,
    })
}

#[test]
fn every_registered_family_trains_saves_loads_resumes_and_explores() {
    for &kind in FamilyKind::ALL {
        let info = kind.info();
        let size = kind.default_config(1).image_size();
        let data: DataSpec = info.data.parse().unwrap();
        let full = data.open(Split::Train, size).unwrap();
        let channels = full.info().channels;
        // The first and the last images: both pools of a two-pool source (unlabelled first).
        let n = full.len();
        let source: SharedSource = Arc::new(Subset::new(full, (0..12).chain(n - 12..n).collect(), "registry test"));
        let model = kind.default_config(channels);
        assert_eq!(model.validate(), Ok(()), "{kind}: its default config is valid");
        let mut config = TrainConfig::new(model, info.data.into());
        (config.batch_size, config.max_steps, config.epochs, config.snapshot_every, config.checkpoint_every_epochs) = (4, Some(3), 1000, 1000, 0);
        let dir = tempfile::tempdir().unwrap();
        let run_dir = dir.path().join("run");
        let events = collect(run(config.clone(), source.clone(), Some(run_dir.clone()), None));
        assert_eq!(finished_at(&events), Some(3), "{kind}: trains 3 steps");
        // Each step says what its values are: the losses, "loss" first, and the live
        // settings of the family's table that are logged.
        let logged: Vec<&str> = config.model.settings().iter().filter(|s| s.role == Role::Live { logged: true }).map(|s| s.name).collect();
        for e in &events {
            if let TrainEvent::Step { metrics, .. } = e {
                assert_eq!(metrics.losses.first().map(|(n, _)| n.as_str()), Some("loss"), "{kind}");
                assert!(metrics.hyper.iter().all(|(n, _)| logged.contains(&n.as_str())), "{kind}: {:?} not among {logged:?}", metrics.hyper);
                assert!(metrics.losses.iter().all(|(n, _)| !logged.contains(&n.as_str())), "{kind}: a live setting logged as a loss: {:?}", metrics.losses);
            }
        }
        let checkpoint = run_dir.join("checkpoint");
        // Resumed from its checkpoint, it goes on for one more step.
        config.max_steps = Some(4);
        let resumed = collect(run(config, source.clone(), Some(run_dir.clone()), Some(checkpoint.clone())));
        assert_eq!(finished_at(&resumed), Some(4), "{kind}: resumes one step");
        // Loaded for the explorer: the capabilities it declares, and each one answers.
        let model = ExplorableModel::load(&checkpoint, &burn::prelude::Device::flex()).unwrap();
        assert_eq!((model.kind(), model.step), (kind, 4));
        let mut offered = model.model.capabilities();
        let mut declared = info.capabilities.to_vec();
        offered.sort_by_key(|c| format!("{c:?}"));
        declared.sort_by_key(|c| format!("{c:?}"));
        assert_eq!(offered, declared, "{kind}: offers what its registry entry declares");
        let images: Vec<HostImage> = (0..2).map(|i| source.get(i).image).collect();
        let is_model_sized = |out: &[HostImage], n: usize| out.len() == n && out.iter().all(|im| (im.width, im.height, im.channels) == (size, size, channels));
        assert!(is_model_sized(&model.reconstruct(&images), 2), "{kind}: reconstructs");
        for capability in declared {
            match capability {
                Capability::Latents => {
                    let codes = model.encode_latents(&images).unwrap();
                    let mus: Vec<Vec<f32>> = codes.iter().map(|c| c.mu.clone()).collect();
                    assert!(is_model_sized(&model.decode_latents(&mus).unwrap(), 2), "{kind}: latents");
                }
                Capability::PriorSamples => assert!(is_model_sized(&model.sample_prior(3, 1), 3), "{kind}: prior samples"),
                Capability::Parts => {
                    let analyses = model.analyse_parts(&images).unwrap();
                    let swapped = analyses[1].code.with_appearance_from(&analyses[0].code, 0, 0);
                    assert!(is_model_sized(&model.decode_part_codes(&[swapped]).unwrap(), 1), "{kind}: parts");
                }
                Capability::Split => {
                    let codes = model.encode_split(&images).unwrap();
                    let swapped: Vec<(Vec<f32>, Vec<f32>)> = vec![(codes[0].unspecified.mu.clone(), codes[1].specified.clone()), (codes[1].unspecified.mu.clone(), codes[0].specified.clone())];
                    assert!(is_model_sized(&model.decode_split(&swapped).unwrap(), 2), "{kind}: split");
                }
                Capability::Chunks => {
                    let mixed = model.transfer(&images[0], &images[1], &[QuadrantMask::parse("0010").unwrap()]).unwrap();
                    assert!(is_model_sized(&mixed, 1), "{kind}: chunks");
                    let codes = model.encode_chunks(&images).unwrap();
                    assert!(is_model_sized(&model.decode_chunks(&codes).unwrap(), 2), "{kind}: chunk codes");
                }
            }
        }
    }
}
