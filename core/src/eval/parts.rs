//! Whether a part-based model's parts are parts a person can see, measured on held-out
//! images: how many are dead, how binary their occurrence maps are, how local each live
//! one is (`patchwork eval parts`), and whether a part-appearance swap stays inside the
//! part and leaves the image's class alone (`patchwork eval swap`).
//!
//! Dead and firing follow the part browser ([`crate::analysis::part_index`]): a part fires
//! at a location where its probability is above 0.5, and is dead when it fires at fewer
//! than 0.1 % of all locations.
//!
//! A swap (the paper's Fig. 5, the Swap view): target image t, source image s and a part i
//! that fires in t; t's code with part i's appearance taken from s's part i, decoded, is
//! compared with t's plain reconstruction. Its *inside share* is the part of the summed
//! absolute pixel change that falls inside part i's region in t (the cells where it
//! fires, each an `image / grid` square); the region's own share of the image is reported
//! beside it (what a change spread evenly would score). A classifier ([`Judge`]) trained
//! on the data's training split says whether the swapped image still shows t's class,
//! beside how often it names t's class on t's reconstruction.

use std::path::Path;

use rand::SeedableRng;
use rand::seq::{IndexedRandom, SliceRandom};
use serde::Serialize;

use super::judge::{Judge, JudgeShape, percent_correct};
use crate::analysis::explorable::ExplorableModel;
use crate::analysis::part_index::{self, PartIndexSettings};
use crate::capabilities::Capability;
use crate::capabilities::parts::FIRE_THRESHOLD;
use crate::data::loader::assemble;
use crate::data::{DataSpec, HostImage, SharedSource, Split, fit_image};
use crate::device::ResolvedDevice;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PartFigures {
    pub part: usize,
    /// Share of all (image, location) pairs where it fires.
    pub firing_rate: f64,
    /// Share of images where it fires at least once.
    pub image_rate: f64,
    /// Share of the grid it covers in an image where it fires (1: all of it).
    pub area_when_firing: f64,
    /// Share of (image, location) pairs with its probability in [0.1, 0.9].
    pub uncertain_rate: f64,
    pub dead: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PartsReport {
    pub checkpoint: String,
    pub data: String,
    pub images: usize,
    pub grid: usize,
    /// The relaxed-Bernoulli temperature of the checkpoint's last step, where it logged one.
    pub temperature: Option<f64>,
    pub parts: Vec<PartFigures>,
    pub dead: Vec<usize>,
    /// Share of all (image, location, part) triples with a probability in [0.1, 0.9].
    pub uncertain_share: f64,
    /// The live parts' mean [`PartFigures::area_when_firing`].
    pub mean_live_area: f64,
}

/// The model and the test split of its data (or of `data`), for both evaluations.
fn model_and_test_split(checkpoint: &Path, data: Option<&DataSpec>, device: &ResolvedDevice) -> anyhow::Result<(crate::checkpoint::CheckpointMeta, ExplorableModel, DataSpec, SharedSource)> {
    let meta = crate::checkpoint::read_meta(checkpoint)?;
    let model = ExplorableModel::load(&meta.dir, &device.device)?;
    if !model.offers(Capability::Parts) {
        let offering: Vec<String> = crate::families::FamilyKind::offering(Capability::Parts).iter().map(|k| k.to_string()).collect();
        anyhow::bail!("{}: a {} model has no parts ({} have them)", meta.dir.display(), model.kind(), offering.join(", "));
    }
    let data = match data {
        Some(d) => d.clone(),
        None => meta.config.data.parse::<DataSpec>()?,
    };
    let test = data.open(Split::Test, model.image_size())?;
    anyhow::ensure!(!test.is_empty(), "{data}: its test split holds no images");
    Ok((meta, model, data, test))
}

/// `eval parts`: the part browser's statistics over the test split, for each part.
pub fn parts(checkpoint: &Path, data: Option<&DataSpec>, device: &ResolvedDevice) -> anyhow::Result<PartsReport> {
    let (meta, model, data, test) = model_and_test_split(checkpoint, data, device)?;
    let never = std::sync::atomic::AtomicBool::new(false);
    let index = part_index::build(&model, &test, PartIndexSettings::default(), &never, |_, _| {}).ok_or_else(|| anyhow::anyhow!("{}: no part index", meta.dir.display()))?;
    let parts: Vec<PartFigures> = index
        .parts
        .iter()
        .enumerate()
        .map(|(part, e)| PartFigures { part, firing_rate: e.firing_rate, image_rate: e.image_rate, area_when_firing: e.area_when_firing(), uncertain_rate: e.uncertain_rate, dead: e.dead })
        .collect();
    let live: Vec<&PartFigures> = parts.iter().filter(|p| !p.dead).collect();
    Ok(PartsReport {
        checkpoint: meta.dir.display().to_string(),
        data: data.to_string(),
        images: index.images,
        grid: index.grid,
        temperature: meta.state.history.last().and_then(|m| m.term("temperature")),
        dead: index.dead_parts(),
        uncertain_share: parts.iter().map(|p| p.uncertain_rate).sum::<f64>() / parts.len().max(1) as f64,
        mean_live_area: live.iter().map(|p| p.area_when_firing).sum::<f64>() / live.len().max(1) as f64,
        parts,
    })
}

#[derive(Debug, Clone, Copy)]
pub struct SwapSettings {
    /// (source, target, part) triples tried.
    pub swaps: usize,
    pub judge_epochs: usize,
    /// The judge trains on at most this many training images (all by default).
    pub train_limit: Option<usize>,
    pub seed: u64,
}

impl Default for SwapSettings {
    fn default() -> Self {
        Self { swaps: 1_000, judge_epochs: 4, train_limit: None, seed: 1 }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SwapReport {
    pub checkpoint: String,
    pub data: String,
    /// Triples swapped (a target where no part fires gives none).
    pub swaps: usize,
    /// Mean share of a swap's pixel change inside the swapped part's region in the target.
    pub inside_share: f64,
    /// Mean share of the image that region covers: the inside share of an even change.
    pub region_share: f64,
    /// Mean absolute change per pixel value, in [0, 2] units of the [−1, 1] range.
    pub mean_change: f64,
    /// The judge's accuracy on the test images themselves.
    pub judge_accuracy: f64,
    /// % of swaps the judge still names the target's class for…
    pub class_kept: f64,
    /// …beside % of the targets' reconstructions it names their class for.
    pub class_of_reconstruction: f64,
}

/// `eval swap`: random part-appearance swaps between test images (see the module's text).
pub fn swaps(checkpoint: &Path, data: Option<&DataSpec>, device: &ResolvedDevice, settings: &SwapSettings, progress: &dyn Fn(&str)) -> anyhow::Result<SwapReport> {
    let (meta, model, data, test) = model_and_test_split(checkpoint, data, device)?;
    let (size, channels) = (model.image_size(), model.channels());
    let train = data.open(Split::Train, size)?;
    let classes = train.info().class_names.len();
    anyhow::ensure!(classes >= 2, "{data}: the swap's judge needs labelled images of at least two classes");
    let shape = JudgeShape { channels, size, classes };
    anyhow::ensure!(size % 8 == 0, "{size}×{size} images: the judge takes sides that are multiples of 8");
    let all_train: Vec<usize> = (0..train.len().min(settings.train_limit.unwrap_or(usize::MAX))).collect();
    progress(&format!("training the judge on {} training images of {data}", all_train.len()));
    let (train_images, train_labels) = assemble(&train, &all_train, size, channels);
    let plain = device.device.clone();
    let judge = Judge::fit(&train_images, &train_labels.iter().map(|&l| l as usize).collect::<Vec<_>>(), shape, settings.judge_epochs, settings.seed, &plain);
    let all_test: Vec<usize> = (0..test.len()).collect();
    let (test_images, test_labels) = assemble(&test, &all_test, size, channels);
    let test_labels: Vec<usize> = test_labels.iter().map(|&l| l as usize).collect();
    let judge_accuracy = percent_correct(&judge.classify(&test_images, shape, &plain), &test_labels);
    progress(&format!("judge accuracy on the test split: {judge_accuracy:.2}%"));

    let mut rng = crate::rng::SeededRng::seed_from_u64(settings.seed ^ 0x5a4b);
    let mut order = all_test.clone();
    order.shuffle(&mut rng);
    let (mut inside, mut region, mut change) = (0.0, 0.0, 0.0);
    let (mut swapped_chw, mut recon_chw, mut labels) = (vec![], vec![], vec![]);
    let per = channels * size * size;
    for pairs in order.chunks(128).take(settings.swaps.div_ceil(64)) {
        let images: Vec<HostImage> = pairs.iter().map(|&i| test.get(i).image).collect();
        let analyses = model.analyse_parts(&images).ok_or_else(|| anyhow::anyhow!("{}: no part analysis", meta.dir.display()))?;
        let mut codes = vec![];
        let mut picked = vec![];
        for k in (0..pairs.len().saturating_sub(1)).step_by(2) {
            if labels.len() + picked.len() >= settings.swaps {
                break;
            }
            let (target, source) = (&analyses[k], &analyses[k + 1]);
            let firing: Vec<usize> = (0..target.code.parts).filter(|&p| target.code.firing_share(p) > 0.0).collect();
            let Some(&part) = firing.choose(&mut rng) else { continue };
            codes.push(target.code.with_appearance_from(&source.code, part, part));
            picked.push((k, part));
        }
        let decoded = model.decode_part_codes(&codes).ok_or_else(|| anyhow::anyhow!("decoding failed"))?;
        for ((k, part), swapped) in picked.into_iter().zip(decoded) {
            let target = &analyses[k];
            let after = fit_image(&swapped, size, channels);
            let before = fit_image(&target.reconstruction, size, channels);
            let grid = target.code.grid;
            let cell = size / grid.max(1);
            let map = target.code.occurrence_of(part);
            let inside_region = |y: usize, x: usize| map.get((y / cell).min(grid - 1) * grid + (x / cell).min(grid - 1)).is_some_and(|&p| p > FIRE_THRESHOLD);
            let (mut total, mut within) = (0.0f64, 0.0f64);
            for c in 0..channels {
                for y in 0..size {
                    for x in 0..size {
                        let i = (c * size + y) * size + x;
                        let d = (after[i] - before[i]).abs() as f64;
                        total += d;
                        if inside_region(y, x) {
                            within += d;
                        }
                    }
                }
            }
            let cells_on = map.iter().filter(|&&p| p > FIRE_THRESHOLD).count();
            region += cells_on as f64 / (grid * grid).max(1) as f64;
            inside += if total > 0.0 { within / total } else { 1.0 };
            change += total / per as f64;
            swapped_chw.extend(after);
            recon_chw.extend(before);
            labels.push(test_labels[pairs[k]]);
        }
        progress(&format!("{} swaps", labels.len()));
        if labels.len() >= settings.swaps {
            break;
        }
    }
    let n = labels.len();
    anyhow::ensure!(n > 0, "{}: no part fires in any test image, so there is nothing to swap", meta.dir.display());
    Ok(SwapReport {
        checkpoint: meta.dir.display().to_string(),
        data: data.to_string(),
        swaps: n,
        inside_share: inside / n as f64,
        region_share: region / n as f64,
        mean_change: change / n as f64,
        judge_accuracy,
        class_kept: percent_correct(&judge.classify(&swapped_chw, shape, &plain), &labels),
        class_of_reconstruction: percent_correct(&judge.classify(&recon_chw, shape, &plain), &labels),
    })
}
