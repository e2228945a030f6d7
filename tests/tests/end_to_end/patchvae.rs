//! PatchVAE end to end on the CPU: a short overfit run, its checkpoint refused as another
//! family, the part browser index, and the probe on a tiny subset.

use std::sync::atomic::AtomicBool;

use crate::common::*;
use patchwork_core::analysis::explorable::ExplorableModel;
use patchwork_core::analysis::part_index::{self, PartIndexSettings};
use patchwork_core::checkpoint;
use patchwork_core::data::SharedSource;
use patchwork_core::eval::probe::{ProbeRegime, ProbeSettings};
use patchwork_core::families::ModelConfig;
use patchwork_core::families::beta_vae::BetaVae;
use patchwork_core::families::patch_vae::{PatchVae, PatchVaeConfig};
use patchwork_core::train::{TrainConfig, TrainEvent};

fn fashion32(n: usize) -> SharedSource {
    fashion_subset_at(n, 32)
}

fn patch_config(batch: usize, max_steps: u64) -> TrainConfig {
    let model = PatchVaeConfig::new().with_channels(1).with_parts(8).with_part_dim(4);
    let mut c = quick_config(ModelConfig::PatchVae(model), batch, max_steps);
    c.lr = 2e-3;
    c
}

#[test]
fn patchvae_overfits_and_its_checkpoint_serves_analysis_and_the_probe() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let events = collect(run(patch_config(32, 120), fashion32(32), Some(run_dir.clone()), None));
    let l = losses(&events);
    let names: Vec<&str> = l[0].1.iter().map(|(n, _)| n.as_str()).collect();
    for term in ["loss", "recon", "kl_occ", "kl_app", "temperature", "beta_occ", "beta_app"] {
        assert!(names.contains(&term), "{term} missing from {names:?}");
    }
    let recon = |i: usize| l[i].1.iter().find(|(n, _)| n == "recon").unwrap().1;
    let first = recon(0);
    let last: f64 = (l.len() - 10..l.len()).map(recon).sum::<f64>() / 10.0;
    assert!(last < 0.5 * first, "reconstruction loss {first} → {last}");
    assert!(matches!(events.last(), Some(TrainEvent::Finished { step: 120, .. })));

    // The checkpoint is a PatchVAE and is refused as a β-VAE, naming the file.
    let ckpt = run_dir.join("checkpoint");
    let meta = checkpoint::read_meta(&ckpt).unwrap();
    let device = burn::prelude::Device::flex();
    let err = meta.load_model::<BetaVae>(&device).unwrap_err().to_string();
    assert!(err.contains("config.json") && err.contains("patchvae"), "{err}");
    let model: PatchVae = meta.load_model(&device).unwrap();
    assert_eq!(model.parts, 8);

    // Part browser index over 40 images, then cancelled builds return nothing.
    let explorable = ExplorableModel::load(&ckpt, &device).unwrap();
    let source = fashion32(40);
    let settings = PartIndexSettings { top_k: 5, batch: 16, ..Default::default() };
    let mut seen = vec![];
    let index = part_index::build(&explorable, &source, settings, &AtomicBool::new(false), |d, t| seen.push((d, t))).unwrap();
    assert_eq!(seen.last(), Some(&(40, 40)));
    assert_eq!(index.parts.len(), 8);
    for part in &index.parts {
        assert!(part.hits.len() == 5 && part.hits.windows(2).all(|w| w[0].probability >= w[1].probability));
        assert!((0.0..=1.0).contains(&part.firing_rate));
    }
    assert!(part_index::build(&explorable, &source, settings, &AtomicBool::new(true), |_, _| ()).is_none());

    // The probe runs end to end on a tiny subset (all three regimes).
    for regime in [ProbeRegime::Conv1To5, ProbeRegime::Conv1] {
        let settings = ProbeSettings { epochs: 2, train_limit: Some(64), test_limit: Some(32), ..ProbeSettings::paper(regime) };
        let report = patchwork_core::eval::probe::run(&meta, &"fashion-mnist".parse().unwrap(), &cpu(), &settings, |_, _| ()).unwrap();
        assert_eq!((report.train_images, report.test_images, report.classes), (64, 32, 10));
        assert!((0.0..=100.0).contains(&report.top1) && report.final_train_loss.is_finite());
    }

    // Reconstruction quality is scored for PatchVAE too.
    let recon = patchwork_core::eval::recon::evaluate(&meta, &device, Some(fashion32(16)), None).unwrap();
    assert!(recon.psnr.is_finite() && recon.psnr > 5.0 && recon.flat_psnr.is_finite() && recon.flat_psnr > 5.0, "{recon:?}");
}
