//! Traverse: what each latent does. β-VAE — a traversal grid for one image (each latent
//! over ±range, latents ordered by KL), a slider per latent, samples from the prior and a
//! 2-D manifold over the two most informative latents (the whole latent space when it has
//! two dimensions). PatchVAE — the same for one part's appearance dimensions.

use patchwork_core::analysis::explorable::ExplorableModel;
use patchwork_core::analysis::traverse::{Traversal, decode_edit, manifold_codes, traversal_values, traverse_image};
use patchwork_core::data::HostImage;

use crate::gui::image_drop::{DraggedImage, ImageDestination, ImageSlot, draggable_data_grid, images_dropped_on};
use crate::gui::images::CachedGrid;
use crate::gui::jobs::LatestJob;
use crate::gui::{AppState, View};

/// Side of the manifold grid.
const MANIFOLD: usize = 12;

#[derive(Debug, Clone, PartialEq)]
struct GridKey {
    model_generation: u64,
    inputs: u64,
    part: usize,
    range_centi: i64,
    steps: usize,
}

pub struct TraverseView {
    pub image: ImageSlot,
    inputs: u64,
    /// Traverse the part most present in the image once it is analysed.
    auto_part: bool,
    pub part: usize,
    pub range: f32,
    pub steps: usize,
    grid_job: LatestJob<Result<(GridKey, Traversal), String>>,
    requested: Option<GridKey>,
    pub traversal: Option<Traversal>,
    /// The slider values (a copy of the traversed code, edited).
    pub edited: Vec<f32>,
    edit_job: LatestJob<Option<HostImage>>,
    pub edited_image: Option<HostImage>,
    edited_texture: CachedGrid,
    edits: u64,
    /// Results received, to key the textures (inputs may change before results arrive).
    received: u64,
    samples_job: LatestJob<Vec<HostImage>>,
    pub samples: Vec<HostImage>,
    sample_seed: u64,
    manifold_job: LatestJob<Option<Vec<HostImage>>>,
    pub manifold: Vec<HostImage>,
    pub error: Option<String>,
    pub thumbnails: CachedGrid,
    grid: CachedGrid,
    samples_grid: CachedGrid,
    manifold_grid: CachedGrid,
    /// The group of dimensions shown (the reference VAE's "e" or "z"), or all.
    pub group: Option<&'static str>,
}

impl Default for TraverseView {
    fn default() -> Self {
        Self {
            image: ImageSlot::default(),
            inputs: 0,
            auto_part: false,
            part: 0,
            range: 3.0,
            steps: 9,
            group: None,
            grid_job: LatestJob::default(),
            requested: None,
            traversal: None,
            edited: vec![],
            edit_job: LatestJob::default(),
            edited_image: None,
            edited_texture: CachedGrid::default(),
            edits: 0,
            received: 0,
            samples_job: LatestJob::default(),
            samples: vec![],
            sample_seed: 1,
            manifold_job: LatestJob::default(),
            manifold: vec![],
            error: None,
            thumbnails: CachedGrid::default(),
            grid: CachedGrid::default(),
            samples_grid: CachedGrid::default(),
            manifold_grid: CachedGrid::default(),
        }
    }
}

/// The manifold over the two most informative dimensions of a β-VAE traversal.
fn manifold_images(model: &ExplorableModel, traversal: &Traversal) -> Option<Vec<HostImage>> {
    if traversal.part_code.is_some() || traversal.order.len() < 2 {
        return None;
    }
    let codes = manifold_codes(&traversal.base, (traversal.order[0], traversal.order[1]), MANIFOLD);
    model.decode_latents(&codes)
}

impl TraverseView {
    pub fn set_image(&mut self, image: DraggedImage) {
        self.image.set(image);
        self.inputs += 1;
        self.auto_part = true;
    }

    pub fn busy(&self) -> bool {
        self.grid_job.busy() || self.edit_job.busy() || self.samples_job.busy() || self.manifold_job.busy()
    }

