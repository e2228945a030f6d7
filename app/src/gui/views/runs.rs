//! Runs & checkpoints: open a checkpoint for the explorer (Ctrl+O), resume training from
//! one or train a new run from its weights, save the current run elsewhere, the recent
//! runs, and the loss curves of two runs side by side.

use std::path::{Path, PathBuf};

use egui_plot::{Legend, Line, Plot, PlotPoints};
use patchwork_core::checkpoint::{CONFIG_FILE, read_meta};
use patchwork_core::train::snapshots::snapshots_dir;
use patchwork_core::train::{METRICS_FILE, RunSpec, RunStart, SnapshotHistory, StepMetrics, load_snapshots, spawn};

use super::svg_plot::{SvgSeries, svg_plot};
use crate::gui::session::TrainingSession;
use crate::gui::snapshot_scrubber::{SnapshotScrubber, snapshot_picture};
use crate::gui::state::StartWeights;
use crate::gui::{AppState, View};

/// A run's metric history, from its `metrics.jsonl` or its checkpoint's training state.
pub fn load_run_metrics(path: &Path) -> Result<Vec<StepMetrics>, String> {
    let jsonl = [path.join(METRICS_FILE), path.parent().map(|p| p.join(METRICS_FILE)).unwrap_or_default()];
    if let Some(file) = jsonl.iter().find(|p| p.is_file()) {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            out.push(serde_json::from_str(line).map_err(|e| format!("{} line {}: {e}", file.display(), i + 1))?);
        }
        return Ok(out);
    }
    let checkpoint = checkpoint_dir(path).ok_or_else(|| format!("{}: neither metrics.jsonl nor a checkpoint", path.display()))?;
    read_meta(&checkpoint).map(|m| m.state.history).map_err(|e| format!("{e:#}"))
}

/// The checkpoint of a run folder (its `checkpoint/`) or the folder itself.
pub fn checkpoint_dir(path: &Path) -> Option<PathBuf> {
    let dir = patchwork_core::checkpoint::checkpoint_folder(path);
    dir.join(CONFIG_FILE).is_file().then_some(dir)
}

/// Metrics as CSV: one row per step, one column per named value (losses, schedules,
/// hyperparameters, measures).
pub fn metrics_csv(history: &[StepMetrics]) -> String {
    let names = super::metric_names(history.iter(), StepMetrics::all);
    let mut out = format!("step,epoch,{},lr,images_per_sec,elapsed\n", names.join(","));
    for m in history {
        let terms: Vec<String> = names.iter().map(|n| m.term(n).map_or(String::new(), |v| v.to_string())).collect();
        out.push_str(&format!("{},{},{},{},{},{}\n", m.step, m.epoch, terms.join(","), m.lr, m.images_per_sec, m.elapsed));
    }
    out
}

/// Starts training again from a checkpoint, in its run folder when it has one.
pub fn resume_training(state: &mut AppState, checkpoint: &Path) {
    let meta = match read_meta(checkpoint) {
        Ok(m) => m,
        Err(e) => {
            state.message = Some(format!("cannot resume: {e:#}"));
            return;
        }
    };
    let device = match patchwork_core::device::resolve(state.settings.device) {
        Ok(d) => d.with_training_threads(crate::gui::training_threads()),
        Err(e) => {
            state.message = Some(format!("cannot resume on {}: {e}", state.settings.device));
            return;
        }
    };
    let run_dir = match checkpoint.file_name().and_then(|n| n.to_str()) {
        Some("checkpoint") => checkpoint.parent().map(Path::to_path_buf),
        _ => None,
    }
    // A new folder each time: resuming the same checkpoint again starts another run.
    .unwrap_or_else(|| state.new_run_dir(&format!("resumed-{}-step{}", meta.config.model.kind(), meta.state.step)));
    let description = device.description.clone();
    // One more epoch than the checkpoint reached, unless its run was not finished.
    let mut config = meta.config.clone();
    config.epochs = config.epochs.max(meta.state.epoch + 1);
    let handle = spawn(RunSpec { config, device, run_dir: Some(run_dir.clone()), start: RunStart::Resume(checkpoint.to_path_buf()), source: None, faults: vec![] });
    state.remember_recent(run_dir.clone());
    state.session = Some(TrainingSession::new(handle, Some(run_dir), description));
    state.model.set_follow_training(true);
    state.message = Some(format!("resumed {} at step {}", checkpoint.display(), meta.state.step));
}

