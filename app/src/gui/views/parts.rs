//! Parts (PatchVAE): the occurrence map of every part overlaid on chosen images, and the
//! part browser — for a clicked part, the images where it is most probable, cropped around
//! its location, with its firing statistics.
//!
//! Opens on the shipped checkpoint (`checkpoints/patchvae-fashion-mnist`). Analysis and the
//! browser index run on background threads; the view only shows what they delivered.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};

use burn::prelude::*;
use patchwork_core::analysis::part_index::{IndexEvent, PartIndex, PartIndexJob, PartIndexSettings, crop, default_cache_dir};
use patchwork_core::analysis::parts::{PartAnalysis, analyse};
use patchwork_core::checkpoint::{CheckpointMeta, read_meta};
use patchwork_core::data::loader::assemble;
use patchwork_core::data::{HostImage, SharedSource};
use patchwork_core::models::patch_vae::PatchVae;

use crate::gui::images::CachedGrid;
use crate::gui::{AppState, View};

/// Images analysed at once (rows of the overlay grid).
const ROWS: usize = 6;
/// Crop side in pixels for the part browser, at the model's input size.
const CROP: usize = 16;

/// The PatchVAE shipped with the repository.
pub fn shipped_checkpoint() -> PathBuf {
    let local = PathBuf::from("checkpoints/patchvae-fashion-mnist");
    if local.is_dir() {
        local
    } else {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../checkpoints/patchvae-fashion-mnist"))
    }
}

/// One finished analysis of the first images of the current data.
pub struct Analysed {
    pub meta: CheckpointMeta,
    pub data_generation: u64,
    pub inputs: Vec<HostImage>,
    pub analyses: Vec<PartAnalysis>,
}

impl Analysed {
    pub fn parts(&self) -> usize {
        self.analyses.first().map_or(0, |a| a.code.parts)
    }
}

fn analyse_checkpoint(dir: PathBuf, source: SharedSource, data_generation: u64) -> Result<Analysed, String> {
    let meta = read_meta(&dir).map_err(|e| format!("{e:#}"))?;
    let config = meta.model_config::<PatchVae>().map_err(|e| format!("{e:#}"))?.clone();
    let device = Device::flex();
    let model: PatchVae = meta.load_model(&device).map_err(|e| format!("{e:#}"))?;
    let (size, channels) = (config.image_size, config.channels);
    let indices: Vec<usize> = (0..source.len().min(ROWS)).collect();
    if indices.is_empty() {
        return Err("the current data has no images".into());
    }
    let (images, _) = assemble(&source, &indices, size, channels);
    let per = channels * size * size;
    let inputs = (0..indices.len()).map(|i| HostImage::from_chw_signed(&images[i * per..(i + 1) * per], channels, size, size)).collect();
    let x = Tensor::<4>::from_data(TensorData::new(images, [indices.len(), channels, size, size]), &device);
    let mut rng = patchwork_core::train::step_rng(meta.state.seed, meta.state.step);
    let analyses = analyse(&model, &config, meta.state.step, x, &mut rng);
    Ok(Analysed { meta, data_generation, inputs, analyses })
}

/// `image` (any channels) with a red heat map of `map` (`grid × grid` probabilities) blended in.
pub fn overlay(image: &HostImage, map: &[f32], grid: usize, opacity: f32) -> HostImage {
    let rgb = image.to_rgb();
    let (w, h) = (rgb.width, rgb.height);
    let mut pixels = rgb.pixels.clone();
    for y in 0..h {
        for x in 0..w {
            let cell = (y * grid / h) * grid + x * grid / w;
            let a = (opacity * map.get(cell).copied().unwrap_or(0.0)).clamp(0.0, 1.0);
            let p = &mut pixels[(y * w + x) * 3..][..3];
            for (c, heat) in p.iter_mut().zip([255.0f32, 40.0, 0.0]) {
                *c = ((1.0 - a) * *c as f32 + a * heat).round() as u8;
            }
        }
    }
    HostImage::new(w, h, 3, pixels)
}

pub struct PartsView {
    pub checkpoint: PathBuf,
    job: Option<Receiver<Result<Analysed, String>>>,
    pub result: Option<Analysed>,
    pub error: Option<String>,
    pub opacity: f32,
    pub selected: Option<usize>,
    grid: CachedGrid,
    crops: CachedGrid,
    index_job: Option<PartIndexJob>,
    pub index: Option<Arc<PartIndex>>,
    index_progress: (usize, usize),
    index_source: Option<SharedSource>,
    picking: Option<Receiver<Option<PathBuf>>>,
}