    /// Takes finished work and starts what changed inputs need.
    pub fn update(&mut self, state: &mut AppState) {
        for image in state.take_sent(ImageDestination::Traverse) {
            self.set_image(image);
        }
        if let Some(result) = self.grid_job.poll() {
            match result {
                Ok((_, t)) => {
                    let present = t.part_code.as_ref().and_then(|(_, c)| c.parts_by_firing().first().copied());
                    if let (true, Some(p)) = (std::mem::take(&mut self.auto_part), present) {
                        self.part = p;
                    }
                    if self.edited.len() != t.base.len() || self.traversal.as_ref().is_none_or(|old| old.base != t.base) {
                        self.edited = t.base.clone();
                        self.edited_image = Some(t.reconstruction.clone());
                    }
                    self.error = None;
                    self.received += 1;
                    self.traversal = Some(t);
                    self.manifold.clear();
                    self.request_manifold(state);
                }
                Err(e) => self.error = Some(e),
            }
        }
        if let Some(image) = self.edit_job.poll() {
            self.edited_image = image;
            self.edits += 1;
        }
        if let Some(samples) = self.samples_job.poll() {
            self.samples = samples;
            self.received += 1;
        }
        if let Some(manifold) = self.manifold_job.poll() {
            self.manifold = manifold.unwrap_or_default();
            self.received += 1;
        }
        let Some(model) = state.model.current() else { return };
        if self.image.image.is_none() {
            if let Some(first) = DraggedImage::from_data(state, 0) {
                self.set_image(first);
            }
        }
        let Some(image) = &self.image.image else { return };
        let parts = model.parts().unwrap_or(1);
        self.part = self.part.min(parts.saturating_sub(1));
        let key = GridKey {
            model_generation: state.model.generation,
            inputs: self.inputs,
            part: self.part,
            range_centi: (self.range * 100.0).round() as i64,
            steps: self.steps,
        };
        if self.requested.as_ref() == Some(&key) {
            return;
        }
        self.requested = Some(key.clone());
        let (model, image, part) = (model.clone(), image.image.clone(), self.part);
        let values = traversal_values(self.range, self.steps);
        self.grid_job.request(move || traverse_image(&model, &image, part, &values).map(|t| (key, t)));
        // New weights draw new-looking samples from the same noise.
        self.request_samples(state);
    }

    fn request_samples(&mut self, state: &AppState) {
        let Some(model) = state.model.current().cloned() else { return };
        let seed = self.sample_seed;
        self.samples_job.request(move || model.sample_prior(16, seed));
    }

    fn request_manifold(&mut self, state: &AppState) {
        let (Some(model), Some(t)) = (state.model.current().cloned(), self.traversal.clone()) else { return };
        self.manifold_job.request(move || manifold_images(&model, &t));
    }

    /// Decodes the slider values (one image: within a frame on the CPU for 32×32 and 64×64).
    pub fn request_edit(&mut self, state: &AppState) {
        let (Some(model), Some(t)) = (state.model.current().cloned(), self.traversal.clone()) else { return };
        let edited = self.edited.clone();
        self.edit_job.request(move || decode_edit(&model, &t, &edited));
    }

    /// Waits for all work in flight (tests only).
    pub fn wait(&mut self, state: &mut AppState) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.busy() && std::time::Instant::now() < deadline {
            self.update(state);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        self.update(state);
    }

    fn sliders_ui(&mut self, ui: &mut egui::Ui, state: &AppState) {
        let Some(t) = &self.traversal else { return };
        let mut changed = false;
        let name = dim_namer(t.part_code.is_some().then_some(self.part), state);
        let shown = shown_dims(self.group, t, state);
        for &dim in t.order.iter().filter(|d| shown(**d)) {
            if let Some(v) = self.edited.get_mut(dim) {
                let label = format!("{} (KL {:.2})", name(dim), t.kl[dim]);
                changed |= ui.add(egui::Slider::new(v, -4.0..=4.0).fixed_decimals(2).text(label)).changed();
            }
        }
        if ui.button("Reset to the posterior mean").clicked() {
            self.edited = t.base.clone();
            changed = true;
        }
        if changed {
            self.request_edit(state);
        }
    }

