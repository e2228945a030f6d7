//! The part browser's index (the paper's Fig. 4): over a dataset, for each part, the
//! images where it is most probable, with the location, so the explorer can show crops
//! centred there; plus per-part firing statistics and the dead parts.
//!
//! Built on a background thread with progress and cancellation ([`PartIndexJob`]), and
//! cached on disk per checkpoint, data source and settings.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use anyhow::Context;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::checkpoint::CheckpointMeta;
use crate::data::loader::assemble;
use crate::data::{HostImage, SharedSource, fit::resize_crop};
use super::explorable::ExplorableModel;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PartIndexSettings {
    /// Crops kept per part (the paper shows the top 50).
    pub top_k: usize,
    /// Images encoded per batch.
    pub batch: usize,
    /// A part "fires" at a location where its probability exceeds this.
    pub fire_threshold: f32,
    /// A part firing at fewer than this share of all locations is flagged dead.
    pub dead_below: f64,
}

impl Default for PartIndexSettings {
    fn default() -> Self {
        Self { top_k: 50, batch: 256, fire_threshold: crate::capabilities::parts::FIRE_THRESHOLD, dead_below: 1e-3 }
    }
}

/// One entry of a part's browser: an image and the location where the part is most probable.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PartHit {
    pub image: usize,
    pub row: usize,
    pub col: usize,
    pub probability: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartEntry {
    /// At most `top_k` hits, one per image, most probable first.
    pub hits: Vec<PartHit>,
    /// Share of all (image, location) pairs where the part fires.
    pub firing_rate: f64,
    /// Share of images where it fires at least once.
    pub image_rate: f64,
    pub mean_probability: f64,
    pub dead: bool,
    /// Share of all (image, location) pairs where the part's probability is neither near 0
    /// nor near 1 (in [0.1, 0.9]): how far its maps are from binary. Absent from indexes
    /// cached before it was kept.
    #[serde(default)]
    pub uncertain_rate: f64,
}

impl PartEntry {
    /// The share of the location grid the part covers in an image where it fires at all:
    /// how local it is (1: the whole image).
    pub fn area_when_firing(&self) -> f64 {
        if self.image_rate > 0.0 { self.firing_rate / self.image_rate } else { 0.0 }
    }
}

/// The band of probabilities counted as neither off nor on ([`PartEntry::uncertain_rate`]).
pub const UNCERTAIN: std::ops::RangeInclusive<f32> = 0.1..=0.9;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartIndex {
    pub images: usize,
    pub grid: usize,
    pub image_size: usize,
    pub settings: PartIndexSettings,
    pub parts: Vec<PartEntry>,
}

impl PartIndex {
    pub fn dead_parts(&self) -> Vec<usize> {
        self.parts.iter().enumerate().filter(|(_, p)| p.dead).map(|(i, _)| i).collect()
    }
}

/// Progress of an index build.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexEvent {
    Progress { done: usize, total: usize },
    Finished(Arc<PartIndex>),
    Cancelled,
    Failed(String),
}

/// Per-part running statistics while scanning.
struct Accumulator {
    best: Vec<Vec<PartHit>>, // per part, one per image, kept sorted and cut to top_k
    fired: Vec<u64>,
    uncertain: Vec<u64>,
    images_fired: Vec<u64>,
    sum: Vec<f64>,
    locations: u64,
    images: u64,
}

impl Accumulator {
    fn new(parts: usize) -> Self {
        Self { best: vec![vec![]; parts], fired: vec![0; parts], uncertain: vec![0; parts], images_fired: vec![0; parts], sum: vec![0.0; parts], locations: 0, images: 0 }
    }

    /// Adds one image's probabilities `[parts, grid, grid]`.
    fn add(&mut self, image: usize, probs: &[f32], grid: usize, settings: &PartIndexSettings) {
        let cells = grid * grid;
        for (part, map) in probs.chunks(cells).enumerate() {
            let (mut best_cell, mut best_p) = (0, f32::MIN);
            let mut fired = 0u64;
            for (cell, &p) in map.iter().enumerate() {
                self.sum[part] += p as f64;
                fired += u64::from(p > settings.fire_threshold);
                self.uncertain[part] += u64::from(UNCERTAIN.contains(&p));
                if p > best_p {
                    (best_cell, best_p) = (cell, p);
                }
            }
            self.fired[part] += fired;
            self.images_fired[part] += u64::from(fired > 0);
            let hits = &mut self.best[part];
            let hit = PartHit { image, row: best_cell / grid, col: best_cell % grid, probability: best_p };
            let at = hits.partition_point(|h| h.probability >= hit.probability);
            if at < settings.top_k {
                hits.insert(at, hit);
                hits.truncate(settings.top_k);
            }
        }
        self.locations += cells as u64;
        self.images += 1;
    }