/// Sets the Train tab up for a new run from a checkpoint's weights: its settings in the
/// form, its data open. Starting it is left to the person, who may change the learning
/// rate, epochs or batch first.
pub fn train_from_weights(state: &mut AppState, checkpoint: &Path) {
    let meta = match read_meta(checkpoint) {
        Ok(m) => m,
        Err(e) => {
            state.message = Some(format!("cannot train from these weights: {e:#}"));
            return;
        }
    };
    let config = meta.config.for_run_from_its_weights();
    // The form's image size opens the data at the checkpoint's.
    state.settings.form.show_settings_of(&config);
    if state.data.spec != config.data {
        state.open_spec(&config.data);
    }
    state.start_weights = Some(StartWeights { dir: checkpoint.to_path_buf(), step: meta.state.step, config });
    state.go_to = Some("Train");
    state.message = None;
}

/// Renames a run's folder within its parent and updates the recent list; refuses an empty
/// name, one with a path separator, or one taken.
pub fn rename_run(state: &mut AppState, from: &Path, name: &str) -> Result<PathBuf, String> {
    let name = name.trim();
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\']) {
        return Err(format!("'{name}' is not a folder name"));
    }
    let to = from.parent().map_or_else(|| PathBuf::from(name), |p| p.join(name));
    if to == from {
        return Ok(to);
    }
    if to.exists() {
        return Err(format!("{} exists already", to.display()));
    }
    std::fs::rename(from, &to).map_err(|e| format!("{}: {e}", from.display()))?;
    for recent in &mut state.settings.recent_runs {
        if recent == from {
            *recent = to.clone();
        }
    }
    Ok(to)
}

/// A run chosen for comparison: its path and its metrics, or why they could not be read.
pub type ComparedRun = (PathBuf, Result<Vec<StepMetrics>, String>);

#[derive(Default)]
pub struct RunsView {
    /// The two runs compared, with their metrics (or why they could not be read).
    pub compared: [Option<ComparedRun>; 2],
    pub term: String,
    pub log_scale: bool,
    /// Weight of the moving average on the past (0: per-step values).
    pub smoothing: f64,
    /// The run being renamed and the name typed so far.
    pub renaming: Option<(PathBuf, String)>,
    /// The run whose snapshots are scrubbed, with them.
    pub scrubbed: Option<ScrubbedRun>,
    pub scrubber: SnapshotScrubber,
}

/// A run opened to scrub through the snapshots it kept in its folder.
pub struct ScrubbedRun {
    pub path: PathBuf,
    pub history: SnapshotHistory,
    /// Snapshot folders that could not be read, with why.
    pub skipped: Vec<(PathBuf, String)>,
}

impl RunsView {
    pub fn compare(&mut self, slot: usize, path: PathBuf) {
        let metrics = load_run_metrics(&path);
        if let Some(c) = self.compared.get_mut(slot) {
            *c = Some((path, metrics));
        }
    }

    /// Opens the snapshots `path` (a run folder or its checkpoint) kept, for the slider.
    pub fn scrub(&mut self, path: &Path) {
        let loaded = load_snapshots(path);
        self.scrubbed = Some(ScrubbedRun { path: path.to_path_buf(), history: SnapshotHistory::of(loaded.snapshots), skipped: loaded.skipped });
        self.scrubber = SnapshotScrubber::default();
    }

