//! A run's snapshots over time, for a step slider (TensorBoard's image slider,
//! tensorboard#469): kept in memory for the live run ([`SnapshotHistory`]) and on disk in
//! the run folder ([`SnapshotArchive`], read back by [`load_snapshots`]) so a finished run
//! opened later can be scrubbed too. Both keep the whole run so far at a resolution that
//! halves each time they fill ([`Thinning`]), so memory and disk stay bounded however
//! long the run.
//!
//! On disk: `RUN/snapshots/step-00001234/` holds `snapshot.json` (the step and each
//! grid's name, count and image size) and one PNG strip per grid (`grid-0.png`, … the
//! images side by side), written atomically, so a crash leaves whole snapshots only.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::Snapshot;
use crate::data::HostImage;

/// Snapshots a history keeps at most (in memory and on disk).
pub const SNAPSHOTS_KEPT: usize = 64;

/// The folder of a run's snapshots.
pub const SNAPSHOTS_DIR: &str = "snapshots";

const MANIFEST: &str = "snapshot.json";
const INPUTS: &str = "inputs";
const RECONSTRUCTIONS: &str = "reconstructions";

/// Which steps to keep so that at most `capacity` stay, spread evenly over the run: a
/// step is kept when it is at least `gap` after the last one kept; when full, every other
/// one goes and the gap doubles.
#[derive(Debug, Clone)]
pub struct Thinning {
    kept: Vec<u64>,
    /// Steps between two kept snapshots at least (0: every one is kept).
    gap: u64,
    capacity: usize,
}

impl Thinning {
    pub fn new(capacity: usize) -> Self {
        Self { kept: vec![], gap: 0, capacity: capacity.max(2) }
    }

    /// Whether a snapshot at `step` is kept: `Some` with the steps let go to make room
    /// for it, or `None` when it is too close to the last one kept.
    pub fn offer(&mut self, step: u64) -> Option<Vec<u64>> {
        if let Some(&last) = self.kept.last() {
            if step < last.saturating_add(self.gap.max(1)) {
                return None;
            }
        }
        self.kept.push(step);
        let mut dropped = vec![];
        if self.kept.len() > self.capacity {
            let mut index = 0;
            self.kept.retain(|&s| {
                index += 1;
                let keep = index % 2 == 1;
                if !keep {
                    dropped.push(s);
                }
                keep
            });
            let (first, last) = (self.kept.first().copied().unwrap_or(0), self.kept.last().copied().unwrap_or(0));
            self.gap = ((last - first) / (self.kept.len() as u64 - 1).max(1)).max(self.gap.saturating_mul(2)).max(1);
        }
        Some(dropped)
    }

    /// As [`Self::offer`], for a run's last snapshot: kept even when close to the one
    /// before, which then goes, so the end of the run is always there.
    pub fn offer_last(&mut self, step: u64) -> Option<Vec<u64>> {
        match self.offer(step) {
            Some(dropped) => Some(dropped),
            None => match self.kept.last().copied() {
                Some(before) if before < step => {
                    self.kept.pop();
                    self.kept.push(step);
                    Some(vec![before])
                }
                _ => None,
            },
        }
    }

    pub fn steps(&self) -> &[u64] {
        &self.kept
    }
}

impl Default for Thinning {
    fn default() -> Self {
        Self::new(SNAPSHOTS_KEPT)
    }
}

/// A run's past snapshots in memory (without their weights: a snapshot's model shares
/// the run's tensors of its step, and a history of them would hold every step's weights).
#[derive(Default)]
pub struct SnapshotHistory {
    kept: Vec<Snapshot>,
    thinning: Thinning,
}

impl SnapshotHistory {
    pub fn with_capacity(capacity: usize) -> Self {
        Self { kept: vec![], thinning: Thinning::new(capacity) }
    }

    /// A history of snapshots read back from disk (oldest first), thinned as they come.
    pub fn of(snapshots: Vec<Snapshot>) -> Self {
        let mut history = Self::default();
        for s in &snapshots {
            history.push(s);
        }
        history
    }

