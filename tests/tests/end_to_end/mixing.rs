//! Mixing scenes end to end on the CPU: a short run of the small preset on quadrant scenes
//! lowers the reconstruction loss, runs no judge during its reconstruction warm-up (with the
//! collage term) and logs
//! every term after it, writes its neighbour index with the
//! checkpoint, and the checkpoint serves object transfer (mask 0000 = the plain
//! reconstruction) and Algorithm 1's automatic mixes.

use std::sync::Arc;

use crate::common::*;
use patchwork_core::analysis::explorable::ExplorableModel;
use patchwork_core::analysis::mixing::auto_mix;
use patchwork_core::data::scenes::QuadrantScenes;
use patchwork_core::data::{SharedSource, Split};
use patchwork_core::mixing::QuadrantMask;
use patchwork_core::mixing::neighbours::NEIGHBOURS_FILE;
use patchwork_core::families::ModelConfig;
use patchwork_core::families::mixing_scenes::MixingScenesConfig;
use patchwork_core::train::{TrainConfig, TrainEvent};
use rand::SeedableRng;

#[test]
fn a_short_small_preset_run_lowers_the_loss_and_its_checkpoint_transfers_objects() {
    let scenes: SharedSource = Arc::new(QuadrantScenes::open(Split::Train, 24).unwrap());
    // Four warm-up steps of the plain autoencoder with the collage term, then Algorithm 1
    // with every term.
    let mixing = MixingScenesConfig::new().with_rec_warmup(Some(4)).with_warmup_collage(Some(1.0));
    let mut config = TrainConfig::new(ModelConfig::MixingScenes(mixing), "scenes:24".into());
    config.batch_size = 4;
    config.max_steps = Some(14);
    config.epochs = 1000;
    config.snapshot_every = 1000;
    config.checkpoint_every_epochs = 0;
    config.lr = 2e-3;
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let events = collect(run(config, scenes.clone(), Some(run_dir.clone()), None));
    assert!(events.iter().any(|e| matches!(e, TrainEvent::Preparing { .. })), "the neighbour index is built first");
    let l = losses(&events);
    let names = |i: usize| -> Vec<&str> { l[i].1.iter().map(|(n, _)| n.as_str()).collect() };
    let judged = ["adv_g", "cls_g", "d", "cls"];
    for i in 0..4 {
        assert_eq!(names(i)[..3], ["loss", "recon_direct", "recon_collage"], "warm-up step {i}");
        let mixing = ["recon", "recon_cycle", "replaced"];
        assert!(mixing.iter().chain(&judged).all(|t| !names(i).contains(t)), "warm-up step {i} trains the plain autoencoder only: {:?}", names(i));
    }
    assert!(!names(4).contains(&"recon_collage"), "the collage term is a warm-up term");
    for term in ["loss", "recon", "recon_direct", "recon_cycle", "replaced", "lambda_rec"].iter().chain(&judged) {
        assert!(names(4).contains(term), "{term} missing from {:?}", names(4));
    }
    let term = |i: usize, name: &str| l[i].1.iter().find(|(n, _)| n == name).unwrap().1;
    let first = term(0, "recon_direct");
    let last: f64 = (l.len() - 3..l.len()).map(|i| term(i, "recon_direct")).sum::<f64>() / 3.0;
    assert!(last < 0.93 * first, "reconstruction loss {first} → {last}");
    assert!((4..l.len()).all(|i| (1.0..=3.0).contains(&term(i, "replaced"))), "Algorithm 1 replaces 1 to 3 quadrants");

    // The checkpoint keeps its neighbour lists; the explorer's questions work on it.
    let ckpt = run_dir.join("checkpoint");
    assert!(ckpt.join(NEIGHBOURS_FILE).is_file());
    // Each value is recorded as what it is: the λ weights as live hyperparameters and the
    // replaced-quadrant count as a measure, never as losses (the Train view plots losses).
    let history = patchwork_core::checkpoint::read_meta(&ckpt).unwrap().state.history;
    assert!(history.iter().all(|m| m.losses.iter().all(|(n, _)| !n.starts_with("lambda_") && n != "replaced")), "{:?}", history[4]);
    let hyper: Vec<&str> = history[4].hyper.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(hyper, ["lambda_rec", "lambda_adv", "lambda_cls"]);
    assert_eq!(history[4].measures.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["replaced"]);
    let model = ExplorableModel::load(&ckpt, &burn::prelude::Device::flex()).unwrap();
    assert_eq!(model.kind().name(), "mixing-scenes");
    let index = model.neighbour_index().expect("the index comes with the checkpoint").clone();
    assert_eq!(index.lists.len(), 24);
    let (a, b) = (scenes.get(0).image, scenes.get(1).image);
    let out = model.transfer(&a, &b, &[QuadrantMask::default()]).unwrap();
    let plain = model.reconstruct(std::slice::from_ref(&b));
    assert_eq!(out[0], plain[0], "mask 0000 renders the plain reconstruction");
    // Mask 0010 changes the render. Compared in floats: after 14 steps the model's renders of
    // any two scenes round to the same 8-bit pixels (or differ in a handful, depending on
    // the summation order of the run), so pixels cannot tell.
    let mixing = model.model.chunks().expect("a model with quadrant chunks");
    let (object, reference) = (model.batch(std::slice::from_ref(&a)), model.batch(std::slice::from_ref(&b)));
    let render = |mask: &str| -> Vec<f32> {
        mixing.transfer(object.clone(), reference.clone(), &[QuadrantMask::parse(mask).unwrap()]).into_data().try_to_vec::<f32>().unwrap()
    };
    let change = render("0000").iter().zip(render("0010")).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(change > 0.0, "mask 0010 changes the render");
    let mut rng = patchwork_core::rng::SeededRng::seed_from_u64(4);
    let mix = auto_mix(&model, &index, scenes.as_ref(), 3, &mut rng).unwrap();
    assert!((1..=3).contains(&mix.mask.replaced()));
    for (q, candidate) in mix.candidates.iter().enumerate() {
        assert!(index.lists[3][q].contains(candidate), "quadrant {q}'s candidate comes from its own list");
    }
}
