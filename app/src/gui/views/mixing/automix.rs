//! Auto-mix (thesis Fig. 4.2): a reference image of the training pool, the candidate
//! Algorithm 1 drew for each quadrant from its neighbour list with its distance against τ,
//! the collage of the chosen quadrants and the mix the decoder renders. Shuffle draws
//! another reference and other candidates.

use patchwork_core::analysis::explorable::ExplorableModel;
use patchwork_core::analysis::mixing::{AutoMix, auto_mix};
use patchwork_core::data::SharedSource;
use patchwork_core::mixing::Quadrant;
use patchwork_core::mixing::algorithm::{MixRule, mix_rules};
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
    let mut rng = patchwork_core::rng::SeededRng::seed_from_u64(draw.wrapping_mul(0x9e37_79b9));
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

/// How the distances table names a rule of Algorithm 1.
pub fn rule_label(rule: MixRule) -> &'static str {
    match rule {
        MixRule::Farthest => "farthest: always kept",
        MixRule::Nearest => "nearest: always replaced",
        MixRule::WithinTau => "≤ τ: replaced",
        MixRule::BeyondTau => "> τ: kept",
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
            ui.label(super::ORDER_NOTE);
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
            ui.label("Algorithm 1: the farthest candidate's quadrant is always kept, the nearest one's always replaced (even above τ), and the other two are replaced when their distance is at most τ.");
            egui::Grid::new("automix-distances").striped(true).show(ui, |ui| {
                ui.strong("quadrant");
                ui.strong("candidate");
                ui.strong("distance");
                ui.strong(format!("vs τ = {:.2}", r.tau));
                ui.strong("used");
                ui.end_row();
                let rules = mix_rules(r.candidates.map(|c| c.distance), r.tau);
                for q in Quadrant::ALL {
                    let c = r.candidates[q.index()];
                    ui.label(format!("q{} {}", q.index() + 1, q.name()));
                    ui.label(format!("#{}", c.image));
                    ui.monospace(format!("{:.3}", c.distance));
                    ui.label(rule_label(rules[q.index()]));
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

#[cfg(test)]
mod tests {
    use super::rule_label;
    use patchwork_core::mixing::algorithm::{mix_mask, mix_rules};

    #[test]
    fn each_quadrants_rule_agrees_with_the_mask_even_when_all_are_above_tau() {
        // Every distance above τ: the nearest is still replaced (it used to read "> τ"
        // beside "replaced").
        let distances = [5.0, 3.0, 9.0, 7.0];
        let mask = mix_mask(distances, 1.0);
        let rules = mix_rules(distances, 1.0).map(rule_label);
        assert_eq!(rules, ["> τ: kept", "nearest: always replaced", "farthest: always kept", "> τ: kept"]);
        for (q, rule) in rules.iter().enumerate() {
            assert_eq!(mask.0[q], rule.contains("replaced"), "quadrant {q}");
        }
        let rules = mix_rules(distances, 6.0).map(rule_label);
        assert_eq!(rules, ["≤ τ: replaced", "nearest: always replaced", "farthest: always kept", "> τ: kept"]);
        assert_eq!(mix_mask(distances, 6.0).0, [true, true, false, false]);
    }
}