    /// Keeps `snapshot` (without its weights) if it is far enough from the last one kept.
    pub fn push(&mut self, snapshot: &Snapshot) {
        let Some(dropped) = self.thinning.offer(snapshot.step) else { return };
        self.kept.retain(|s| !dropped.contains(&s.step));
        self.kept.push(Snapshot { model: None, ..snapshot.clone() });
    }

    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<&Snapshot> {
        self.kept.get(index)
    }

    pub fn last(&self) -> Option<&Snapshot> {
        self.kept.last()
    }
}

/// When a snapshot is taken: during the run, or at its end (always kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    During,
    Last,
}

/// A run's snapshots on disk, thinned as [`SnapshotHistory`] thins them in memory.
pub struct SnapshotArchive {
    dir: PathBuf,
    thinning: Thinning,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    step: u64,
    grids: Vec<GridEntry>,
}

#[derive(Serialize, Deserialize)]
struct GridEntry {
    name: String,
    count: usize,
    width: usize,
    height: usize,
    channels: usize,
}

fn step_dir_name(step: u64) -> String {
    format!("step-{step:08}")
}

/// The step folders under `dir` (by our naming only: nothing else there is touched),
/// oldest first.
fn step_dirs(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let step = name.to_str()?.strip_prefix("step-")?.parse::<u64>().ok()?;
            entry.file_type().ok()?.is_dir().then(|| (step, entry.path()))
        })
        .collect();
    found.sort();
    found
}

impl SnapshotArchive {
    /// The archive of the run in `run_dir`. A resumed run (`resumed_at`: the step its
    /// checkpoint holds) keeps the snapshots up to that step and lets go of later ones,
    /// which it is about to redo; a new run starts an empty archive.
    pub fn open(run_dir: &Path, resumed_at: Option<u64>) -> anyhow::Result<Self> {
        let dir = run_dir.join(SNAPSHOTS_DIR);
        let mut thinning = Thinning::default();
        for (step, path) in step_dirs(&dir) {
            let keep = resumed_at.is_some_and(|at| step <= at) && path.join(MANIFEST).is_file();
            let dropped = if keep { thinning.offer(step) } else { None };
            if !keep || dropped.is_none() {
                std::fs::remove_dir_all(&path).with_context(|| format!("cannot remove {}", path.display()))?;
            }
            for step in dropped.unwrap_or_default() {
                let old = dir.join(step_dir_name(step));
                std::fs::remove_dir_all(&old).with_context(|| format!("cannot remove {}", old.display()))?;
            }
        }
        Ok(Self { dir, thinning })
    }

    /// Writes `snapshot` if the thinning keeps it, and removes the ones it lets go.
    pub fn push(&mut self, snapshot: &Snapshot, moment: Moment) -> anyhow::Result<()> {
        let offered = match moment {
            Moment::During => self.thinning.offer(snapshot.step),
            Moment::Last => self.thinning.offer_last(snapshot.step),
        };
        let Some(dropped) = offered else { return Ok(()) };
        let grids = std::iter::once((INPUTS, &snapshot.inputs))
            .chain(std::iter::once((RECONSTRUCTIONS, &snapshot.reconstructions)))
            .chain(snapshot.extras.iter().map(|(name, images)| (name.as_str(), images)))
            .filter(|(_, images)| !images.is_empty());
        let mut manifest = Manifest { step: snapshot.step, grids: vec![] };
        let mut strips = vec![];
        for (name, images) in grids {
            let (first, rest) = images.split_first().context("empty grid")?;
            let same = |i: &HostImage| (i.width, i.height, i.channels) == (first.width, first.height, first.channels);
            if !rest.iter().all(same) {
                // A grid of mixed sizes has no strip layout; it is left out, not the snapshot.
                continue;
            }
            manifest.grids.push(GridEntry { name: name.to_string(), count: images.len(), width: first.width, height: first.height, channels: first.channels });
            strips.push(strip(images));
        }
        let json = serde_json::to_string_pretty(&manifest)?;
        crate::atomic::write_dir_atomically(&self.dir.join(step_dir_name(snapshot.step)), |tmp| {
            for (i, image) in strips.iter().enumerate() {
                let path = tmp.join(format!("grid-{i}.png"));
                image.to_dynamic().save(&path).with_context(|| format!("cannot write {}", path.display()))?;
            }
            std::fs::write(tmp.join(MANIFEST), &json).with_context(|| format!("cannot write {MANIFEST}"))
        })?;
        for step in dropped {
            let old = self.dir.join(step_dir_name(step));
            std::fs::remove_dir_all(&old).with_context(|| format!("cannot remove {}", old.display()))?;
        }
        Ok(())
    }
}

