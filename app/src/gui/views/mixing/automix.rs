//! Auto-mix (thesis Fig. 4.2): a reference image of the training pool, the candidate
//! Algorithm 1 drew for each quadrant from its neighbour list with its distance against τ,
//! the collage of the chosen quadrants and the mix the decoder renders. Shuffle draws
//! another reference and other candidates.

use patchwork_core::analysis::explorable::ExplorableModel;
use patchwork_core::analysis::mixing::{AutoMix, auto_mix};
use patchwork_core::data::SharedSource;
use patchwork_core::mixing::Quadrant;
use rand::{Rng, SeedableRng};

use patchwork_core::capabilities::Capability;

use super::{PoolSource, mixing_model_ui};
use crate::gui::images::CachedGrid;
use crate::gui::jobs::{LatestJob, store};
use crate::gui::{AppState, View};

#[derive(Default)]
pub struct AutoMixView {
    pool: PoolSource,
    /// The shuffle count: reference and candidates are drawn from it.
    pub draw: u64,
    requested: Option<(u64, u64)>,
    job: LatestJob<Result<AutoMix, String>>,
    pub result: Option<AutoMix>,
    pub error: Option<String>,
    output: CachedGrid,
}

fn compute(model: &ExplorableModel, pool: &SharedSource, draw: u64) -> Result<AutoMix, String> {
    let index = model.neighbour_index().ok_or("this model has no neighbour index (it was not trained by Patchwork with Algorithm 1)")?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(draw.wrapping_mul(0x9e37_79b9));
    let reference = rng.random_range(0..pool.len().max(1));
    auto_mix(model, index, pool.as_ref(), reference, &mut rng)
}

impl AutoMixView {
    pub fn update(&mut self, state: &AppState) {
        if let Some(outcome) = self.job.poll() {
            store(outcome, &mut self.result, &mut self.error);
        }
        let Some(model) = state.model.current().filter(|m| m.offers(Capability::Chunks)) else { return };
        let Some(index) = model.neighbour_index() else {
            self.error = Some("this model has no neighbour index: Auto-mix needs the lists it was trained with".into());
            return;
        };
        let Some(pool) = self.pool.get(index) else { return };
        let key = (state.model.generation, self.draw);
        if self.requested == Some(key) {
            return;
        }
        self.requested = Some(key);
        let (model, draw) = (model.clone(), self.draw);
        self.job.request(move || compute(&model, &pool, draw));
    }

    /// Waits for the mix in flight (tests only).
    pub fn wait(&mut self, state: &AppState) {
        for _ in 0..600 {
            self.update(state);
            if self.job.busy() {
                if let Some(outcome) = self.job.wait(std::time::Duration::from_secs(60)) {
                    store(outcome, &mut self.result, &mut self.error);
                }
                return;
            }
            if self.result.is_some() || self.error.is_some() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl View for AutoMixView {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn name(&self) -> &'static str {
        "Auto-mix"
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        egui::CentralPanel::default().show(ui, |ui| {
            if mixing_model_ui(ui, state, "Auto-mix").is_none() {
                return;
            }
            self.update(state);
            ui.horizontal(|ui| {
                if ui.button("Shuffle").on_hover_text("another reference image and other candidates").clicked() {
                    self.draw += 1;
                }
                if self.job.busy() || self.pool.busy() {
                    ui.spinner();
                }
            });
            ui.small(super::ORDER_NOTE);
            if let Some(e) = self.error.as_ref().or(self.pool.error.as_ref()) {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            let Some(r) = &self.result else { return };
            ui.label(format!("I_ref (pool image #{}) · I_q1 … I_q4 · collage I_f_mix · rendered I_mix — mask {} ({} replaced)", r.reference, r.mask, r.mask.replaced()));
            let images = || {
                let mut v = vec![r.images.reference.clone()];
                v.extend(r.images.candidates.iter().cloned());
                v.extend([r.images.collage.clone(), r.images.mix.clone()]);
                v
            };
            let width = ui.available_width().min(7.0 * 128.0);
            self.output.ui(ui, (format!("automix-{}-{}", r.reference, r.mask), self.draw), images, 7, width);
            egui::Grid::new("automix-distances").striped(true).show(ui, |ui| {
                ui.strong("quadrant");
                ui.strong("candidate");
                ui.strong("distance");
                ui.strong(format!("vs τ = {:.2}", r.tau));
                ui.strong("used");
                ui.end_row();
                let greatest = (0..4).max_by(|&a, &b| r.candidates[a].distance.total_cmp(&r.candidates[b].distance)).unwrap_or(0);
                for q in Quadrant::ALL {
                    let c = r.candidates[q.index()];
                    ui.label(format!("q{} {}", q.index() + 1, q.name()));
                    ui.label(format!("#{}", c.image));
                    ui.monospace(format!("{:.3}", c.distance));
                    ui.label(if q.index() == greatest { "farthest: kept" } else if c.distance <= r.tau { "≤ τ" } else { "> τ" });
                    ui.label(if r.mask.0[q.index()] { "replaced" } else { "kept" });
                    ui.end_row();
                }
            });
            if ui.button("Export PNG…").clicked() {
                state.export_png(images(), 7, "automix.png");
            }
        });
        if self.job.busy() || self.pool.busy() {
            ui.ctx().request_repaint();
        }
    }
}