    fn grid_ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        let Some(t) = &self.traversal else { return };
        let what = if t.part_code.is_some() { format!("part {}'s appearance dimensions", self.part) } else { "latents".into() };
        let name = dim_namer(t.part_code.is_some().then_some(self.part), state);
        let groups = dim_groups(t, state);
        if !groups.is_empty() {
            ui.horizontal(|ui| {
                ui.label("dimensions:");
                ui.selectable_value(&mut self.group, None, "all");
                for (group, range) in &groups {
                    ui.selectable_value(&mut self.group, Some(*group), format!("{group} only ({})", range.len()));
                }
            });
        }
        let shown = shown_dims(self.group, t, state);
        ui.label(format!(
            "Rows: {what} by KL, most informative first ({}); columns: value from {:.1} to {:.1}, the others at the posterior mean.",
            t.order.iter().filter(|d| shown(**d)).map(|&d| format!("{}: {:.2}", short_name(&name(d)), t.kl[d])).collect::<Vec<_>>().join(", "),
            -self.range,
            self.range
        ));
        let images: Vec<HostImage> = t.order.iter().zip(&t.rows).filter(|(d, _)| shown(**d)).flat_map(|(_, row)| row.iter().cloned()).collect();
        let key = (format!("traverse-{:?}", self.group), self.received);
        let width = (ui.available_width() - 10.0).min(64.0 * self.steps as f32);
        self.grid.ui(ui, key, || images.clone(), self.steps, width);
        if ui.button("Export grid PNG…").clicked() {
            state.export_png(images, self.steps, "traversal.png");
        }
    }
}