/// The images side by side in one strip.
fn strip(images: &[HostImage]) -> HostImage {
    let (w, h, c) = images.first().map_or((0, 0, 1), |i| (i.width, i.height, i.channels));
    let width = w * images.len();
    let mut pixels = vec![0u8; width * h * c];
    for (k, image) in images.iter().enumerate() {
        for y in 0..h {
            let row = &image.pixels[y * w * c..][..w * c];
            pixels[(y * width + k * w) * c..][..w * c].copy_from_slice(row);
        }
    }
    HostImage::new(width, h, c, pixels)
}

/// A run folder's snapshots, oldest first, and the step folders that could not be read
/// (with why): those are skipped, not fatal.
pub struct LoadedSnapshots {
    pub snapshots: Vec<Snapshot>,
    pub skipped: Vec<(PathBuf, String)>,
}

/// The snapshots folder of a run given as its folder or its `checkpoint/`, where it has one.
pub fn snapshots_dir(path: &Path) -> Option<PathBuf> {
    let beside_checkpoint = path.join(crate::checkpoint::CONFIG_FILE).is_file().then(|| path.parent().map(|run| run.join(SNAPSHOTS_DIR))).flatten();
    std::iter::once(path.join(SNAPSHOTS_DIR)).chain(beside_checkpoint).find(|d| d.is_dir())
}

/// Reads the snapshots a run wrote (`path`: its folder or its `checkpoint/`).
pub fn load_snapshots(path: &Path) -> LoadedSnapshots {
    let mut loaded = LoadedSnapshots { snapshots: vec![], skipped: vec![] };
    let Some(dir) = snapshots_dir(path) else { return loaded };
    for (_, path) in step_dirs(&dir) {
        match read_step_dir(&path) {
            Ok(snapshot) => loaded.snapshots.push(snapshot),
            Err(e) => loaded.skipped.push((path, format!("{e:#}"))),
        }
    }
    loaded
}

/// The largest strip read back: far past any snapshot ours writes (a few dozen images of
/// at most 128×128), so a doctored manifest cannot make us allocate gigabytes.
const MAX_STRIP_PIXELS: usize = 1 << 24;

