//! Parts (PatchVAE): the occurrence map of every part overlaid on chosen images, and the
//! part browser — for a clicked part, the images where it is most probable, cropped around
//! its location, with its firing statistics.
//!
//! Shows the explorer's current model: the shipped checkpoint on first launch, an opened
//! checkpoint, or the weights of the run in progress (re-analysed with every snapshot, at
//! least once a second). Analysis and the browser index run on background threads.

use std::sync::Arc;

use patchwork_core::analysis::explorable::{ExplorableModel, ModelOrigin};
use patchwork_core::analysis::part_index::{IndexEvent, PartIndex, PartIndexJob, PartIndexSettings, crop, default_cache_dir};
use patchwork_core::capabilities::Capability;
use patchwork_core::capabilities::parts::PartAnalysis;
use patchwork_core::checkpoint::read_meta;
use patchwork_core::data::{HostImage, SharedSource};

use crate::gui::image_drop::{DraggedImage, images_dropped_on};
use crate::gui::images::{CachedGrid, overlay};
use crate::gui::jobs::LatestJob;
use crate::gui::{AppState, View};

/// Images analysed at once (rows of the overlay grid).
const ROWS: usize = 6;
/// Crop side in pixels for the part browser, at the model's input size.
const CROP: usize = 16;

/// One finished analysis of the chosen images.
pub struct Analysed {
    pub model: String,
    pub model_generation: u64,
    pub inputs_generation: u64,
    pub inputs: Vec<HostImage>,
    pub analyses: Vec<PartAnalysis>,
}

impl Analysed {
    pub fn parts(&self) -> usize {
        self.analyses.first().map_or(0, |a| a.code.parts)
    }
}

pub struct PartsView {
    job: LatestJob<Result<Analysed, String>>,
    requested: Option<(u64, u64)>,
    pub result: Option<Analysed>,
    pub error: Option<String>,
    pub opacity: f32,
    /// Scale each part's maps to their maximum over the shown images (faint parts visible).
    pub normalise: bool,
    pub selected: Option<usize>,
    /// Images the user dropped here (otherwise the first images of the current data).
    pub chosen: Vec<DraggedImage>,
    chosen_generation: u64,
    grid: CachedGrid,
    crops: CachedGrid,
    index_job: Option<PartIndexJob>,
    pub index: Option<Arc<PartIndex>>,
    /// What the index was built from: model description and its data.
    index_of: Option<(String, SharedSource)>,
    index_progress: (usize, usize),
}

impl Default for PartsView {
    fn default() -> Self {
        Self {
            job: LatestJob::default(),
            requested: None,
            result: None,
            error: None,
            opacity: 0.6,
            // Off: raw probabilities, so a dead part looks dead (stretched, every part looked
            // as active as the live ones).
            normalise: false,
            selected: None,
            chosen: vec![],
            chosen_generation: 0,
            grid: CachedGrid::default(),
            crops: CachedGrid::default(),
            index_job: None,
            index: None,
            index_of: None,
            index_progress: (0, 0),
        }
    }
}

impl PartsView {
    /// Where the overlay grid was drawn last frame.
    pub fn grid_rect(&self) -> Option<egui::Rect> {
        self.grid.last_rect
    }

    /// Whether background work is under way.
    pub fn busy(&self) -> bool {
        self.job.busy() || self.index_job.is_some()
    }

    fn inputs(&self, state: &AppState) -> Vec<HostImage> {
        if !self.chosen.is_empty() {
            return self.chosen.iter().map(|d| d.image.clone()).collect();
        }
        let Some(source) = &state.data.source else { return vec![] };
        (0..source.len().min(ROWS)).map(|i| source.get(i).image).collect()
    }

    /// Re-analyses when the model or the images changed (with live training: every snapshot).
    pub fn update(&mut self, state: &mut AppState) {
        if let Some(result) = self.job.poll() {
            match result {
                Ok(a) => {
                    self.error = None;
                    self.result = Some(a);
                }
                Err(e) => self.error = Some(e),
            }
        }
        self.poll_index(state);
        let Some(model) = state.model.current() else { return };
        let key = (state.model.generation, state.data.generation + self.chosen_generation);
        if self.requested == Some(key) {
            return;
        }
        self.requested = Some(key);
        let inputs = self.inputs(state);
        let model = model.clone();
        self.job.request(move || analyse_images(&model, inputs, key));
    }

    /// Waits for the analysis in flight (tests only).
    pub fn wait(&mut self, state: &mut AppState) {
        if let Some(result) = self.job.wait(std::time::Duration::from_secs(60)) {
            match result {
                Ok(a) => self.result = Some(a),
                Err(e) => self.error = Some(e),
            }
        }
        self.update(state);
    }