    fn finish(self, grid: usize, image_size: usize, settings: PartIndexSettings) -> PartIndex {
        let (locations, images) = (self.locations.max(1) as f64, self.images.max(1) as f64);
        let parts = self
            .best
            .into_iter()
            .enumerate()
            .map(|(p, hits)| {
                let firing_rate = self.fired[p] as f64 / locations;
                PartEntry {
                    hits,
                    firing_rate,
                    image_rate: self.images_fired[p] as f64 / images,
                    mean_probability: self.sum[p] / locations,
                    dead: firing_rate < settings.dead_below,
                    uncertain_rate: self.uncertain[p] as f64 / locations,
                }
            })
            .collect();
        PartIndex { images: self.images as usize, grid, image_size, settings, parts }
    }
}

/// Scans `source` (blocking) with a model that has parts. Returns `None` when `cancel`
/// is set or the model has no parts.
pub fn build(model: &ExplorableModel, source: &SharedSource, settings: PartIndexSettings, cancel: &AtomicBool, mut progress: impl FnMut(usize, usize)) -> Option<PartIndex> {
    let (size, channels) = (model.image_size(), model.channels());
    let (parts, grid) = (model.parts()?, model.part_grid()?);
    let device = model.device();
    let total = source.len();
    let mut acc = Accumulator::new(parts);
    for start in (0..total).step_by(settings.batch.max(1)) {
        if cancel.load(Ordering::Relaxed) {
            return None;
        }
        let indices: Vec<usize> = (start..(start + settings.batch.max(1)).min(total)).collect();
        let (images, _) = assemble(source, &indices, size, channels);
        let x = Tensor::<4>::from_data(TensorData::new(images, [indices.len(), channels, size, size]), &device);
        let probs = model.occurrence_probabilities(x)?;
        let per = parts * grid * grid;
        for (i, &image) in indices.iter().enumerate() {
            if let Some(p) = probs.get(i * per..(i + 1) * per) {
                acc.add(image, p, grid, &settings);
            }
        }
        progress(indices.last().map_or(total, |l| l + 1), total);
    }
    Some(acc.finish(grid, size, settings))
}

/// The crop the browser shows for a hit: a square of `crop` pixels (at the model's input
/// size) centred on the hit's cell of a `grid × grid` location grid, shifted to stay inside
/// the image.
pub fn crop(source: &SharedSource, hit: &PartHit, image_size: usize, grid: usize, crop: usize) -> HostImage {
    let image = resize_crop(&source.get(hit.image).image, image_size);
    let crop = crop.clamp(1, image_size);
    let cell = image_size / grid.max(1);
    let centre = |row_or_col: usize| row_or_col * cell + cell / 2;
    let origin = |c: usize| c.saturating_sub(crop / 2).min(image_size - crop);
    let (y0, x0) = (origin(centre(hit.row)), origin(centre(hit.col)));
    let ch = image.channels;
    let mut pixels = Vec::with_capacity(crop * crop * ch);
    for y in y0..y0 + crop {
        let row = (y * image.width + x0) * ch;
        pixels.extend_from_slice(&image.pixels[row..row + crop * ch]);
    }
    HostImage::new(crop, crop, ch, pixels)
}

/// Where an index for this checkpoint, data and settings is cached: a key over the
/// model weights' bytes, the data source and the settings.
pub fn cache_path(cache_dir: &Path, meta: &CheckpointMeta, data: &str, settings: &PartIndexSettings) -> anyhow::Result<PathBuf> {
    let weights = std::fs::read(meta.dir.join(crate::checkpoint::MODEL_FILE))
        .with_context(|| format!("{}: cannot read", meta.dir.join(crate::checkpoint::MODEL_FILE).display()))?;
    // FNV-1a: stable across runs and platforms, unlike `DefaultHasher`'s seed.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    };
    feed(&weights);
    feed(data.as_bytes());
    feed(serde_json::to_string(settings)?.as_bytes());
    Ok(cache_dir.join(format!("part-index-{h:016x}.json")))
}

/// The user's cache folder for analysis results.
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("patchwork")
}

/// A background index build.
pub struct PartIndexJob {
    pub events: Receiver<IndexEvent>,
    cancel: Arc<AtomicBool>,
}

