//! Object transfer (thesis §4.2, Fig. 4.3): an object image, a reference scene and four
//! quadrant toggles; shows both inputs, the pixel collage and the mix the decoder renders
//! from the reference's latent with the toggled chunks taken from the object image.

use patchwork_core::analysis::explorable::ExplorableModel;
use patchwork_core::data::scenes::QuadrantScenes;
use patchwork_core::data::{HostImage, ImageSource, Split, fit_image};
use patchwork_core::eval::transfer::collage;
use patchwork_core::mixing::{Quadrant, QuadrantMask};

use patchwork_core::capabilities::Capability;

use super::mixing_model_ui;
use crate::gui::image_drop::{DraggedImage, ImageSlot, images_dropped_on, place_in_pair, thumbnail_strip_ui};
use crate::gui::images::CachedGrid;
use crate::gui::wipe::{WIPE_SIDE, Wipe};
use crate::gui::jobs::{LatestJob, store};
use crate::gui::{AppState, View};

/// What one transfer computed.
pub struct TransferResult {
    pub key: TransferKey,
    pub collage: HostImage,
    pub mix: HostImage,
    pub reconstruction: HostImage,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TransferKey {
    pub model_generation: u64,
    pub inputs: u64,
    pub mask: QuadrantMask,
}

pub fn compute_transfer(model: &ExplorableModel, object: &HostImage, reference: &HostImage, key: TransferKey) -> Result<TransferResult, String> {
    let size = model.image_size();
    let mut out = model.transfer(object, reference, &[key.mask, QuadrantMask::default()]).ok_or("Object transfer needs a model with quadrant chunks")?.into_iter();
    let (Some(mix), Some(reconstruction)) = (out.next(), out.next()) else { return Err("the model returned nothing".into()) };
    Ok(TransferResult { collage: collage(object, reference, key.mask, size), mix, reconstruction, key })
}

pub struct TransferView {
    pub object: ImageSlot,
    pub reference: ImageSlot,
    pub mask: QuadrantMask,
    inputs: u64,
    scenes: Option<QuadrantScenes>,
    next_scene: usize,
    job: LatestJob<Result<TransferResult, String>>,
    requested: Option<TransferKey>,
    pub result: Option<TransferResult>,
    pub error: Option<String>,
    thumbnails: CachedGrid,
    output: CachedGrid,
    /// The reference's reconstruction against the transfer, in one place.
    pub wipe: Wipe,
}

impl Default for TransferView {
    fn default() -> Self {
        Self {
            object: ImageSlot::default(),
            reference: ImageSlot::default(),
            // The thesis's first example: the bottom-left object moves.
            mask: QuadrantMask([false, false, true, false]),
            inputs: 0,
            scenes: None,
            next_scene: 0,
            job: LatestJob::default(),
            requested: None,
            result: None,
            error: None,
            thumbnails: CachedGrid::default(),
            output: CachedGrid::default(),
            wipe: Wipe::default(),
        }
    }
}

impl TransferView {
    /// Fills both slots with the next two held-out quadrant scenes.
    pub fn draw_scenes(&mut self) {
        if self.scenes.is_none() {
            match QuadrantScenes::open(Split::Test, 0) {
                Ok(s) => self.scenes = Some(s),
                Err(e) => {
                    self.error = Some(e.to_string());
                    return;
                }
            }
        }
        let Some(scenes) = &self.scenes else { return };
        let n = scenes.len();
        let (a, b) = (self.next_scene % n, (self.next_scene + 1) % n);
        self.next_scene += 2;
        self.object.set(DraggedImage { image: scenes.get(a).image, label: format!("test scene #{a}") });
        self.reference.set(DraggedImage { image: scenes.get(b).image, label: format!("test scene #{b}") });
        self.inputs += 1;
    }

    pub fn place(&mut self, image: DraggedImage, pointer: Option<egui::Pos2>) {
        place_in_pair(&mut self.object, &mut self.reference, image, pointer);
        self.inputs += 1;
    }

    /// Converts what the slots hold to the model's input (size, channels), visibly: the
    /// slot shows the converted image and its label says from what. A 28×28 grey garment
    /// was taken as a reference of a 64×64 colour model, drawn at a quarter of the size.
    fn fit_to_model(&mut self, size: usize, channels: usize) {
        for slot in [&mut self.object, &mut self.reference] {
            let Some(image) = &slot.image else { continue };
            let im = &image.image;
            if (im.width, im.height, im.channels) == (size, size, channels) {
                continue;
            }
            let what = |c: usize| if c == 1 { "grey" } else { "colour" };
            let label = format!("{} (converted from {}×{} {} to {size}×{size} {})", image.label, im.width, im.height, what(im.channels), what(channels));
            let fitted = HostImage::from_chw_signed(&fit_image(im, size, channels), channels, size, size);
            slot.set(DraggedImage { image: fitted, label });
            self.inputs += 1;
        }
    }

    pub fn update(&mut self, state: &mut AppState) {
        if let Some(outcome) = self.job.poll() {
            store(outcome, &mut self.result, &mut self.error);
        }
        if self.object.image.is_none() && self.reference.image.is_none() {
            self.draw_scenes();
        }
        if let Some(model) = state.model.current().filter(|m| m.offers(Capability::Chunks)) {
            let (size, channels) = (model.image_size(), model.channels());
            self.fit_to_model(size, channels);
        }
        let (Some(model), Some(object), Some(reference)) = (state.model.current(), &self.object.image, &self.reference.image) else { return };
        if !model.offers(Capability::Chunks) {
            return;
        }
        let key = TransferKey { model_generation: state.model.generation, inputs: self.inputs, mask: self.mask };
        if self.requested.as_ref() == Some(&key) {
            return;
        }
        self.requested = Some(key.clone());
        let (model, object, reference) = (model.clone(), object.image.clone(), reference.image.clone());
        self.job.request(move || compute_transfer(&model, &object, &reference, key));
    }