impl Default for PartsView {
    fn default() -> Self {
        Self {
            checkpoint: shipped_checkpoint(),
            job: None,
            result: None,
            error: None,
            opacity: 0.6,
            selected: None,
            grid: CachedGrid::default(),
            crops: CachedGrid::default(),
            index_job: None,
            index: None,
            index_progress: (0, 0),
            index_source: None,
            picking: None,
        }
    }
}

impl PartsView {
    /// Whether background work is under way.
    pub fn busy(&self) -> bool {
        self.job.is_some() || self.index_job.is_some()
    }

    fn start_analysis(&mut self, state: &AppState) {
        let Some(source) = state.data.source.clone() else { return };
        let (tx, rx) = channel();
        let (dir, generation) = (self.checkpoint.clone(), state.data.generation);
        std::thread::spawn(move || {
            let _ = tx.send(analyse_checkpoint(dir, source, generation));
        });
        self.job = Some(rx);
        self.error = None;
    }

    fn poll(&mut self, state: &mut AppState) {
        if let Some(rx) = &self.job {
            if let Ok(result) = rx.try_recv() {
                self.job = None;
                match result {
                    Ok(a) => {
                        if self.result.as_ref().is_none_or(|r| r.meta.dir != a.meta.dir) {
                            self.index = None;
                            self.selected = None;
                        }
                        self.result = Some(a);
                    }
                    // A bad checkpoint changes nothing but the message.
                    Err(e) => {
                        state.message = Some(format!("Parts: {e}"));
                        self.error = Some(e);
                        if let Some(r) = &self.result {
                            self.checkpoint = r.meta.dir.clone();
                        }
                    }
                }
            }
        }
        let mut finished = false;
        if let Some(job) = &self.index_job {
            while let Ok(event) = job.events.try_recv() {
                match event {
                    IndexEvent::Progress { done, total } => self.index_progress = (done, total),
                    IndexEvent::Finished(index) => {
                        self.index = Some(index);
                        finished = true;
                    }
                    IndexEvent::Cancelled => finished = true,
                    IndexEvent::Failed(e) => {
                        state.message = Some(format!("part browser: {e}"));
                        finished = true;
                    }
                }
            }
        }
        if finished {
            self.index_job = None;
        }
        if let Some(rx) = &self.picking {
            if let Ok(choice) = rx.try_recv() {
                self.picking = None;
                if let Some(dir) = choice {
                    self.checkpoint = dir;
                    self.start_analysis(state);
                }
            }
        }
    }

    /// Opens another checkpoint (a bad one is refused and the current one kept).
    pub fn open_checkpoint(&mut self, dir: PathBuf, state: &AppState) {
        self.checkpoint = dir;
        self.start_analysis(state);
    }

