//! `patchwork eval transfer`: does mask-based object transfer (thesis §4.2) move the object
//! and keep the rest? On held-out quadrant scenes, an object quadrant of scene A is
//! transferred into scene B (a one-quadrant mask); a judge trained on the scenes' ground
//! truth then classifies every quadrant of the rendered mix. "Transferred" accuracy: the
//! transferred quadrant shows A's object class there; "kept": the other three quadrants
//! still show B's (an object class or "empty"). The same judge scores the pixel collage
//! (what a perfect transfer would give) and B's plain reconstruction (what ignoring the
//! mask would give), so the model's figures sit between two references. PSNR of plain
//! reconstructions of the test scenes comes with it.
//!
//! The judge can only score what a model renders recognisably; a blurry model's transfers
//! can be right in colour and layout yet unreadable to it. So the report also says, without
//! the judge, where the render's quadrants sit between the two inputs' own reconstructions
//! (the *pixel share*, see [`PixelShares`]), and scores the renders again with a second
//! judge trained on the model's own reconstructions (see [`ReconstructionJudge`]).
//!
//! The judge: [`Judge`], a small CNN (3 conv + pool layers, 32/64/128 maps, one linear layer), on 32×32
//! quadrant crops, 11 classes (Fashion-MNIST's 10 and "empty"), trained with Adam on
//! quadrants of training scenes; its own accuracy on test-scene quadrants is reported.

use burn::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::capabilities::Capability;
use crate::families::FamilyKind;
use super::judge::{Judge, JudgeShape};
use super::quality::psnr;
use crate::analysis::explorable::ExplorableModel;
use crate::analysis::mixing::{crop_chw, quadrant_collage};
use crate::data::scenes::{QUADRANT, QuadrantScenes, TEST_SCENES};
use crate::data::{HostImage, ImageSource, Split, fit_image};
use crate::mixing::QuadrantMask;

/// The judge's classes: the 10 object classes, then "empty".
pub const EMPTY_CLASS: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransferSettings {
    /// Held-out scene pairs to transfer.
    pub pairs: usize,
    /// Training scenes for the judge (4 quadrant crops each).
    pub judge_scenes: usize,
    pub judge_epochs: usize,
    pub seed: u64,
}