    /// Starts what the current inputs ask for and waits for it (tests only).
    pub fn wait(&mut self, state: &mut AppState) {
        self.update(state);
        if let Some(outcome) = self.job.wait(std::time::Duration::from_secs(60)) {
            store(outcome, &mut self.result, &mut self.error);
        }
        self.update(state);
    }

    fn mask_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.vertical(|ui| {
                ui.label("take from the object image:");
                // The toggles laid out as the quadrants they stand for.
                egui::Grid::new("transfer-mask").show(ui, |ui| {
                    for row in 0..2 {
                        for col in 0..2 {
                            let q = Quadrant::ALL[row * 2 + col];
                            let mut take = self.mask.0[q.index()];
                            if ui.toggle_value(&mut take, format!("{} {}", q.index(), q.name())).on_hover_text(format!("bit {} of the mask", q.index() + 1)).changed() {
                                self.mask.0[q.index()] = take;
                            }
                        }
                        ui.end_row();
                    }
                });
            });
            ui.vertical(|ui| {
                ui.horizontal(|ui| {
                    ui.label("mask");
                    ui.monospace(self.mask.to_string());
                });
                ui.horizontal_wrapped(|ui| {
                    ui.label("presets (thesis Tables 4.2, C.1):");
                    for preset in QuadrantMask::PRESETS {
                        if ui.selectable_label(self.mask.to_string() == preset, preset).clicked() {
                            if let Ok(mask) = QuadrantMask::parse(preset) {
                                self.mask = mask;
                            }
                        }
                    }
                    if ui.selectable_label(self.mask.replaced() == 0, "0000").on_hover_text("nothing taken: the plain reconstruction").clicked() {
                        self.mask = QuadrantMask::default();
                    }
                });
                ui.label(super::ORDER_NOTE);
            });
        });
    }
}

impl View for TransferView {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn name(&self) -> &'static str {
        "Object transfer"
    }

    fn on_dropped(&mut self, paths: &[std::path::PathBuf], pointer: Option<egui::Pos2>, state: &mut AppState) -> bool {
        let Some(images) = images_dropped_on("Object transfer", paths, state) else { return false };
        for image in images.into_iter().take(2) {
            self.place(image, pointer);
        }
        true
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        self.update(state);
        // The open data as the model takes it, or a word on what happens to it.
        let fits = match (state.model.current(), &state.data.source) {
            (Some(m), Some(d)) => d.info().channels == m.channels() && d.info().size.is_some_and(|(h, w)| (h, w) == (m.image_size(), m.image_size())),
            _ => true,
        };
        let hint = if fits {
            "Drag a thumbnail of the current data onto Object or Reference (click: fills the next slot)".to_string()
        } else {
            "These images are not what the model takes: dropped in, they are converted (and say so). New scenes, or the quadrant scenes in Data, are its own.".to_string()
        };
        if let Some(image) = thumbnail_strip_ui(ui, "transfer-thumbnails", &hint, &mut self.thumbnails, state) {
            self.place(image, None);
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if mixing_model_ui(ui, state, "Object transfer").is_none() {
                return;
            }
            ui.horizontal(|ui| {
                let a = self.object.ui(ui, "Object", 112.0);
                let b = self.reference.ui(ui, "Reference", 112.0);
                if a || b {
                    self.inputs += 1;
                }
                ui.vertical(|ui| {
                    if ui.button("New scenes").on_hover_text("two held-out quadrant scenes").clicked() {
                        self.draw_scenes();
                    }
                    if ui.button("Exchange").clicked() {
                        let (a, b) = (self.object.image.take(), self.reference.image.take());
                        if let Some(b) = b {
                            self.object.set(b);
                        }
                        if let Some(a) = a {
                            self.reference.set(a);
                        }
                        self.inputs += 1;
                    }
                    if self.job.busy() {
                        ui.spinner();
                    } else if let Some(d) = self.job.last_duration {
                        ui.label(format!("last render {:.1} ms", d.as_secs_f64() * 1e3));
                    }
                });
            });
            self.mask_ui(ui);
            if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            ui.separator();
            let Some(r) = &self.result else { return };
            let (Some(object), Some(reference)) = (&self.object.image, &self.reference.image) else { return };
            ui.label(format!("object · reference · collage I_f_mix (mask {}) · rendered I_mix · reference reconstruction", r.key.mask));
            let images = || vec![object.image.clone(), reference.image.clone(), r.collage.clone(), r.mix.clone(), r.reconstruction.clone()];
            let key = (format!("transfer-{:?}", r.key), 0);
            // The grid, and beside it the reference's reconstruction and the transfer in one place.
            let width = (ui.available_width() - WIPE_SIDE - 16.0).clamp(200.0, 5.0 * 160.0);
            ui.horizontal_top(|ui| {
                self.output.ui(ui, key, images, 5, width);
                ui.vertical(|ui| self.wipe.ui(ui, (format!("transfer-wipe-{:?}", r.key), 0), || [r.reconstruction.clone(), r.mix.clone()], WIPE_SIDE, ["the reference's reconstruction", "the transfer"]));
            });
            if ui.button("Export PNG…").clicked() {
                state.export_png(images(), 5, "transfer.png");
            }
        });
        if self.job.busy() {
            ui.ctx().request_repaint();
        }
    }
}
