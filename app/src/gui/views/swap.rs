//! Swap (PatchVAE): decode a target image with one of its parts' appearance taken from a
//! source image (source part i and target part j chosen independently, the paper's
//! Fig. 5), and with any parts switched off. Works on the live training weights or on an
//! opened checkpoint; images come from the thumbnails, the desktop, or the Data tab.

use patchwork_core::analysis::explorable::ExplorableModel;
use patchwork_core::capabilities::Capability;
use patchwork_core::capabilities::parts::{PartAnalysis, PartCode};
use patchwork_core::data::HostImage;

use crate::gui::image_drop::{DraggedImage, ImageDestination, ImageSlot, images_dropped_on, place_in_pair, thumbnail_strip_ui};
use crate::gui::images::{CachedGrid, overlay};
use crate::gui::wipe::{WIPE_SIDE, Wipe};
use crate::gui::jobs::{LatestJob, store};
use crate::gui::{AppState, View};

/// What one swap computed.
pub struct SwapResult {
    pub key: SwapKey,
    pub source: PartAnalysis,
    pub target: PartAnalysis,
    /// The target decoded with the swap and the parts switched off.
    pub swapped: HostImage,
}

/// Everything a swap depends on; a change means recomputing.
#[derive(Debug, Clone, PartialEq)]
pub struct SwapKey {
    pub model_generation: u64,
    pub inputs: u64,
    pub source_part: usize,
    pub target_part: usize,
    pub parts_off: Vec<usize>,
}

/// The picker's entries: the parts that fire in the image first (most first, with their
/// share), then the others (ordered by their summed occurrence), marked absent.
pub fn part_choices(parts: usize, code: Option<&PartCode>) -> Vec<(usize, String)> {
    let Some(code) = code.filter(|c| c.parts == parts) else { return (0..parts).map(|p| (p, p.to_string())).collect() };
    code.parts_by_firing()
        .into_iter()
        .map(|p| {
            let share = code.firing_share(p);
            (p, if share == 0.0 { format!("{p} — absent here") } else { format!("{p} — {:.0}% of the image", 100.0 * share) })
        })
        .collect()
}

/// A part picker listing `part_choices`; true when the person picked one.
fn part_picker_ui(ui: &mut egui::Ui, id: &str, part: &mut usize, parts: usize, code: Option<&PartCode>) -> bool {
    let choices = part_choices(parts, code);
    let shown = choices.iter().find(|(p, _)| p == part).map_or_else(|| part.to_string(), |(_, label)| label.clone());
    let mut picked = false;
    egui::ComboBox::from_id_salt(id).selected_text(shown).width(190.0).show_ui(ui, |ui| {
        for (p, label) in choices {
            if ui.selectable_value(part, p, label).clicked() {
                picked = true;
            }
        }
    });
    picked
}

/// Runs one swap (on a background thread). `analysed` are the source's and target's
/// analyses when the model and images are unchanged since the last swap: then only the
/// decoder runs (one image, within a frame on the CPU).
pub fn compute_swap(model: &ExplorableModel, source: &HostImage, target: &HostImage, key: SwapKey, analysed: Option<(PartAnalysis, PartAnalysis)>) -> Result<SwapResult, String> {
    let (source, target) = match analysed {
        Some(pair) => pair,
        None => {
            let mut analyses = model.analyse_parts(&[source.clone(), target.clone()]).ok_or("Swap needs a PatchVAE")?.into_iter();
            let (Some(source), Some(target)) = (analyses.next(), analyses.next()) else { return Err("the model returned no analysis".into()) };
            (source, target)
        }
    };
    let parts = target.code.parts;
    if key.source_part >= parts || key.target_part >= parts {
        return Err(format!("this model has {parts} parts"));
    }
    let code = target.code.with_appearance_from(&source.code, key.source_part, key.target_part).with_parts_off(&key.parts_off);
    let swapped = model.decode_part_codes(&[code]).and_then(|v| v.into_iter().next()).ok_or("decoding failed")?;
    Ok(SwapResult { key, source, target, swapped })
}

#[derive(Default)]
pub struct SwapView {
    pub source: ImageSlot,
    pub target: ImageSlot,
    pub source_part: usize,
    pub target_part: usize,
    /// Parts switched off in the target.
    pub parts_off: Vec<usize>,
    inputs: u64,
    /// Pick the parts most present in each image once the new images are analysed.
    auto_parts: bool,
    /// The person chose the source (target) part: new images keep it.
    pub picked_source: bool,
    pub picked_target: bool,
    job: LatestJob<Result<SwapResult, String>>,
    requested: Option<SwapKey>,
    pub result: Option<SwapResult>,
    pub error: Option<String>,
    pub thumbnails: CachedGrid,
    output: CachedGrid,
    /// The target's reconstruction against the swap, in one place.
    pub wipe: Wipe,
    opacity: f32,
}

