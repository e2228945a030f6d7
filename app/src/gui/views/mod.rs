//! The explorer's tabs, one module each.

pub mod data;
pub mod mixing;
pub mod parts;
pub mod runs;
pub mod swap;
pub mod train;
pub mod traverse;

use super::{AppState, View};

/// The tabs in order. The app opens on Parts, so a new user sees the shipped model's parts.
pub fn all() -> Vec<Box<dyn View>> {
    vec![
        Box::new(data::DataView::default()),
        Box::new(train::TrainView::default()),
        Box::new(parts::PartsView::default()),
        Box::new(swap::SwapView::default()),
        Box::new(traverse::TraverseView::default()),
        Box::new(mixing::transfer::TransferView::default()),
        Box::new(mixing::automix::AutoMixView::default()),
        Box::new(mixing::neighbours::NeighboursView::default()),
        Box::new(runs::RunsView::default()),
    ]
}

/// The tab a first launch opens on.
pub const FIRST_TAB: usize = 2;

/// Which model the view looks into, with the switch between live weights and checkpoint.
pub fn model_bar_ui(ui: &mut egui::Ui, state: &mut AppState) {
    ui.horizontal_wrapped(|ui| {
        ui.label("Model:");
        ui.monospace(state.model.describe());
        if state.model.is_loading() {
            ui.spinner();
        }
        if state.model.live.is_some() {
            let mut follow = state.model.follow_training;
            if ui.checkbox(&mut follow, "live training weights").on_hover_text("follow the run in progress (updated with every snapshot, at least once a second)").changed() {
                state.model.set_follow_training(follow);
            }
        }
        if ui.button("Open checkpoint…").on_hover_text("Ctrl+O").clicked() {
            state.pick_checkpoint();
        }
        if ui.button("Shipped PatchVAE").on_hover_text("checkpoints/patchvae-fashion-mnist").clicked() {
            state.open_checkpoint(&super::model_slot::shipped_checkpoint("patchvae"));
        }
        if ui.button("Shipped mixing scenes").on_hover_text("checkpoints/mixing-scenes-small").clicked() {
            state.open_checkpoint(&super::model_slot::shipped_checkpoint("mixing-scenes"));
        }
    });
    if let Some(e) = &state.model.error {
        ui.colored_label(ui.visuals().error_fg_color, format!("Could not open {e}"));
    }
}

/// A view made for one family (`kind`) switches between the shipped checkpoints by itself:
/// while the views show a shipped model of another family (nothing the user chose), it
/// opens the shipped model of its own. A model the user opened or trains stays.
pub fn ensure_family(state: &mut AppState, kind: &str) {
    use patchwork_core::analysis::explorable::ModelOrigin;
    if state.model.is_loading() {
        return;
    }
    let Some(model) = state.model.current() else { return };
    if model.kind() == kind {
        return;
    }
    let shipped = |dir: &std::path::Path| super::model_slot::SHIPPED.iter().any(|(_, name)| dir.ends_with(name));
    if let ModelOrigin::Checkpoint(dir) = &model.origin {
        let own = super::model_slot::shipped_checkpoint(kind);
        if shipped(dir) && own.is_dir() {
            state.model.open(&own, false);
        }
    }
}

/// A curve smoothed as TensorBoard does: an exponential moving average with weight `alpha`
/// on the past (0 = the raw values), debiased so its start follows the first values
/// instead of the very first one alone.
pub fn smooth(values: &[[f64; 2]], alpha: f64) -> Vec<[f64; 2]> {
    let mut average = 0.0;
    let mut weight_of_past = 1.0;
    values
        .iter()
        .map(|&[x, y]| {
            average = alpha * average + (1.0 - alpha) * y;
            weight_of_past *= alpha;
            let debiased = if weight_of_past < 1.0 { average / (1.0 - weight_of_past) } else { y };
            [x, debiased]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::smooth;

    #[test]
    fn smoothing_keeps_constants_and_follows_the_start() {
        let flat: Vec<[f64; 2]> = (0..50).map(|i| [i as f64, 3.0]).collect();
        assert!(smooth(&flat, 0.99).iter().all(|p| (p[1] - 3.0).abs() < 1e-9));
        assert_eq!(smooth(&flat, 0.0), flat);
        // A first outlier fades instead of holding the start of a heavily smoothed curve.
        let mut spiked = flat.clone();
        spiked[0][1] = 100.0;
        assert!(smooth(&spiked, 0.99)[49][1] < 3.0 + 97.0 / 50.0 + 0.5, "{:?}", smooth(&spiked, 0.99)[49]);
    }
}