    fn poll_index(&mut self, state: &mut AppState) {
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
    }

    /// Starts building the part browser index of the current model over the current data
    /// (cached per checkpoint; the weights of a run in progress are indexed as they are now).
    pub fn build_index(&mut self, state: &AppState) {
        let (Some(model), Some(source)) = (state.model.current(), state.data.source.clone()) else { return };
        if model.parts().is_none() {
            return;
        }
        let settings = PartIndexSettings::default();
        let job = match &model.origin {
            ModelOrigin::Checkpoint(dir) => match read_meta(dir) {
                Ok(meta) => PartIndexJob::spawn(meta, state.data.spec.clone(), source.clone(), model.device(), settings, Some(default_cache_dir())),
                Err(_) => PartIndexJob::spawn_for_model(model.clone(), source.clone(), settings),
            },
            ModelOrigin::LiveRun(_) => PartIndexJob::spawn_for_model(model.clone(), source.clone(), settings),
        };
        self.index_progress = (0, source.len());
        self.index_of = Some((model.describe(), source));
        self.index = None;
        self.index_job = Some(job);
    }

    fn controls_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.add(egui::Slider::new(&mut self.opacity, 0.0..=1.0).text("heat-map opacity"));
            ui.checkbox(&mut self.normalise, "stretch each part").on_hover_text("map each part's probabilities from their lowest to their highest value in these images, so weak parts show where they are most likely; off = raw probabilities (0 to 1)");
            if self.chosen.is_empty() {
                ui.label(format!("showing the first {ROWS} images of the data; drop image files here to analyse yours"));
            } else {
                ui.label(format!("{} dropped image(s)", self.chosen.len()));
                if ui.button("Back to the data").clicked() {
                    self.chosen.clear();
                    self.chosen_generation += 1;
                }
            }
        });
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    }

    fn overlays_ui(&mut self, ui: &mut egui::Ui) {
        let Some(r) = &self.result else { return };
        let n = r.parts();
        let grid = r.analyses.first().map_or(1, |a| a.code.grid);
        ui.label(format!(
            "{} — {n} parts. Columns: input, reconstruction, then parts 0–{}; red = occurrence probability. Click a part to browse it.",
            r.model,
            n.saturating_sub(1)
        ));
        let columns = n + 2;
        let key = (format!("parts-{}-{}-{}-{}", r.model, r.model_generation, r.inputs_generation, self.normalise), (self.opacity * 100.0) as u64);
        let opacity = self.opacity;
        let cells = grid * grid;
        // Per part: the range its probability spans over these images (min, max − min).
        let span: Vec<(f32, f32)> = (0..n)
            .map(|p| {
                if !self.normalise {
                    return (0.0, 1.0);
                }
                let values = r.analyses.iter().flat_map(|a| a.probabilities[p * cells..(p + 1) * cells].iter().copied());
                let (lo, hi) = values.fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
                (lo, (hi - lo).max(1e-6))
            })
            .collect();
        let images = || {
            let mut out = Vec::new();
            for (input, a) in r.inputs.iter().zip(&r.analyses) {
                out.push(input.to_rgb());
                out.push(a.reconstruction.to_rgb());
                for (p, (low, range)) in span.iter().enumerate().take(n) {
                    let map: Vec<f32> = a.probabilities[p * cells..(p + 1) * cells].iter().map(|v| (v - low) / range).collect();
                    out.push(overlay(input, &map, grid, opacity));
                }
            }
            out
        };
        let width = ui.available_width().min(1200.0);
        // Column headers: what each column of the grid is.
        let (strip, _) = ui.allocate_exact_size(egui::vec2(width, 16.0), egui::Sense::hover());
        for column in 0..columns {
            let text = match column {
                0 => "input".to_string(),
                1 => "recon.".to_string(),
                p => format!("{}", p - 2),
            };
            let cell = egui::Rect::from_min_size(egui::pos2(strip.left() + column as f32 * width / columns as f32, strip.top()), egui::vec2(width / columns as f32, 16.0));
            ui.put(cell, egui::Label::new(egui::RichText::new(text).strong()).selectable(false));
        }
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

    fn browser_ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        ui.horizontal(|ui| {
            if let Some(job) = &self.index_job {
                let (done, total) = self.index_progress;
                ui.add(egui::ProgressBar::new(done as f32 / total.max(1) as f32).text(format!("indexing {done}/{total} images")).desired_width(300.0));
                if ui.button("Cancel").clicked() {
                    job.cancel();
                }
            } else if ui
                .add_enabled(self.result.is_some(), egui::Button::new(if self.index.is_some() { "Rebuild part browser" } else { "Build part browser" }))
                .on_hover_text("Encodes every image of the current data and keeps, per part, the 50 images where it is most probable (cached per checkpoint)")
                .clicked()
            {
                self.build_index(state);
            }
            if let (Some(index), Some((model, _))) = (&self.index, &self.index_of) {
                let dead = index.dead_parts();
                ui.label(format!(
                    "{} images indexed with {model}; dead parts (fire at < {}% of locations): {}",
                    index.images,
                    100.0 * index.settings.dead_below,
                    if dead.is_empty() { "none".into() } else { format!("{dead:?}") }
                ));
            }
        });
        // The index is of the weights it was built with: say so when the views now show
        // others (a run in progress moves on from the checkpoint it was built from).
        if let (Some((indexed, _)), Some(now)) = (&self.index_of, state.model.current()) {
            if self.index.is_some() && *indexed != now.describe() {
                ui.colored_label(ui.visuals().warn_fg_color, format!("This part browser is of {indexed}; the maps above are of {}. Rebuild it to browse these weights.", now.describe()));
            }
        }
        let Some(part) = self.selected else { return };
        ui.separator();
        ui.heading(format!("Part {part}"));
        let (Some(index), Some((_, source))) = (&self.index, &self.index_of) else {
            ui.label("Build the part browser to see where this part occurs across the data.");
            return;
        };
        let Some(entry) = index.parts.get(part) else { return };
        ui.label(format!(
            "fires (p > {:.1}) at {:.1}% of locations, in {:.1}% of images, covering {:.1}% of an image where it fires; mean probability {:.3}; {:.1}% of its probabilities undecided (0.1–0.9){}",
            index.settings.fire_threshold,
            100.0 * entry.firing_rate,
            100.0 * entry.image_rate,
            100.0 * entry.area_when_firing(),
            entry.mean_probability,
            100.0 * entry.uncertain_rate,
            if entry.dead { " — DEAD" } else { "" }
        ));
        let hits = entry.hits.clone();
        let source = source.clone();
        let size = index.image_size;
        let width = ui.available_width().min(900.0);
        self.crops.ui(ui, (format!("crops-{part}-{}", index.images), 0), || hits.iter().map(|h| crop(&source, h, size, index.grid, CROP)).collect(), 10, width);
        let probs: Vec<String> = entry.hits.iter().take(10).map(|h| format!("{:.2}", h.probability)).collect();
        ui.label(format!("top-{} crops, most probable first (first ten: {})", entry.hits.len(), probs.join(", ")));
        if ui.button("Export crops PNG…").clicked() {
            let crops = entry.hits.iter().map(|h| crop(&source, h, size, index.grid, CROP)).collect();
            state.export_png(crops, 10, &format!("part-{part}-crops.png"));
        }
    }
}