fn read_step_dir(dir: &Path) -> anyhow::Result<Snapshot> {
    let manifest_path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest_path).with_context(|| format!("cannot read {}", manifest_path.display()))?;
    let manifest: Manifest = serde_json::from_str(&text).with_context(|| format!("{} is not a snapshot manifest", manifest_path.display()))?;
    let mut snapshot = Snapshot { step: manifest.step, inputs: vec![], reconstructions: vec![], extras: vec![], model: None };
    for (i, grid) in manifest.grids.iter().enumerate() {
        let path = dir.join(format!("grid-{i}.png"));
        let (w, h, c, n) = (grid.width, grid.height, grid.channels, grid.count);
        let pixels = w.checked_mul(h).and_then(|p| p.checked_mul(n)).filter(|&p| p > 0 && p <= MAX_STRIP_PIXELS);
        anyhow::ensure!(pixels.is_some() && (c == 1 || c == 3), "{}: grid {i} claims {n} images of {w}×{h}×{c}", manifest_path.display());
        let mut reader = image::ImageReader::open(&path).with_context(|| format!("cannot open {}", path.display()))?.with_guessed_format()?;
        let mut limits = image::Limits::default();
        limits.max_image_width = Some((w * n) as u32);
        limits.max_image_height = Some(h as u32);
        reader.limits(limits);
        let decoded = reader.decode().with_context(|| format!("cannot decode {}", path.display()))?;
        anyhow::ensure!(
            decoded.width() as usize == w * n && decoded.height() as usize == h,
            "{}: {}×{} where the manifest says {}×{h}",
            path.display(),
            decoded.width(),
            decoded.height(),
            w * n
        );
        let whole = match c {
            1 => decoded.to_luma8().into_raw(),
            _ => decoded.to_rgb8().into_raw(),
        };
        let images: Vec<HostImage> = (0..n)
            .map(|k| {
                let mut pixels = Vec::with_capacity(w * h * c);
                for y in 0..h {
                    pixels.extend_from_slice(&whole[(y * w * n + k * w) * c..][..w * c]);
                }
                HostImage::new(w, h, c, pixels)
            })
            .collect();
        match grid.name.as_str() {
            INPUTS if i == 0 => snapshot.inputs = images,
            RECONSTRUCTIONS if i <= 1 => snapshot.reconstructions = images,
            _ => snapshot.extras.push((grid.name.clone(), images)),
        }
    }
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(step: u64) -> Snapshot {
        Snapshot { step, inputs: vec![], reconstructions: vec![], extras: vec![], model: None }
    }

    fn image(w: usize, h: usize, c: usize, seed: u8) -> HostImage {
        HostImage::new(w, h, c, (0..w * h * c).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect())
    }

    fn pictured(step: u64) -> Snapshot {
        Snapshot {
            step,
            inputs: (0..3).map(|k| image(5, 4, 1, k)).collect(),
            reconstructions: (0..3).map(|k| image(5, 4, 1, 10 + k)).collect(),
            extras: vec![("samples".into(), (0..2).map(|k| image(5, 4, 1, 20 + k)).collect()), ("part maps".into(), (0..4).map(|k| image(6, 6, 3, 30 + k)).collect())],
            model: None,
        }
    }

    #[test]
    fn a_long_run_is_kept_whole_at_a_coarser_step_and_never_past_capacity() {
        let mut history = SnapshotHistory::with_capacity(8);
        for step in 0..=1000 {
            history.push(&at(step));
            assert!(history.len() <= 8);
        }
        let steps: Vec<u64> = (0..history.len()).filter_map(|i| history.get(i)).map(|s| s.step).collect();
        assert_eq!(steps[0], 0, "the start stays");
        assert!(*steps.last().unwrap() > 800, "the recent past is there: {steps:?}");
        assert!(steps.windows(2).all(|w| w[0] < w[1]), "in order: {steps:?}");
        // Evenly spread: no gap more than twice another.
        let gaps: Vec<u64> = steps.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().max().unwrap() <= &(2 * gaps.iter().min().unwrap()), "{steps:?}");
        // The same step twice (a snapshot after a pause) is kept once.
        let mut once = SnapshotHistory::default();
        once.push(&at(5));
        once.push(&at(5));
        assert_eq!(once.len(), 1);
    }

    #[test]
    fn the_archive_reads_back_what_it_wrote_and_thins_on_disk_as_in_memory() {
        let run = tempfile::tempdir().unwrap();
        let mut archive = SnapshotArchive::open(run.path(), None).unwrap();
        let mut history = SnapshotHistory::default();
        for step in (0..=3000).step_by(10) {
            archive.push(&pictured(step), Moment::During).unwrap();
            history.push(&pictured(step));
        }
        let loaded = load_snapshots(run.path());
        assert!(loaded.skipped.is_empty(), "{:?}", loaded.skipped);
        let on_disk: Vec<u64> = loaded.snapshots.iter().map(|s| s.step).collect();
        let in_memory: Vec<u64> = (0..history.len()).filter_map(|i| history.get(i)).map(|s| s.step).collect();
        assert_eq!(on_disk, in_memory);
        assert!(on_disk.len() <= SNAPSHOTS_KEPT && on_disk.len() > SNAPSHOTS_KEPT / 2, "{on_disk:?}");
        assert_eq!(step_dirs(&run.path().join(SNAPSHOTS_DIR)).len(), on_disk.len(), "let-go snapshots are removed from disk");
        // The run's end is kept, however close to the snapshot before it.
        archive.push(&pictured(3003), Moment::Last).unwrap();
        let ended: Vec<u64> = load_snapshots(run.path()).snapshots.iter().map(|s| s.step).collect();
        assert_eq!(ended.last(), Some(&3003));
        assert!(ended.len() <= SNAPSHOTS_KEPT && ended.len() + 1 >= on_disk.len(), "{ended:?}");
        let loaded = load_snapshots(run.path());
        // Every grid comes back pixel for pixel, under its name and in its place.
        let last = loaded.snapshots.last().unwrap();
        let written = pictured(last.step);
        assert_eq!(last.inputs, written.inputs);
        assert_eq!(last.reconstructions, written.reconstructions);
        assert_eq!(last.extras, written.extras);
        // The run's checkpoint folder finds them too.
        let checkpoint = run.path().join("checkpoint");
        std::fs::create_dir(&checkpoint).unwrap();
        std::fs::write(checkpoint.join(crate::checkpoint::CONFIG_FILE), "{}").unwrap();
        assert_eq!(load_snapshots(&checkpoint).snapshots.len(), on_disk.len());
    }

    #[test]
    fn a_resumed_run_keeps_what_came_before_its_checkpoint_and_a_broken_snapshot_is_skipped() {
        let run = tempfile::tempdir().unwrap();
        let mut archive = SnapshotArchive::open(run.path(), None).unwrap();
        for step in [0, 100, 200, 300] {
            archive.push(&pictured(step), Moment::During).unwrap();
        }
        // Killed after step 300, resumed from the checkpoint of step 200: 300 is redone.
        let mut resumed = SnapshotArchive::open(run.path(), Some(200)).unwrap();
        let steps = |run: &Path| load_snapshots(run).snapshots.iter().map(|s| s.step).collect::<Vec<_>>();
        assert_eq!(steps(run.path()), vec![0, 100, 200]);
        resumed.push(&pictured(200), Moment::During).unwrap();
        resumed.push(&pictured(250), Moment::During).unwrap();
        assert_eq!(steps(run.path()), vec![0, 100, 200, 250]);
        // A damaged strip and a manifest claiming a huge grid are skipped with why.
        let dir = run.path().join(SNAPSHOTS_DIR);
        std::fs::write(dir.join("step-00000100/grid-1.png"), b"not a png").unwrap();
        let manifest = dir.join("step-00000250").join(MANIFEST);
        let text = std::fs::read_to_string(&manifest).unwrap().replacen("\"count\": 3", "\"count\": 300000000", 1);
        std::fs::write(&manifest, text).unwrap();
        let loaded = load_snapshots(run.path());
        assert_eq!(loaded.snapshots.iter().map(|s| s.step).collect::<Vec<_>>(), vec![0, 200]);
        assert_eq!(loaded.skipped.len(), 2, "{:?}", loaded.skipped);
        assert!(loaded.skipped.iter().any(|(_, why)| why.contains("claims 300000000 images")), "{:?}", loaded.skipped);
        // A new run in the folder starts afresh; files not of ours stay.
        std::fs::write(dir.join("notes.txt"), b"mine").unwrap();
        SnapshotArchive::open(run.path(), None).unwrap();
        assert!(load_snapshots(run.path()).snapshots.is_empty());
        assert!(dir.join("notes.txt").is_file());
    }
}