impl SwapView {
    fn key(&self, state: &AppState) -> SwapKey {
        SwapKey {
            model_generation: state.model.generation,
            inputs: self.inputs,
            source_part: self.source_part,
            target_part: self.target_part,
            parts_off: self.parts_off.clone(),
        }
    }

    /// Puts an image in the slot it was meant for: the one under the pointer, else the first
    /// empty one, else the target.
    pub fn place(&mut self, image: DraggedImage, pointer: Option<egui::Pos2>) {
        self.auto_parts = true;
        place_in_pair(&mut self.source, &mut self.target, image, pointer);
        self.inputs += 1;
    }

    /// Starts a swap when something it depends on changed.
    pub fn update(&mut self, state: &mut AppState) {
        for image in state.take_sent(ImageDestination::SwapSource) {
            self.source.set(image);
            self.inputs += 1;
            self.auto_parts = true;
        }
        for image in state.take_sent(ImageDestination::SwapTarget) {
            self.target.set(image);
            self.inputs += 1;
            self.auto_parts = true;
        }
        if let Some(result) = self.job.poll() {
            match result {
                Ok(r) => {
                    self.error = None;
                    // New images bring their most present parts, except on a side whose
                    // part the person chose (a new target used to reset the source's).
                    // Only from a result of the images shown now: one still in flight from
                    // before a second image came picked the parts of the image replaced.
                    if self.auto_parts && r.key.inputs == self.inputs {
                        self.auto_parts = false;
                        if !self.picked_source {
                            self.source_part = r.source.code.parts_by_firing().first().copied().unwrap_or(0);
                        }
                        if !self.picked_target {
                            self.target_part = r.target.code.parts_by_firing().first().copied().unwrap_or(0);
                        }
                    }
                    self.result = Some(r);
                }
                Err(e) => self.error = Some(e),
            }
        }
        // A new user sees a swap at once: the first two images of the data.
        if self.source.image.is_none() && self.target.image.is_none() {
            if let (Some(a), Some(b)) = (DraggedImage::from_data(state, 0), DraggedImage::from_data(state, 1)) {
                self.place(a, None);
                self.place(b, None);
            }
        }
        let (Some(model), Some(source), Some(target)) = (state.model.current(), &self.source.image, &self.target.image) else { return };
        let key = self.key(state);
        if self.requested.as_ref() == Some(&key) {
            return;
        }
        self.requested = Some(key.clone());
        let analysed = self
            .result
            .as_ref()
            .filter(|r| r.key.model_generation == key.model_generation && r.key.inputs == key.inputs)
            .map(|r| (r.source.clone(), r.target.clone()));
        let (model, source, target) = (model.clone(), source.image.clone(), target.image.clone());
        self.job.request(move || compute_swap(&model, &source, &target, key, analysed));
    }

    /// A swap in flight, or one about to start: the parts picked differ from those of the
    /// result shown (new images just brought their most present parts).
    pub fn busy(&self) -> bool {
        let stale = self.result.as_ref().is_some_and(|r| (r.key.source_part, r.key.target_part, &r.key.parts_off) != (self.source_part, self.target_part, &self.parts_off));
        self.job.busy() || stale
    }

    /// Waits for the swap in flight (tests only).
    pub fn wait(&mut self, state: &mut AppState) {
        if let Some(outcome) = self.job.wait(std::time::Duration::from_secs(60)) {
            store(outcome, &mut self.result, &mut self.error);
        }
        self.update(state);
    }

    fn parts_ui(&mut self, ui: &mut egui::Ui, parts: usize) {
        let codes = self.result.as_ref().map(|r| (r.source.code.clone(), r.target.code.clone()));
        ui.horizontal(|ui| {
            ui.label("source part i:");
            let source = codes.as_ref().map(|(s, _)| s);
            if part_picker_ui(ui, "swap-source-part", &mut self.source_part, parts, source) {
                self.picked_source = true;
            }
            ui.label("into target part j:");
            let target = codes.as_ref().map(|(_, t)| t);
            if part_picker_ui(ui, "swap-target-part", &mut self.target_part, parts, target) {
                self.picked_target = true;
            }
            if ui.button("j = i").on_hover_text("swap the same part (the paper's Fig. 5)").clicked() {
                self.target_part = self.source_part;
                self.picked_target = true;
            }
            if ui.button("Exchange images").clicked() {
                let (source, target) = (self.source.image.take(), self.target.image.take());
                if let Some(t) = target {
                    self.source.set(t);
                }
                if let Some(s) = source {
                    self.target.set(s);
                }
                self.inputs += 1;
            }
        });
        ui.horizontal_wrapped(|ui| {
            ui.label("parts off in the target:").on_hover_text("switched-off parts have their occurrence map set to zero before decoding");
            for p in 0..parts {
                let mut off = self.parts_off.contains(&p);
                if ui.toggle_value(&mut off, format!("{p}")).on_hover_text(format!("switch part {p} off")).changed() {
                    if off {
                        self.parts_off.push(p);
                        self.parts_off.sort_unstable();
                    } else {
                        self.parts_off.retain(|&q| q != p);
                    }
                }
            }
            if !self.parts_off.is_empty() && ui.button("all on").clicked() {
                self.parts_off.clear();
            }
        });
    }