    fn actions_ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        ui.horizontal_wrapped(|ui| {
            let active = state.session.as_ref().is_some_and(|s| s.is_active());
            if ui.add_enabled(active, egui::Button::new("Save run now")).on_hover_text("Ctrl+S: to the run's checkpoint folder").clicked() {
                if let Some(s) = &state.session {
                    s.save_now();
                }
            }
            if ui.add_enabled(active, egui::Button::new("Save run as…")).clicked() {
                state.pick_save_folder();
            }
            let history = state.session.as_ref().map(|s| s.history.clone()).unwrap_or_default();
            if ui.add_enabled(!history.is_empty(), egui::Button::new("Export metrics CSV…")).clicked() {
                state.export_text(metrics_csv(&history), "metrics.csv", ("CSV", "csv"));
            }
        });
    }

    fn recent_ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        ui.heading("Recent runs and checkpoints");
        if state.settings.recent_runs.is_empty() {
            ui.label("None of yours yet: runs started in the Train tab and checkpoints you open appear here, above the shipped ones.");
        }
        let mut recent = state.settings.recent_runs.clone();
        // The shipped models are always there to compare with and train on.
        for (_, shipped) in crate::gui::model_slot::shipped_checkpoints() {
            if !recent.contains(&shipped) {
                recent.push(shipped);
            }
        }
        egui::Grid::new("recent-runs").striped(true).num_columns(7).show(ui, |ui| {
            for path in &recent {
                let checkpoint = checkpoint_dir(path);
                self.name_ui(ui, state, path);
                ui.add_enabled_ui(checkpoint.is_some(), |ui| {
                    if ui.button("Explore").on_hover_text("open its checkpoint in Parts, Swap and Traverse").on_disabled_hover_text("no checkpoint saved yet").clicked() {
                        if let Some(c) = &checkpoint {
                            state.open_checkpoint(c);
                        }
                    }
                });
                let training = state.session.as_ref().is_some_and(|s| s.is_active());
                ui.add_enabled_ui(checkpoint.is_some() && !training, |ui| {
                    if ui.button("Resume training").on_disabled_hover_text("needs a checkpoint, and no run in progress").clicked() {
                        if let Some(c) = &checkpoint {
                            resume_training(state, c);
                        }
                    }
                });
                ui.add_enabled_ui(checkpoint.is_some() && !training, |ui| {
                    if ui.button("Train on").on_hover_text("a new run from these weights (steps from 0, a fresh optimizer): its settings open in Train, to change before Start").on_disabled_hover_text("needs a checkpoint, and no run in progress").clicked() {
                        if let Some(c) = &checkpoint {
                            train_from_weights(state, c);
                        }
                    }
                });
                for (slot, name) in ["Compare as A", "Compare as B"].into_iter().enumerate() {
                    if ui.button(name).clicked() {
                        self.compare(slot, path.clone());
                    }
                }
                let has_snapshots = snapshots_dir(path).is_some();
                let snapshots = ui.add_enabled(has_snapshots, egui::Button::new("Snapshots"));
                if snapshots.on_hover_text("scrub through what the model did over the run: the inputs, reconstructions, samples and part maps it kept").on_disabled_hover_text("this run kept no snapshots (runs from before they were kept, and shipped models)").clicked() {
                    self.scrub(path);
                }
                ui.end_row();
            }
        });
    }

    /// A run's path, with Rename (runs of yours that are not training now); while renaming,
    /// a field for the new name (Enter renames, Escape leaves it).
    fn name_ui(&mut self, ui: &mut egui::Ui, state: &mut AppState, path: &Path) {
        if let Some((from, name)) = self.renaming.as_mut().filter(|(from, _)| from == path) {
            let field = ui.add(egui::TextEdit::singleline(name).desired_width(260.0));
            if !field.has_focus() && !field.lost_focus() {
                field.request_focus();
            }
            if field.lost_focus() {
                if ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    let (from, name) = (from.clone(), name.clone());
                    match rename_run(state, &from, &name) {
                        Ok(to) => state.message = Some(format!("renamed {} to {}", from.display(), to.display())),
                        Err(e) => state.message = Some(format!("not renamed: {e}")),
                    }
                }
                self.renaming = None;
            }
            return;
        }
        ui.horizontal(|ui| {
            ui.monospace(path.display().to_string());
            let training_it = state.session.as_ref().is_some_and(|s| s.is_active() && s.run_dir.as_deref() == Some(path));
            if !crate::gui::model_slot::is_shipped(path) && !training_it && ui.small_button("Rename").on_hover_text("give the run's folder another name").clicked() {
                let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                self.renaming = Some((path.to_path_buf(), name));
            }
        });
    }

    /// The snapshots of the run chosen with its Snapshots button: a step slider (with
    /// Play) over them, the grids of the one it points at, and Export grids PNG….
    fn snapshots_ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        let Some(run) = &self.scrubbed else { return };
        ui.horizontal(|ui| {
            ui.heading("Snapshots of");
            ui.monospace(run.path.display().to_string());
        });
        if !run.skipped.is_empty() {
            let why = run.skipped.iter().map(|(p, e)| format!("{}: {e}", p.display())).collect::<Vec<_>>().join("\n");
            ui.colored_label(ui.visuals().warn_fg_color, format!("{} snapshot(s) could not be read and are left out", run.skipped.len())).on_hover_text(why);
        }
        let mut close = false;
        match self.scrubber.slider_ui(ui, &run.history, run.history.last(), false) {
            Some(snap) => {
                ui.horizontal(|ui| {
                    if ui.button("Export grids PNG…").on_hover_text("the snapshot shown: inputs, reconstructions and the model's own grids").clicked() {
                        let (images, columns) = snapshot_picture(snap);
                        state.export_png(images, columns, &format!("snapshot-{}.png", snap.step));
                    }
                    close = ui.button("Close").clicked();
                });
                self.scrubber.grids_ui(ui, snap, "runs");
            }
            None => {
                ui.label("This run's folder holds no snapshots that could be read.");
                close = ui.button("Close").clicked();
            }
        }
        if close {
            self.scrubbed = None;
        }
        ui.separator();
    }

    fn compare_ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        ui.heading("Compare two runs");
        let mut names: Vec<String> = vec![];
        for (path, metrics) in self.compared.iter().flatten() {
            match metrics {
                Ok(m) => {
                    for n in super::metric_names(m.last().into_iter(), StepMetrics::all) {
                        if !names.contains(&n) {
                            names.push(n);
                        }
                    }
                }
                Err(e) => {
                    ui.colored_label(ui.visuals().error_fg_color, format!("{}: {e}", path.display()));
                }
            }
        }
        if names.is_empty() {
            ui.label("Choose two runs above (Compare as A / B).");
            return;
        }
        if !names.contains(&self.term) {
            self.term = names[0].clone();
        }
        ui.horizontal(|ui| {
            ui.label("term:");
            egui::ComboBox::from_id_salt("compare-term").selected_text(&self.term).show_ui(ui, |ui| {
                for n in &names {
                    ui.selectable_value(&mut self.term, n.clone(), n);
                }
            });
            ui.checkbox(&mut self.log_scale, "log scale");
            ui.add(egui::Slider::new(&mut self.smoothing, 0.0..=0.999).text("smoothing"));
        });
        let (term, log, smoothing) = (self.term.clone(), self.log_scale, self.smoothing);
        // Two fixed colours, so the plot and its SVG agree.
        let colours = [egui::Color32::from_rgb(31, 119, 180), egui::Color32::from_rgb(255, 127, 14)];
        let curves: Vec<SvgSeries> = ["A", "B"]
            .iter()
            .zip(&self.compared)
            .zip(colours)
            .filter_map(|((label, entry), colour)| {
                let Some((path, Ok(metrics))) = entry else { return None };
                let points: Vec<[f64; 2]> = metrics.iter().filter_map(|m| m.term(&term).map(|v| [m.step as f64, if log { v.max(1e-12).log10() } else { v }])).collect();
                let name = format!("{label}: {}", path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned()));
                Some(SvgSeries { name, colour, points: super::smooth(&points, smoothing), band: None })
            })
            .collect();
        let y_label = if log { format!("log10 {term}") } else { term.clone() };
        Plot::new("compare").height(300.0).legend(Legend::default()).x_axis_label("step").show(ui, |plot| {
            for curve in &curves {
                plot.line(Line::new(curve.name.clone(), PlotPoints::from(curve.points.clone())).color(curve.colour));
            }
        });
        if ui.button("Export SVG…").on_hover_text("this comparison as a vector image").clicked() {
            state.export_text(svg_plot(&term, ("step", &|x, _| egui_plot::format_number(x, 5)), &y_label, &curves), "compare.svg", ("SVG", "svg"));
        }
    }
}

impl View for RunsView {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn name(&self) -> &'static str {
        "Runs"
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        super::model_bar_ui(ui, state);
        self.actions_ui(ui, state);
        ui.separator();
        egui::ScrollArea::vertical().show(ui, |ui| {
            self.recent_ui(ui, state);
            ui.separator();
            self.snapshots_ui(ui, state);
            self.compare_ui(ui, state);
        });
    }
}
