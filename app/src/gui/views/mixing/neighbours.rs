//! Neighbours (thesis Fig. 3.7): an image of the training pool and a quadrant → the
//! quadrant's nearest neighbours from the index the model was trained with, with their
//! distances (the same quadrant position in other images).

use patchwork_core::analysis::mixing::quadrant_crop;
use patchwork_core::data::HostImage;
use patchwork_core::mixing::Quadrant;
use patchwork_core::mixing::algorithm::Neighbour;

use super::{PoolSource, mixing_model_ui};
use crate::gui::images::CachedGrid;
use crate::gui::{AppState, View};

#[derive(Default)]
pub struct NeighboursView {
    pool: PoolSource,
    pub image: usize,
    pub quadrant: usize,
    /// Show only the quadrant instead of the whole image.
    crops: bool,
    pub shown: Vec<Neighbour>,
    output: CachedGrid,
}

impl View for NeighboursView {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn name(&self) -> &'static str {
        "Neighbours"
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        egui::CentralPanel::default().show(ui, |ui| {
            let Some(model) = mixing_model_ui(ui, state, "Neighbours") else { return };
            let Some(index) = model.neighbour_index().cloned() else {
                ui.label("This model has no neighbour index: the view shows the lists a model was trained with.");
                return;
            };
            let Some(pool) = self.pool.get(&index) else {
                match &self.pool.error {
                    Some(e) => ui.colored_label(ui.visuals().error_fg_color, e),
                    None => ui.spinner(),
                };
                ui.ctx().request_repaint();
                return;
            };
            let n = index.lists.len();
            ui.horizontal(|ui| {
                ui.label("pool image");
                ui.add(egui::DragValue::new(&mut self.image).range(0..=n.saturating_sub(1)));
                if ui.button("Random").clicked() {
                    self.image = rand::random_range(0..n.max(1));
                }
                ui.label("quadrant");
                for q in Quadrant::ALL {
                    ui.selectable_value(&mut self.quadrant, q.index(), format!("q{} {}", q.index() + 1, q.name()));
                }
                ui.checkbox(&mut self.crops, "quadrants only");
            });
            ui.label(format!("{} images in the pool ({}); {}; τ = {:.3}", n, index.header.data, index.header.feature, index.tau));
            self.image = self.image.min(n.saturating_sub(1));
            let Some(list) = index.lists.get(self.image).map(|l| l[self.quadrant].clone()) else { return };
            self.shown = list.clone();
            let (image, quadrant, crops) = (self.image, self.quadrant, self.crops);
            let images = || {
                let show = |i: usize| -> HostImage {
                    let img = pool.get(i).image;
                    if crops { quadrant_crop(&img, quadrant, 64) } else { img }
                };
                let mut v = vec![show(image)];
                v.extend(list.iter().map(|nb| show(nb.image)));
                v
            };
            ui.label(format!("image #{image}, {} — then its {} nearest, nearest first:", Quadrant::ALL[quadrant].name(), list.len()));
            let columns = list.len() + 1;
            let width = ui.available_width().min(columns as f32 * 96.0);
            self.output.ui(ui, (format!("neighbours-{image}-{quadrant}-{crops}"), state.model.generation), images, columns, width);
            ui.horizontal_wrapped(|ui| {
                for (k, nb) in list.iter().enumerate() {
                    ui.monospace(format!("{}: #{} d={:.3}", k + 1, nb.image, nb.distance));
                }
            });
        });
    }
}
