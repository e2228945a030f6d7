//! A step slider over a run's past snapshots (TensorBoard's image slider,
//! tensorboard#469) with Play (wandb#4986), and the snapshot's grids: for the live run in
//! Train, and for a run opened from disk in Runs.

use patchwork_core::data::HostImage;
use patchwork_core::train::{Snapshot, SnapshotHistory};

use crate::gui::images::CachedGrid;

/// Seconds each snapshot stays on screen while playing.
const PLAY_INTERVAL: f64 = 0.3;

#[derive(Default)]
pub struct SnapshotScrubber {
    /// The past snapshot shown (an index into the history), or `None` for the latest.
    pub scrub: Option<usize>,
    /// Stepping through the history on its own (Play), and when it last stepped.
    pub playing: Option<f64>,
    inputs: CachedGrid,
    recons: CachedGrid,
    /// One per grid of the model's own in a snapshot.
    extras: Vec<CachedGrid>,
}

impl SnapshotScrubber {
    /// The slider (with Play and Latest) and the snapshot it points at: a past one, or
    /// `latest` (the live run's newest, or a finished run's last). `live`: the history
    /// still grows, so "Latest" follows it.
    pub fn slider_ui<'s>(&mut self, ui: &mut egui::Ui, history: &'s SnapshotHistory, latest: Option<&'s Snapshot>, live: bool) -> Option<&'s Snapshot> {
        if history.len() < 2 {
            self.scrub = None;
            return latest;
        }
        let last = history.len() - 1;
        if let Some(since) = self.playing {
            let now = ui.input(|i| i.time);
            if now - since >= PLAY_INTERVAL {
                let next = self.scrub.map_or(0, |i| i + 1);
                // Played to the end: back to the latest.
                (self.scrub, self.playing) = if next >= last { (None, None) } else { (Some(next), Some(now)) };
            }
            ui.ctx().request_repaint_after(std::time::Duration::from_secs_f64(PLAY_INTERVAL));
        }
        ui.horizontal(|ui| {
            // Long enough to pick one of the kept snapshots (64 at most) with the mouse.
            ui.spacing_mut().slider_width = (ui.available_width() * 0.45).clamp(160.0, 480.0);
            let mut index = self.scrub.unwrap_or(last).min(last);
            let step = history.get(index).map_or(0, |s| s.step);
            let slider = egui::Slider::new(&mut index, 0..=last).show_value(false).text(format!("snapshot at step {step}"));
            if ui.add(slider).on_hover_text(format!("{} snapshots of this run kept, spread over it; drag back to see what the model did then", history.len())).changed() {
                self.scrub = (index < last).then_some(index);
                self.playing = None;
            }
            let play = if self.playing.is_some() { "Pause playback" } else { "Play" };
            if ui.button(play).on_hover_text("step through the kept snapshots from the first").clicked() {
                self.playing = match self.playing {
                    Some(_) => None,
                    None => {
                        self.scrub = Some(0);
                        Some(ui.input(|i| i.time))
                    }
                };
            }
            let latest_hint = if live { "follow the run again" } else { "the run's last snapshot" };
            if self.scrub.is_some() && ui.button("Latest").on_hover_text(latest_hint).clicked() {
                (self.scrub, self.playing) = (None, None);
            }
        });
        match self.scrub {
            Some(i) => history.get(i),
            None => latest,
        }
    }

    /// The snapshot's grids: inputs, their reconstructions, then the model's own grids
    /// (samples, mixes, part maps), each under its name, `width` points wide at most.
    pub fn grids_ui(&mut self, ui: &mut egui::Ui, snap: &Snapshot, id: &str) {
        ui.label(format!("step {}: inputs, and below them their reconstructions", snap.step));
        let width = ui.available_width().min(640.0);
        let key = |name: &str| (format!("{id}-{name}-{}", snap.step), snap.step);
        self.inputs.ui(ui, key("inputs"), || snap.inputs.clone(), 8, width);
        self.recons.ui(ui, key("recons"), || snap.reconstructions.clone(), 8, width);
        self.extras.resize_with(snap.extras.len(), CachedGrid::default);
        for ((name, images), grid) in snap.extras.iter().zip(&mut self.extras).filter(|((_, images), _)| !images.is_empty()) {
            ui.label(if name == "samples" { "samples from the prior" } else { name.as_str() });
            grid.ui(ui, key(name), || images.clone(), 8, width);
        }
    }
}

/// A snapshot as one picture: its images and the grid's columns, each grid starting a row
/// of its own (for Export grids PNG…).
pub fn snapshot_picture(snap: &Snapshot) -> (Vec<HostImage>, usize) {
    let columns = snap.inputs.len().max(1);
    let mut images = snap.inputs.clone();
    images.extend(snap.reconstructions.iter().cloned());
    for (_, grid) in &snap.extras {
        images.extend(grid.iter().cloned());
        let short = (columns - grid.len() % columns) % columns;
        if let Some(first) = grid.first() {
            let blank = HostImage::new(first.width, first.height, 1, vec![0; first.width * first.height]);
            images.extend(std::iter::repeat_n(blank, short));
        }
    }
    (images, columns)
}