impl View for PartsView {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn name(&self) -> &'static str {
        "Parts"
    }

    fn on_dropped(&mut self, paths: &[std::path::PathBuf], _pointer: Option<egui::Pos2>, state: &mut AppState) -> bool {
        let Some(images) = images_dropped_on("Parts", paths, state) else { return false };
        // Empty when a file was refused: the images shown stay.
        if !images.is_empty() {
            self.chosen = images.into_iter().take(ROWS).collect();
            self.chosen_generation += 1;
        }
        true
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        self.update(state);
        if state.model.current().is_none() {
            super::model_bar_ui(ui, state);
        } else if super::model_offering_ui(ui, state, Capability::Parts, "Parts").is_none() {
            return;
        }
        self.controls_ui(ui);
        if self.job.busy() {
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
            ui.ctx().request_repaint_after(std::time::Duration::from_millis(50));
        }
    }
}

/// Analyses `inputs` with `model` (on a background thread).
fn analyse_images(model: &ExplorableModel, inputs: Vec<HostImage>, (model_generation, inputs_generation): (u64, u64)) -> Result<Analysed, String> {
    if inputs.is_empty() {
        return Err("no images to analyse: open data or drop images here".into());
    }
    let analyses = model.analyse_parts(&inputs).ok_or_else(|| format!("{} has no parts", model.describe()))?;
    let size = model.image_size();
    let channels = model.channels();
    // Show the inputs as the model saw them.
    let inputs = inputs
        .iter()
        .map(|img| HostImage::from_chw_signed(&patchwork_core::data::fit::fit_image(img, size, channels), channels, size, size))
        .collect();
    Ok(Analysed { model: model.describe(), model_generation, inputs_generation, inputs, analyses })
}
