//! The explorer's tabs, one module each.

pub mod data;
pub mod mixing;
pub mod parts;
pub mod runs;
pub mod split;
pub mod svg_plot;
pub mod swap;
pub mod train;
pub mod traverse;
pub mod tsne;

use patchwork_core::analysis::explorable::ExplorableModel;
use patchwork_core::capabilities::Capability;
use patchwork_core::families::FamilyKind;

use super::{AppState, View};

/// The tabs in order. The app opens on Parts, so a new user sees the shipped model's parts.
pub fn all() -> Vec<Box<dyn View>> {
    vec![
        Box::new(data::DataView::default()),
        Box::new(train::TrainView::default()),
        Box::new(parts::PartsView::default()),
        Box::new(swap::SwapView::default()),
        Box::new(traverse::TraverseView::default()),
        Box::new(split::SplitView::default()),
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
        for (kind, dir) in super::model_slot::shipped_checkpoints() {
            if ui.button(format!("Shipped {kind}")).on_hover_text(dir.display().to_string()).clicked() {
                state.open_checkpoint(&dir);
            }
        }
    });
    if let Some(e) = &state.model.error {
        ui.colored_label(ui.visuals().error_fg_color, format!("Could not open {e}"));
    }
}

/// A view that needs `capability` switches between the shipped checkpoints by itself:
/// while the views show a shipped model without it (nothing the user chose), it opens a
/// shipped model that has it. A model the user opened or trains stays.
pub fn ensure_capability(state: &mut AppState, capability: Capability) {
    use patchwork_core::analysis::explorable::ModelOrigin;
    if state.model.is_loading() {
        return;
    }
    let Some(model) = state.model.current() else { return };
    if model.offers(capability) {
        return;
    }
    if let ModelOrigin::Checkpoint(dir) = &model.origin {
        if let (true, Some((_, own))) = (super::model_slot::is_shipped(dir), super::model_slot::shipped_offering(capability)) {
            state.model.open(&own, false);
        }
    }
}

/// The current model when it offers `capability`; otherwise a line saying which models
/// offer it, with a button for a shipped one, and `None`.
pub fn model_offering_ui(ui: &mut egui::Ui, state: &mut AppState, capability: Capability, view: &str) -> Option<ExplorableModel> {
    ensure_capability(state, capability);
    model_bar_ui(ui, state);
    match state.model.current() {
        Some(m) if m.offers(capability) => Some(m.clone()),
        current => {
            let families: Vec<String> = FamilyKind::offering(capability).iter().map(|k| k.to_string()).collect();
            let now = current.map_or(String::new(), |m| format!(" The current model is a {}.", m.kind()));
            ui.horizontal_wrapped(|ui| {
                ui.label(format!("{view} needs a model with {} ({}): train one (Train tab) or open one.{now}", capability.describe(), families.join(", ")));
                if let Some((kind, dir)) = super::model_slot::shipped_offering(capability) {
                    if ui.button(format!("Open the shipped {kind} model")).clicked() {
                        state.open_checkpoint(&dir);
                    }
                }
            });
            None
        }
    }
}

/// The names of one kind of metric (`field`: losses, schedules, …) over `history`, in the
/// order they first appear.
pub fn metric_names<'a, I: Iterator<Item = &'a (String, f64)>>(
    history: impl Iterator<Item = &'a patchwork_core::train::StepMetrics>,
    field: impl Fn(&'a patchwork_core::train::StepMetrics) -> I,
) -> Vec<String> {
    let mut names: Vec<String> = vec![];
    for m in history {
        for (n, _) in field(m) {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    names
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

/// The trailing minimum and maximum of `values` over `window` points, for the band drawn
/// under a smoothed curve (TensorBoard's raw-value envelope): (x, min, max) per point.
pub fn min_max_band(values: &[[f64; 2]], window: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let window = window.max(1);
    let mut out = (Vec::with_capacity(values.len()), Vec::with_capacity(values.len()), Vec::with_capacity(values.len()));
    for (i, &[x, _]) in values.iter().enumerate() {
        let recent = &values[i.saturating_sub(window - 1)..=i];
        out.0.push(x);
        out.1.push(recent.iter().map(|p| p[1]).fold(f64::INFINITY, f64::min));
        out.2.push(recent.iter().map(|p| p[1]).fold(f64::NEG_INFINITY, f64::max));
    }
    out
}

/// The number of points a smoothing factor `alpha` averages over, roughly: 1 / (1 − α).
pub fn smoothing_window(alpha: f64) -> usize {
    (1.0 / (1.0 - alpha.clamp(0.0, 0.999))).round().clamp(1.0, 1000.0) as usize
}

#[cfg(test)]
mod tests {
    use super::{min_max_band, smooth, smoothing_window};

    #[test]
    fn the_band_holds_the_raw_values_of_each_trailing_window() {
        let points: Vec<[f64; 2]> = [3.0, 1.0, 4.0, 1.0, 5.0].iter().enumerate().map(|(i, &y)| [i as f64, y]).collect();
        let (xs, lo, hi) = min_max_band(&points, 2);
        assert_eq!(xs, vec![0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(lo, vec![3.0, 1.0, 1.0, 1.0, 1.0]);
        assert_eq!(hi, vec![3.0, 3.0, 4.0, 4.0, 5.0]);
        assert_eq!(smoothing_window(0.0), 1);
        assert_eq!(smoothing_window(0.9), 10);
    }

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
