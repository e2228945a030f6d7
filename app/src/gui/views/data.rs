//! Data: choose a dataset, open a folder, drop files; a thumbnail grid with counts.

use patchwork_core::data::dsprites::FACTOR_NAMES;
use patchwork_core::data::embedded::EmbeddedSet;
use patchwork_core::data::spec::DataSpec;
use patchwork_core::data::pools::{PoolIndices, is_two_pool};
use patchwork_core::data::{HostImage, SharedSource};

use crate::gui::image_drop::{DraggedImage, ImageDestination, cell_at, data_grid_response};
use crate::gui::images::CachedGrid;
use crate::gui::{AppState, View};

const SHOWN: usize = 256;

#[derive(Default)]
pub struct DataView {
    pub grid: CachedGrid,
    /// The two pools of a two-pool source, side by side.
    pub pool_grids: [CachedGrid; 2],
    /// The pools of the open data, read once per data generation (not every frame).
    pools: Option<(u64, PoolIndices)>,
    /// The thumbnail whose menu is open.
    menu_for: Option<usize>,
}

impl View for DataView {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn name(&self) -> &'static str {
        "Data"
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        ui.horizontal(|ui| {
            ui.label("Dataset:");
            for set in EmbeddedSet::ALL {
                let selected = state.data.spec == set.name();
                if ui.selectable_label(selected, set.name()).on_hover_text("embedded: 10,000 training images").clicked() {
                    state.open_spec(set.name());
                }
            }
            let dsprites_by = match state.data.spec.parse::<DataSpec>() {
                Ok(DataSpec::DSprites(factor)) => Some(factor),
                _ => None,
            };
            if ui.selectable_label(dsprites_by.is_some(), "dsprites-like").on_hover_text("procedural: 3 shapes × 6 scales × 40 orientations × 32 × 32 positions").clicked() {
                state.open_spec("dsprites");
            }
            if let Some(factor) = dsprites_by {
                // Which factor the classes are: the one a class/style model learns as s.
                let mut chosen = factor;
                egui::ComboBox::from_id_salt("dsprites-classes")
                    .selected_text(format!("classes: {}", FACTOR_NAMES.get(factor).copied().unwrap_or("shape")))
                    .show_ui(ui, |ui| {
                        for (k, name) in FACTOR_NAMES.iter().enumerate() {
                            ui.selectable_value(&mut chosen, k, *name);
                        }
                    })
                    .response
                    .on_hover_text("the factor whose values are the images' classes (the specified factor of the cycle-consistent VAE's pairs)");
                if chosen != factor {
                    state.open_spec(&DataSpec::DSprites(chosen).to_string());
                }
            }
            if ui.selectable_label(state.data.spec == "scenes", "quadrant scenes").on_hover_text("procedural 64×64 colour scenes, at most one Fashion-MNIST object per quadrant, over CC0 photos (for mixing scenes)").clicked() {
                state.open_spec("scenes");
            }
            if ui.selectable_label(state.data.spec == "reference-style", "reference-style MNIST").on_hover_text("two pools for the reference-based VAE: 5,000 plain outlines of digits (reference) and 10,000 in random width, colour and scale (unlabelled), 64×64, made from the embedded MNIST").clicked() {
                state.open_spec("reference-style");
            }
            if ui.button("Open folder…").clicked() {
                state.request_path(crate::gui::dialogs::PathPurpose::OpenDataFolder);
            }
            if ui.button("Two pools…").on_hover_text("two image folders as the reference and unlabelled pools of the reference-based VAE (you are asked for the reference folder, then the unlabelled one)").clicked() {
                state.request_path(crate::gui::dialogs::PathPurpose::OpenReferencePool);
            }
            ui.label("or drop image files / folders on the window");
        });
        if let Some(err) = &state.data.error {
            ui.colored_label(ui.visuals().error_fg_color, format!("Could not open: {err}"));
        }
        if state.data.loading.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("decoding images…");
            });
        }
        let Some(source) = state.data.source.clone() else { return };
        let info = source.info();
        ui.separator();
        ui.horizontal(|ui| {
            ui.strong(&info.name);
            ui.label(format!("{} images", source.len()));
            if let Some((h, w)) = info.size {
                ui.label(format!("{w}×{h}, {} channel(s)", info.channels));
            }
            if !info.class_names.is_empty() {
                ui.label(format!("{} classes", info.class_names.len()));
            }
        });
        if !info.class_names.is_empty() {
            ui.label(egui::RichText::new(info.class_names.join(", ")).small());
        }
        if !info.skipped.is_empty() {
            egui::CollapsingHeader::new(format!("{} unreadable file(s) skipped", info.skipped.len())).show(ui, |ui| {
                for (path, reason) in info.skipped.iter().take(50) {
                    ui.label(format!("{}: {reason}", path.display()));
                }
            });
        }
        if is_two_pool(info) {
            self.pools_ui(ui, state, &source);
            return;
        }
        let n = source.len().min(SHOWN);
        egui::ScrollArea::vertical().show(ui, |ui| {
            let width = ui.available_width().min(1100.0);
            if let Some((_, response)) = data_grid_response(ui, &mut self.grid, state, n, 16, width) {
                if response.secondary_clicked() {
                    self.menu_for = response.interact_pointer_pos().and_then(|p| cell_at(response.rect, p, 16, n));
                }
                let menu_for = self.menu_for;
                response.on_hover_text("right-click a thumbnail to use it in Swap or Traverse").context_menu(|ui| {
                    let Some(i) = menu_for else { return };
                    ui.label(format!("image #{i}"));
                    for to in ImageDestination::ALL {
                        if ui.button(to.label()).clicked() {
                            if let Some(image) = DraggedImage::from_data(state, i) {
                                state.send_image(to, image);
                            }
                            ui.close();
                        }
                    }
                });
            }
            if source.len() > SHOWN {
                ui.label(format!("showing the first {SHOWN} of {}", source.len()));
            }
        });
    }
}