    /// Starts building the part browser index over the current data.
    pub fn build_index(&mut self, state: &AppState) {
        let (Some(result), Some(source)) = (&self.result, state.data.source.clone()) else { return };
        self.index_source = Some(source.clone());
        self.index_progress = (0, source.len());
        self.index_job = Some(PartIndexJob::spawn(
            result.meta.clone(),
            state.data.spec.clone(),
            source,
            Device::flex(),
            PartIndexSettings::default(),
            Some(default_cache_dir()),
        ));
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui, state: &AppState) {
        ui.horizontal(|ui| {
            ui.label("Checkpoint:");
            ui.monospace(self.checkpoint.display().to_string());
            if ui.add_enabled(self.picking.is_none(), egui::Button::new("Open checkpoint…")).clicked() {
                let (tx, rx) = channel();
                std::thread::spawn(move || {
                    let _ = tx.send(rfd::FileDialog::new().set_title("Open a PatchVAE checkpoint folder").pick_folder());
                });
                self.picking = Some(rx);
            }
            if ui.button("Shipped model").clicked() {
                self.open_checkpoint(shipped_checkpoint(), state);
            }
            ui.separator();
            ui.add(egui::Slider::new(&mut self.opacity, 0.0..=1.0).text("heat-map opacity"));
        });
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, format!("Could not open: {e}"));
        }
    }

    fn overlays_ui(&mut self, ui: &mut egui::Ui) {
        let Some(r) = &self.result else { return };
        let n = r.parts();
        let grid = r.analyses.first().map_or(1, |a| a.code.grid);
        ui.label(format!(
            "{} — step {}, {} parts. Columns: input, reconstruction, then parts 0–{}; red = occurrence probability. Click a part to browse it.",
            r.meta.dir.display(),
            r.meta.state.step,
            n,
            n.saturating_sub(1)
        ));
        let columns = n + 2;
        let key = (format!("parts-{}-{}", r.meta.dir.display(), r.data_generation), (self.opacity * 100.0) as u64);
        let opacity = self.opacity;
        let images = || {
            let mut cells = Vec::new();
            for (input, a) in r.inputs.iter().zip(&r.analyses) {
                cells.push(input.to_rgb());
                cells.push(a.reconstruction.to_rgb());
                for p in 0..n {
                    cells.push(overlay(input, &a.probabilities[p * grid * grid..(p + 1) * grid * grid], grid, opacity));
                }
            }
            cells
        };
        let width = ui.available_width().min(1200.0);
        if let Some(response) = self.grid.ui(ui, key, images, columns, width) {
            let response = response.interact(egui::Sense::click());
            if response.clicked() {
                if let Some(pos) = response.interact_pointer_pos() {
                    let column = ((pos.x - response.rect.left()) / response.rect.width() * columns as f32) as usize;
                    if (2..columns).contains(&column) {
                        self.selected = Some(column - 2);
                    }
                }
            }
        }
    }

    fn browser_ui(&mut self, ui: &mut egui::Ui, state: &AppState) {
        ui.horizontal(|ui| {
            if let Some(job) = &self.index_job {
                let (done, total) = self.index_progress;
                ui.add(egui::ProgressBar::new(done as f32 / total.max(1) as f32).text(format!("indexing {done}/{total} images")).desired_width(300.0));
                if ui.button("Cancel").clicked() {
                    job.cancel();
                }
            } else if ui
                .add_enabled(self.result.is_some(), egui::Button::new("Build part browser"))
                .on_hover_text("Encodes every image of the current data and keeps, per part, the 50 images where it is most probable (cached per checkpoint)")
                .clicked()
            {
                self.build_index(state);
            }
            if let Some(index) = &self.index {
                let dead = index.dead_parts();
                ui.label(format!("{} images indexed; dead parts (fire at < 0.1% of locations): {}", index.images, if dead.is_empty() { "none".into() } else { format!("{dead:?}") }));
            }
        });
        let Some(part) = self.selected else { return };
        ui.separator();
        ui.heading(format!("Part {part}"));
        let (Some(index), Some(source)) = (&self.index, &self.index_source) else {
            ui.label("Build the part browser to see where this part occurs across the data.");
            return;
        };
        let Some(entry) = index.parts.get(part) else { return };
        ui.label(format!(
            "fires (p > {:.1}) at {:.1}% of locations, in {:.1}% of images; mean probability {:.3}{}",
            index.settings.fire_threshold,
            100.0 * entry.firing_rate,
            100.0 * entry.image_rate,
            entry.mean_probability,
            if entry.dead { " — DEAD" } else { "" }
        ));
        let hits = entry.hits.clone();
        let source = source.clone();
        let size = index.image_size;
        let width = ui.available_width().min(900.0);
        self.crops.ui(ui, (format!("crops-{part}-{}", index.images), 0), || hits.iter().map(|h| crop(&source, h, size, CROP)).collect(), 10, width);
        let probs: Vec<String> = entry.hits.iter().take(10).map(|h| format!("{:.2}", h.probability)).collect();
        ui.label(format!("top-{} crops, most probable first (first ten: {})", entry.hits.len(), probs.join(", ")));
    }
}

impl View for PartsView {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn name(&self) -> &'static str {
        "Parts"
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        self.poll(state);
        let stale = self.result.as_ref().is_none_or(|r| r.data_generation != state.data.generation || r.meta.dir != self.checkpoint);
        if stale && self.job.is_none() && self.error.is_none() && state.data.source.is_some() {
            self.start_analysis(state);
        }
        self.controls_ui(ui, state);
        if self.job.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("analysing…");
            });
        }
        egui::ScrollArea::vertical().show(ui, |ui| {
            self.overlays_ui(ui);
            ui.separator();
            self.browser_ui(ui, state);
        });
        if self.busy() {
            ui.ctx().request_repaint_after(std::time::Duration::from_millis(100));
        }
    }
}
