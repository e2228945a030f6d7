//! The cycle-consistent VAE trains: a short CPU run lowers its forward-cycle loss, and a
//! folder without class subfolders is refused with a clear error.

use std::sync::Arc;

use patchwork_core::data::{DataSpec, SharedSource, Split, Subset};
use patchwork_core::families::FamilyKind;
use patchwork_core::train::{TrainConfig, TrainEvent};

use super::common::{collect, losses, run};

#[test]
fn a_short_cpu_run_lowers_the_forward_loss_and_unlabelled_folders_are_refused() {
    let kind: FamilyKind = "cycle-vae".parse().unwrap();
    let full = DataSpec::Embedded(patchwork_core::data::embedded::EmbeddedSet::Mnist).open(Split::Train, 28).unwrap();
    let source: SharedSource = Arc::new(Subset::new(full, (0..512).collect(), "first 512 digits"));
    let mut config = TrainConfig::new(kind.default_config(1), "mnist".into());
    (config.batch_size, config.max_steps, config.epochs, config.snapshot_every, config.checkpoint_every_epochs, config.lr) = (32, Some(120), 1000, 1000, 0, 1e-3);
    let l = losses(&collect(run(config.clone(), source, None, None)));
    let recon = |i: usize| l[i].1.iter().find(|(n, _)| n == "recon").unwrap().1;
    let first: f64 = (0..10).map(recon).sum::<f64>() / 10.0;
    let last: f64 = (l.len() - 10..l.len()).map(recon).sum::<f64>() / 10.0;
    assert!(last < 0.7 * first, "forward reconstruction {first} → {last}");
    // Images in a folder with no class subfolders: no pairs to make, said before training.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..4u8 {
        image::GrayImage::from_fn(28, 28, |x, _| image::Luma([x as u8 * i])).save(dir.path().join(format!("{i}.png"))).unwrap();
    }
    config.data = format!("folder:{}", dir.path().display());
    let folder = config.data.parse::<DataSpec>().unwrap().open(Split::Train, 28).unwrap();
    let events: Vec<TrainEvent> = run(config, folder, None, None).events.iter().collect();
    let failed = events.iter().find_map(|e| match e {
        TrainEvent::Failed { message } => Some(message.clone()),
        _ => None,
    });
    assert!(failed.as_deref().is_some_and(|m| m.contains("has no class") && m.contains("subfolders are the classes")), "{failed:?}");
}