impl Default for TransferSettings {
    fn default() -> Self {
        Self { pairs: 500, judge_scenes: 4_000, judge_epochs: 4, seed: 1 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accuracies {
    /// % of transfers whose transferred quadrant shows the object's class.
    pub transferred: f64,
    /// % of kept quadrants that still show the reference's content.
    pub kept: f64,
}

/// Where a render's quadrants sit between the reference's and the object image's own
/// reconstructions: per quadrant, d_ref / (d_ref + d_obj) with d the mean absolute pixel
/// difference — 0 at the reference's reconstruction, 1 at the object's, 0.5 halfway.
/// A perfect transfer scores 1 on the transferred quadrant and 0 on the kept ones;
/// ignoring the mask scores 0 and 0; a global blend about 0.5 on all four.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PixelShares {
    pub transferred: f64,
    pub kept: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransferReport {
    pub pairs: usize,
    pub model: Accuracies,
    /// The pixel collage: the judge's ceiling.
    pub collage: Accuracies,
    /// The reference's plain reconstruction (mask ignored): transferring nothing.
    pub no_transfer: Accuracies,
    /// The judge's own accuracy on held-out test-scene quadrants.
    pub judge_accuracy: f64,
    /// Mean PSNR (dB) of plain reconstructions of the test scenes used.
    pub recon_psnr: f64,
    /// The judge-free measure of the model's transfers.
    pub pixel_share: PixelShares,
    /// The same protocol scored by a judge trained on the model's own reconstructions.
    pub reconstruction_judge: ReconstructionJudge,
}

/// A second judge, trained on the model's plain reconstructions of the judge's training
/// scenes (ground-truth labels): it reads the model's renders, blur and all, as well as the
/// model renders anything. Its transferred score says whether the transfer carries the
/// object's class; the first judge's says whether it looks like the real object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReconstructionJudge {
    /// Its accuracy on the model's reconstructions of test-scene quadrants: its ceiling.
    pub accuracy: f64,
    /// The same on the quadrants that hold an object: the ceiling of `model.transferred`
    /// (a transferred quadrant always holds one).
    pub object_accuracy: f64,
    pub model: Accuracies,
    /// The reference's plain reconstruction (mask ignored): transferring nothing.
    pub no_transfer: Accuracies,
}

/// One quadrant's pixel share (see [`PixelShares`]); None where the two reconstructions
/// agree there, so no share can be told.
fn pixel_share(render: &[f32], reference: &[f32], object: &[f32]) -> Option<f64> {
    let distance = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| f64::from((x - y).abs())).sum::<f64>() / a.len().max(1) as f64;
    let (d_ref, d_obj) = (distance(render, reference), distance(render, object));
    (distance(reference, object) > 1e-4).then(|| d_ref / (d_ref + d_obj).max(1e-12))
}

/// What the quadrant judges look at: 32×32 colour crops, 11 classes.
pub const QUADRANT_JUDGE: JudgeShape = JudgeShape { channels: 3, size: QUADRANT, classes: EMPTY_CLASS + 1 };

/// The 32×32 crop of quadrant `q` of a 64×64 CHW image in [−1, 1].
fn crop(chw: &[f32], q: usize) -> Vec<f32> {
    crop_chw(chw, q, 2 * QUADRANT)
}

fn class_of(truth: Option<u32>) -> usize {
    truth.map_or(EMPTY_CLASS, |c| c as usize)
}

/// Scenes `0..n` of `source` and the classes of their quadrants (4 per scene, in order).
fn scenes(source: &QuadrantScenes, n: usize) -> (Vec<HostImage>, Vec<usize>) {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n.min(source.len()) {
        let (image, truth) = source.render(i);
        images.push(image);
        labels.extend(truth.0.map(class_of));
    }
    (images, labels)
}

/// The judges' training scenes and the test scenes, each with its quadrants' classes.
type LabelledScenes = (Vec<HostImage>, Vec<usize>);
fn judge_scenes(settings: &TransferSettings) -> anyhow::Result<(LabelledScenes, LabelledScenes)> {
    let train = scenes(&QuadrantScenes::open(Split::Train, settings.judge_scenes)?, settings.judge_scenes);
    Ok((train, scenes(&QuadrantScenes::open(Split::Test, 0)?, TEST_SCENES)))
}

/// The four quadrant crops of each image, in order.
fn quadrant_crops(images: &[HostImage]) -> Vec<f32> {
    images
        .iter()
        .flat_map(|image| {
            let chw = fit_image(image, 2 * QUADRANT, 3);
            (0..4).flat_map(move |q| crop(&chw, q))
        })
        .collect()
}

/// `model`'s plain reconstructions of `images`, a batch at a time.
fn reconstructions(model: &ExplorableModel, images: &[HostImage]) -> Vec<HostImage> {
    images.chunks(64).flat_map(|chunk| model.reconstruct(chunk)).collect()
}

/// Trains the judge on training-scene quadrants; returns it (inference) and its accuracy
/// on test-scene quadrants.
pub fn train_judge(settings: &TransferSettings, device: &Device) -> anyhow::Result<(Judge, f64)> {
    let (train, test) = judge_scenes(settings)?;
    let (judge, accuracy, _) = fit_judge((&train.0, &train.1), (&test.0, &test.1), settings, device);
    Ok((judge, accuracy))
}

/// Trains a judge on the quadrants of the `train` images (their classes beside them);
/// returns it (inference), its accuracy on the quadrants of `test` and its accuracy on those
/// of them that hold an object.
fn fit_judge(train: (&[HostImage], &[usize]), test: (&[HostImage], &[usize]), settings: &TransferSettings, device: &Device) -> (Judge, f64, f64) {
    let judge = Judge::fit(&quadrant_crops(train.0), train.1, QUADRANT_JUDGE, settings.judge_epochs, settings.seed, device);
    let predicted = judge.classify(&quadrant_crops(test.0), QUADRANT_JUDGE, device);
    let (all, objects) = accuracies(&predicted, test.1);
    (judge, all, objects)
}

/// % of `predicted` classes equal to `labels`: over all quadrants, and over those whose
/// label is an object (not [`EMPTY_CLASS`]).
fn accuracies(predicted: &[usize], labels: &[usize]) -> (f64, f64) {
    let percent_correct = |objects_only: bool| {
        let scored: Vec<bool> = predicted.iter().zip(labels).filter(|(_, l)| !objects_only || **l != EMPTY_CLASS).map(|(p, l)| p == l).collect();
        100.0 * scored.iter().filter(|&&hit| hit).count() as f64 / scored.len().max(1) as f64
    };
    (percent_correct(false), percent_correct(true))
}

/// Runs the protocol on `model` (a model with quadrant chunks) with a freshly trained judge.
pub fn evaluate(model: &ExplorableModel, settings: &TransferSettings, progress: &dyn Fn(&str)) -> anyhow::Result<TransferReport> {
    if !model.offers(Capability::Chunks) {
        let offering: Vec<String> = FamilyKind::offering(Capability::Chunks).iter().map(|k| k.to_string()).collect();
        anyhow::bail!("eval transfer needs a model with quadrant chunks ({}), not a {} one", offering.join(", "), model.kind());
    }
    let device = model.device();
    progress("training the quadrant judge on ground-truth scenes");
    let ((train_images, train_labels), (test_images, test_labels)) = judge_scenes(settings)?;
    let (judge, judge_accuracy, _) = fit_judge((&train_images, &train_labels), (&test_images, &test_labels), settings, &device);
    progress(&format!("judge accuracy on test quadrants: {judge_accuracy:.2}%"));
    // The second judge: the same scenes and labels, as `model` reconstructs them. The test
    // scenes' reconstructions serve the transfers below too.
    progress("training a second judge on the model's reconstructions of the same scenes");
    let test_reconstructions = reconstructions(model, &test_images);
    let (recon_judge, recon_judge_accuracy, recon_judge_object_accuracy) =
        fit_judge((&reconstructions(model, &train_images), &train_labels), (&test_reconstructions, &test_labels), settings, &device);
    progress(&format!("its accuracy on reconstructed test quadrants: {recon_judge_accuracy:.2}% ({recon_judge_object_accuracy:.2}% on those with an object)"));
    // The classes of test scene `i`'s quadrants.
    let classes = |i: usize| &test_labels[4 * i..4 * i + 4];
    let mut rng = crate::rng::SeededRng::seed_from_u64(settings.seed ^ 0x7a5f);
    let mut scene_order: Vec<usize> = (0..test_images.len()).collect();
    scene_order.shuffle(&mut rng);
    // Pairs (object scene, reference scene, quadrant): a quadrant where the object scene
    // has an object whose class differs from what the reference has there.
    let mut pairs = Vec::new();
    for pair in scene_order.chunks(2) {
        if pairs.len() >= settings.pairs || pair.len() < 2 {
            break;
        }
        let (a, b) = (pair[0], pair[1]);
        if let Some(q) = (0..4).find(|&q| classes(a)[q] != EMPTY_CLASS && classes(a)[q] != classes(b)[q]) {
            pairs.push((a, b, q));
        }
    }
    if pairs.is_empty() {
        anyhow::bail!("no usable scene pairs");
    }
    progress(&format!("transferring {} quadrants", pairs.len()));
    // Transferred and kept hits: the first judge on the render, the collage and the
    // reference's reconstruction; the second judge on the render and the reconstruction.
    let mut counts = [[0usize; 2]; 5];
    let mut psnr_sum = 0.0;
    // Sums and counts of pixel shares: transferred quadrants, kept quadrants.
    let mut shares = [(0.0f64, 0usize); 2];
    let size = 2 * QUADRANT;
    for chunk in pairs.chunks(64) {
        let masks: Vec<QuadrantMask> = chunk.iter().map(|(_, _, q)| QuadrantMask(std::array::from_fn(|k| k == *q))).collect();
        let objects: Vec<HostImage> = chunk.iter().map(|&(a, ..)| test_images[a].clone()).collect();
        let references: Vec<HostImage> = chunk.iter().map(|&(_, b, _)| test_images[b].clone()).collect();
        let mixed = model.transfer_pairs(&objects, &references, &masks).ok_or_else(|| anyhow::anyhow!("the model cannot transfer"))?;
        let mut crops = Vec::new();
        // Each image's four quadrant crops, cut once for the pixel shares and the judge.
        let quadrants = |image: &[f32]| -> [Vec<f32>; 4] { std::array::from_fn(|k| crop(image, k)) };
        for (i, (&(a, b, q), mask)) in chunk.iter().zip(&masks).enumerate() {
            let reconstruction = fit_image(&test_reconstructions[b], size, 3);
            psnr_sum += psnr(&fit_image(&references[i], size, 3), &reconstruction);
            let render = quadrants(&fit_image(&mixed[i], size, 3));
            let reconstruction = quadrants(&reconstruction);
            let object_reconstruction = quadrants(&fit_image(&test_reconstructions[a], size, 3));
            for k in 0..4 {
                if let Some(share) = pixel_share(&render[k], &reconstruction[k], &object_reconstruction[k]) {
                    let slot = &mut shares[usize::from(k != q)];
                    slot.0 += share;
                    slot.1 += 1;
                }
            }
            let pasted = quadrants(&fit_image(&collage(&objects[i], &references[i], *mask, size), size, 3));
            for image in [render, pasted, reconstruction] {
                crops.extend(image.into_iter().flatten());
            }
        }
        let predicted = judge.classify(&crops, QUADRANT_JUDGE, &device);
        let predicted_on_reconstructions = recon_judge.classify(&crops, QUADRANT_JUDGE, &device);
        for (i, &(a, b, q)) in chunk.iter().enumerate() {
            let scored = [(&predicted, 0), (&predicted, 1), (&predicted, 2), (&predicted_on_reconstructions, 0), (&predicted_on_reconstructions, 2)];
            for ((predicted, variant), count) in scored.into_iter().zip(counts.iter_mut()) {
                let p = &predicted[(i * 3 + variant) * 4..(i * 3 + variant + 1) * 4];
                count[0] += usize::from(p[q] == classes(a)[q]);
                count[1] += (0..4).filter(|&k| k != q && p[k] == classes(b)[k]).count();
            }
        }
    }
    let n = pairs.len();
    let acc = |c: [usize; 2]| Accuracies { transferred: 100.0 * c[0] as f64 / n as f64, kept: 100.0 * c[1] as f64 / (3 * n) as f64 };
    Ok(TransferReport {
        pairs: n,
        model: acc(counts[0]),
        collage: acc(counts[1]),
        no_transfer: acc(counts[2]),
        judge_accuracy,
        recon_psnr: psnr_sum / n as f64,
        pixel_share: PixelShares { transferred: shares[0].0 / shares[0].1.max(1) as f64, kept: shares[1].0 / shares[1].1.max(1) as f64 },
        reconstruction_judge: ReconstructionJudge { accuracy: recon_judge_accuracy, object_accuracy: recon_judge_object_accuracy, model: acc(counts[3]), no_transfer: acc(counts[4]) },
    })
}

/// The pixel collage of a transfer: `reference` with the masked quadrants of `object`
/// (both fitted to `size`), as the thesis's I_{f_mix} visualisation.
pub fn collage(object: &HostImage, reference: &HostImage, mask: QuadrantMask, size: usize) -> HostImage {
    quadrant_collage(std::array::from_fn(|q| if mask.0[q] { object } else { reference }), size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_and_collages_follow_the_quadrant_order() {
        let size = 64;
        let chw: Vec<f32> = (0..3 * size * size).map(|i| ((i % (size * size)) / (size * size / 4)) as f32).collect();
        // Rows 0–15 → 0, 16–31 → 1, … : quadrant crops of rows pick their halves.
        assert!(crop(&chw, 0).iter().all(|&v| v <= 1.0) && crop(&chw, 2).iter().all(|&v| v >= 2.0));
        let black = HostImage::new(64, 64, 3, vec![0; 64 * 64 * 3]);
        let white = HostImage::new(64, 64, 3, vec![255; 64 * 64 * 3]);
        let c = collage(&white, &black, QuadrantMask::parse("0010").unwrap(), 64);
        let at = |x: usize, y: usize| c.pixels[(y * 64 + x) * 3];
        assert_eq!((at(5, 5), at(40, 5), at(5, 40), at(40, 40)), (0, 0, 255, 0), "0010 takes the bottom-left quadrant");
    }

    #[test]
    fn the_judge_learns_quadrant_contents() {
        let settings = TransferSettings { pairs: 10, judge_scenes: 600, judge_epochs: 3, seed: 3 };
        let (_, accuracy) = train_judge(&settings, &Device::flex()).unwrap();
        // 11 classes, "empty" 30% of the time (always answering "empty" scores 30%): well
        // above that after a short run.
        assert!(accuracy > 45.0, "{accuracy}");
    }

    #[test]
    fn object_accuracy_leaves_empty_quadrants_out() {
        // Four quadrants: two empty (both right), two objects (one right).
        let labels = [EMPTY_CLASS, 3, EMPTY_CLASS, 7];
        let predicted = [EMPTY_CLASS, 3, EMPTY_CLASS, 1];
        assert_eq!(accuracies(&predicted, &labels), (75.0, 50.0));
        assert_eq!(accuracies(&[], &[]), (0.0, 0.0));
    }

    #[test]
    fn pixel_shares_place_a_render_between_the_two_reconstructions() {
        let (reference, object) = (vec![0.0f32; 12], vec![1.0f32; 12]);
        assert_eq!(pixel_share(&reference, &reference, &object), Some(0.0));
        assert_eq!(pixel_share(&object, &reference, &object), Some(1.0));
        let quarter = vec![0.25f32; 12];
        assert!((pixel_share(&quarter, &reference, &object).unwrap() - 0.25).abs() < 1e-9);
        assert_eq!(pixel_share(&quarter, &reference, &reference), None, "no share where the reconstructions agree");
    }
}