    fn result_ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        let Some(r) = &self.result else { return };
        let grid = r.target.code.grid;
        let cells = grid * grid;
        let (i, j) = (r.key.source_part, r.key.target_part);
        let opacity = self.opacity;
        let images = || {
            vec![
                overlay(&r.source.reconstruction, &r.source.probabilities[i * cells..(i + 1) * cells], grid, opacity),
                overlay(&r.target.reconstruction, &r.target.probabilities[j * cells..(j + 1) * cells], grid, opacity),
                r.source.reconstruction.clone(),
                r.target.reconstruction.clone(),
                r.swapped.clone(),
            ]
        };
        ui.label(format!(
            "source with part {i}'s occurrence map · target with part {j}'s map · source reconstruction · target reconstruction · target with part {j}'s appearance from source part {i}{}",
            if r.key.parts_off.is_empty() { String::new() } else { format!(", parts {:?} off", r.key.parts_off) }
        ));
        let key = (format!("swap-{:?}-{}", r.key, (opacity * 100.0) as u32), 0);
        // The grid, and beside it the target's reconstruction and the swap in one place.
        let width = (ui.available_width() - WIPE_SIDE - 16.0).clamp(200.0, 5.0 * 160.0);
        ui.horizontal_top(|ui| {
            self.output.ui(ui, key, images, 5, width);
            ui.vertical(|ui| self.wipe.ui(ui, (format!("swap-wipe-{:?}", r.key), 0), || [r.target.reconstruction.clone(), r.swapped.clone()], WIPE_SIDE, ["the target's reconstruction", "the swap"]));
        });
        if ui.button("Export PNG…").clicked() {
            state.export_png(images(), 5, "swap.png");
        }
    }
}

impl View for SwapView {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn name(&self) -> &'static str {
        "Swap"
    }

    fn on_dropped(&mut self, paths: &[std::path::PathBuf], pointer: Option<egui::Pos2>, state: &mut AppState) -> bool {
        let Some(images) = images_dropped_on("Swap", paths, state) else { return false };
        for image in images.into_iter().take(2) {
            self.place(image, pointer);
        }
        true
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        if self.opacity == 0.0 {
            self.opacity = 0.6;
        }
        self.update(state);
        if let Some(image) = thumbnail_strip_ui(ui, "swap-thumbnails", "Drag a thumbnail onto Source or Target (click: fills the next slot)", &mut self.thumbnails, state) {
            self.place(image, None);
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if state.model.current().is_none() {
                super::model_bar_ui(ui, state);
                return;
            }
            let Some(model) = super::model_offering_ui(ui, state, Capability::Parts, "Swap") else { return };
            let Some(parts) = model.parts() else { return };
            self.source_part = self.source_part.min(parts.saturating_sub(1));
            self.target_part = self.target_part.min(parts.saturating_sub(1));
            ui.horizontal(|ui| {
                let source_dropped = self.source.ui(ui, "Source", 112.0);
                let target_dropped = self.target.ui(ui, "Target", 112.0);
                if source_dropped || target_dropped {
                    self.inputs += 1;
                    self.auto_parts = true;
                }
                ui.vertical(|ui| {
                    ui.add(egui::Slider::new(&mut self.opacity, 0.05..=1.0).text("map opacity"));
                    if self.job.busy() {
                        ui.spinner();
                    } else if let Some(d) = self.job.last_duration {
                        ui.label(format!("last swap {:.1} ms", d.as_secs_f64() * 1e3));
                    }
                });
            });
            self.parts_ui(ui, parts);
            if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            ui.separator();
            self.result_ui(ui, state);
        });
        if self.busy() {
            ui.ctx().request_repaint();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pickers_list_the_parts_present_first_and_mark_the_absent_ones() {
        // Grid 2×2, three parts: part 2 fires everywhere, part 0 in a corner, part 1 nowhere
        // (it is weakly likely everywhere, as a dead part sits at the prior).
        let code = PartCode { parts: 3, part_dim: 1, grid: 2, occurrence: vec![1.0, 0.0, 0.0, 0.0, 0.06, 0.06, 0.06, 0.06, 1.0, 1.0, 1.0, 0.9], appearance: vec![0.0; 3] };
        let choices = part_choices(3, Some(&code));
        assert_eq!(choices.iter().map(|(p, _)| *p).collect::<Vec<_>>(), [2, 0, 1]);
        assert_eq!(choices[0].1, "2 — 100% of the image");
        assert_eq!(choices[1].1, "0 — 25% of the image");
        assert_eq!(choices[2].1, "1 — absent here");
        // Before the first analysis, plain numbers.
        assert_eq!(part_choices(2, None), [(0, "0".to_string()), (1, "1".to_string())]);
    }
}