impl PartIndexJob {
    /// Builds (or loads from `cache_dir`) the index of `meta`'s PatchVAE over `source`.
    pub fn spawn(meta: CheckpointMeta, data: String, source: SharedSource, device: Device, settings: PartIndexSettings, cache_dir: Option<PathBuf>) -> Self {
        Self::spawn_with(move |cancel, events| run_job(&meta, &data, &source, &device, settings, cache_dir.as_deref(), cancel, events))
    }

    /// Builds the index of weights held in memory (a run in progress); never cached, as
    /// the weights change.
    pub fn spawn_for_model(model: ExplorableModel, source: SharedSource, settings: PartIndexSettings) -> Self {
        Self::spawn_with(move |cancel, events| {
            Ok(build(&model, &source, settings, cancel, |done, total| {
                let _ = events.send(IndexEvent::Progress { done, total });
            }))
        })
    }

    fn spawn_with(work: impl FnOnce(&AtomicBool, &Sender<IndexEvent>) -> anyhow::Result<Option<PartIndex>> + Send + 'static) -> Self {
        let (tx, events) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = cancel.clone();
        let spawned = std::thread::Builder::new().name("patchwork-part-index".into()).spawn(move || {
            let event = match work(&flag, &tx) {
                Ok(Some(index)) => IndexEvent::Finished(Arc::new(index)),
                Ok(None) => IndexEvent::Cancelled,
                Err(e) => IndexEvent::Failed(format!("{e:#}")),
            };
            let _ = tx.send(event);
        });
        if let Err(e) = spawned {
            let (tx, rx) = channel();
            let _ = tx.send(IndexEvent::Failed(format!("cannot start the index thread: {e}")));
            return Self { events: rx, cancel };
        }
        Self { events, cancel }
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

#[allow(clippy::too_many_arguments)]
fn run_job(
    meta: &CheckpointMeta,
    data: &str,
    source: &SharedSource,
    device: &Device,
    settings: PartIndexSettings,
    cache_dir: Option<&Path>,
    cancel: &AtomicBool,
    events: &Sender<IndexEvent>,
) -> anyhow::Result<Option<PartIndex>> {
    let cache = match cache_dir {
        Some(dir) => Some(cache_path(dir, meta, data, &settings)?),
        None => None,
    };
    if let Some(path) = &cache {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(index) = serde_json::from_str::<PartIndex>(&text) {
                if index.images == source.len() {
                    return Ok(Some(index));
                }
            }
        }
    }
    let model = ExplorableModel::load(&meta.dir, device)?;
    anyhow::ensure!(model.parts().is_some(), "{}: a {} model has no parts to index", meta.dir.display(), model.kind());
    let index = build(&model, source, settings, cancel, |done, total| {
        let _ = events.send(IndexEvent::Progress { done, total });
    });
    if let (Some(index), Some(path)) = (&index, &cache) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        crate::atomic::write_file_atomically(path, serde_json::to_string(index)?.as_bytes())?;
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulator_keeps_the_top_k_images_per_part_and_flags_dead_parts() {
        let settings = PartIndexSettings { top_k: 2, ..Default::default() };
        let mut acc = Accumulator::new(2);
        // Grid 2×2. Part 0 fires everywhere with rising probability; part 1 never.
        for image in 0..4 {
            let p0 = 0.6 + 0.1 * image as f32;
            acc.add(image, &[p0, 0.55, 0.55, 0.55, 0.0, 0.01, 0.0, 0.0], 2, &settings);
        }
        let index = acc.finish(2, 16, settings);
        let hits = &index.parts[0].hits;
        assert_eq!(hits.iter().map(|h| h.image).collect::<Vec<_>>(), vec![3, 2]);
        assert_eq!((hits[0].row, hits[0].col), (0, 0));
        assert_eq!(index.parts[0].firing_rate, 1.0);
        assert_eq!(index.parts[1].hits[0].col, 1);
        assert_eq!(index.dead_parts(), vec![1]);
        // Part 0's maps sit between 0.55 and 0.9: far from binary, and all over the image;
        // part 1's are near 0 everywhere: binary, and nowhere.
        assert!(index.parts[0].uncertain_rate >= 0.75, "{}", index.parts[0].uncertain_rate);
        assert_eq!((index.parts[1].uncertain_rate, index.parts[1].area_when_firing()), (0.0, 0.0));
        assert_eq!(index.parts[0].area_when_firing(), 1.0);
    }

    #[test]
    fn crops_stay_inside_the_image() {
        let source: SharedSource = Arc::new(crate::data::dsprites::DSpritesSource::default());
        let hit = PartHit { image: 5, row: 7, col: 0, probability: 1.0 };
        let c = crop(&source, &hit, 64, 8, 16);
        assert_eq!((c.width, c.height), (16, 16));
    }
}