/// Images of each pool shown side by side.
const POOL_SHOWN: usize = 64;
const POOL_COLUMNS: usize = 8;

impl DataView {
    /// A two-pool source (reference-based training): the unlabelled and the reference pool
    /// side by side with their counts; hovering a thumbnail shows its ground-truth factors.
    fn pools_ui(&mut self, ui: &mut egui::Ui, state: &AppState, source: &SharedSource) {
        if self.pools.as_ref().is_none_or(|(generation, _)| *generation != state.data.generation) {
            self.pools = Some((state.data.generation, PoolIndices::of(source.as_ref())));
        }
        let Some((_, pools)) = &self.pools else { return };
        let width = ((ui.available_width() - 24.0) / 2.0).min(540.0);
        ui.columns(2, |columns| {
            for (side, (ui, (title, indices))) in columns.iter_mut().zip([("unlabelled pool", &pools.unlabelled), ("reference pool", &pools.reference)]).enumerate() {
                ui.strong(format!("{title}: {} images", indices.len()));
                let shown: Vec<usize> = indices.iter().copied().take(POOL_SHOWN).collect();
                let key = (format!("pool-{side}"), state.data.generation);
                let images = || shown.iter().map(|&i| source.get(i).image).collect::<Vec<HostImage>>();
                let Some(response) = self.pool_grids[side].ui(ui, key, images, POOL_COLUMNS, width) else { continue };
                let hovered = response.hover_pos().and_then(|p| crate::gui::image_drop::cell_at(response.rect, p, POOL_COLUMNS, shown.len()));
                if let Some(&index) = hovered.and_then(|cell| shown.get(cell)) {
                    response.on_hover_text(factors_text(source, index));
                }
            }
        });
    }
}

/// An image's number and ground-truth factors, as "#12: width 7, red 0.21, …".
fn factors_text(source: &SharedSource, index: usize) -> String {
    let sample = source.get(index);
    let names = &source.info().factor_names;
    let values: Vec<String> = names.iter().zip(&sample.factors).map(|(n, v)| if v.fract() == 0.0 { format!("{n} {v:.0}") } else { format!("{n} {v:.2}") }).collect();
    if values.is_empty() { format!("#{index}") } else { format!("#{index}: {}", values.join(", ")) }
}