impl View for TraverseView {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn name(&self) -> &'static str {
        "Traverse"
    }

    fn on_dropped(&mut self, paths: &[std::path::PathBuf], _pointer: Option<egui::Pos2>, state: &mut AppState) -> bool {
        let Some(images) = images_dropped_on("Traverse", paths, state) else { return false };
        if let Some(image) = images.into_iter().next() {
            self.set_image(image);
        }
        true
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        self.update(state);
        egui::Panel::left("traverse-thumbnails").resizable(true).default_size(190.0).show(ui, |ui| {
            ui.label("Click or drag a thumbnail onto the image");
            egui::ScrollArea::vertical().show(ui, |ui| {
                let width = ui.available_width();
                if let Some(i) = draggable_data_grid(ui, &mut self.thumbnails, state, 64, 4, width) {
                    if let Some(image) = DraggedImage::from_data(state, i) {
                        self.set_image(image);
                    }
                }
            });
        });
        egui::Panel::right("traverse-sliders").resizable(true).default_size(330.0).show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                ui.heading("Sliders");
                if let Some(image) = &self.edited_image {
                    let side = 128.0;
                    self.edited_texture.ui(ui, ("traverse-edited".into(), self.edits), || vec![image.clone()], 1, side);
                }
                self.sliders_ui(ui, state);
                ui.separator();
                ui.horizontal(|ui| {
                    ui.heading("Samples from the prior");
                    if ui.button("Resample").clicked() {
                        self.sample_seed += 1;
                        self.request_samples(state);
                    }
                });
                if !self.samples.is_empty() {
                    let width = ui.available_width().min(300.0);
                    self.samples_grid.ui(ui, ("samples".to_string(), self.received), || self.samples.clone(), 4, width);
                }
            });
        });
        egui::CentralPanel::default().show(ui, |ui| {
            super::model_bar_ui(ui, state);
            ui.horizontal(|ui| {
                if self.image.ui(ui, "Image", 96.0) {
                    self.inputs += 1;
                    self.auto_part = true;
                }
                ui.vertical(|ui| {
                    if let Some(parts) = state.model.current().and_then(|m| m.parts()) {
                        ui.horizontal(|ui| {
                            ui.label("part:");
                            ui.add(egui::DragValue::new(&mut self.part).range(0..=parts.saturating_sub(1)));
                            if let Some((_, code)) = self.traversal.as_ref().and_then(|t| t.part_code.as_ref()) {
                                let top: Vec<String> = code.parts_by_firing().iter().take(4).map(|p| p.to_string()).collect();
                                ui.label(format!("most present here: {}", top.join(", ")));
                            }
                        });
                    }
                    ui.add(egui::Slider::new(&mut self.range, 0.5..=5.0).text("range ± (prior σ)"));
                    ui.add(egui::Slider::new(&mut self.steps, 3..=15).text("steps"));
                    if self.grid_job.busy() {
                        ui.spinner();
                    } else if let Some(d) = self.grid_job.last_duration {
                        ui.label(format!("grid decoded in {:.1} ms", d.as_secs_f64() * 1e3));
                    }
                });
            });
            if let Some((part, code)) = self.traversal.as_ref().and_then(|t| t.part_code.as_ref()) {
                if code.firing_share(*part) == 0.0 {
                    let firing: Vec<String> = (0..code.parts).filter(|&p| code.firing_share(p) > 0.0).map(|p| p.to_string()).collect();
                    let hint = if firing.is_empty() { "no part fires in it yet (early in a run, every map is near the prior)".to_string() } else { format!("parts that fire here: {}", firing.join(", ")) };
                    ui.colored_label(ui.visuals().warn_fg_color, format!("Part {part} does not fire in this image, so its appearance changes little or nothing; {hint}."));
                }
            }
            if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            egui::ScrollArea::vertical().show(ui, |ui| {
                self.grid_ui(ui, state);
                if !self.manifold.is_empty() {
                    if let Some(t) = &self.traversal {
                        ui.separator();
                        let (a, b) = (t.order[0], t.order[1]);
                        ui.heading(if t.base.len() == 2 { "2-D latent manifold".to_string() } else { format!("2-D manifold over latents {a} and {b} (the others at the posterior mean)") });
                        ui.label(format!("latent {a} left to right, latent {b} bottom to top, at normal quantiles of evenly spaced probabilities"));
                        let width = ui.available_width().min(48.0 * MANIFOLD as f32);
                        self.manifold_grid.ui(ui, ("manifold".to_string(), self.received), || self.manifold.clone(), MANIFOLD, width);
                    }
                }
            });
        });
        if self.busy() {
            ui.ctx().request_repaint();
        }
    }
}

/// What a traversed dimension is called: a part's appearance dimension, or the model's name
/// for a latent ("latent 3", the reference-based VAE's "e3" and "z5").
fn dim_namer(part: Option<usize>, state: &AppState) -> impl Fn(usize) -> String + use<> {
    let model = state.model.current().cloned();
    move |dim| match part {
        Some(p) => format!("part {p} appearance {dim}"),
        None => model.as_ref().and_then(|m| m.model.latents().map(|l| l.dim_name(dim))).unwrap_or_else(|| format!("latent {dim}")),
    }
}

/// A dimension's name without its kind's word ("latent 3" → "3", "e3" stays).
fn short_name(name: &str) -> &str {
    name.rsplit(' ').next().unwrap_or(name)
}

/// The model's named groups of latent dimensions (the reference VAE's e and z); none for a
/// part's appearance.
fn dim_groups(t: &Traversal, state: &AppState) -> Vec<(&'static str, std::ops::Range<usize>)> {
    if t.part_code.is_some() {
        return vec![];
    }
    state.model.current().and_then(|m| m.model.latents().map(|l| l.dim_groups())).unwrap_or_default()
}

/// Whether a traversal shows dimension `dim`: all of them, or those of the chosen group.
fn shown_dims(group: Option<&'static str>, t: &Traversal, state: &AppState) -> impl Fn(usize) -> bool + use<> {
    let range = group.and_then(|group| dim_groups(t, state).into_iter().find(|(g, _)| *g == group)).map(|(_, r)| r);
    move |dim| range.as_ref().is_none_or(|r| r.contains(&dim))
}
