//! Train: model form, device, start / pause / resume / stop / save, live curves and
//! the live reconstruction grid.

use egui_plot::{Legend, Line, Plot, PlotPoints};
use patchwork_core::families::{FamilyKind, Kind, Role, Setting, Value};
use patchwork_core::train::{RunSpec, RunStart, StepMetrics, TrainCommand, TrainConfig, spawn};

use super::svg_plot::{SvgSeries, svg_plot};
use crate::gui::snapshot_scrubber::{SnapshotScrubber, snapshot_picture};
use crate::gui::session::{RunStatus, TrainingSession};
use crate::gui::state::ScheduleChoice;
use crate::gui::{AppState, View};

#[derive(Default)]
pub struct TrainView {
    /// The step slider over the run's snapshots, and their grids.
    pub snapshots: SnapshotScrubber,
    log_scale: bool,
    smoothing: f64,
    /// What the plots' x axis counts.
    pub x_axis: XAxis,
    /// A log scale on x as well (early steps, where most of the change is).
    pub log_x: bool,
}

/// The x axis of the Train view's plots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XAxis {
    #[default]
    Step,
    /// Minutes of training since the run started (its `elapsed`).
    Minutes,
    /// The clock time each step ended (TensorBoard's "wall"): pauses and restarts show as
    /// gaps. Never on a log scale.
    WallClock,
}

impl XAxis {
    pub fn label(self, log: bool) -> &'static str {
        match (self, log) {
            (XAxis::Step, false) => "step",
            (XAxis::Step, true) => "log10 step",
            (XAxis::Minutes, false) => "minutes of training",
            (XAxis::Minutes, true) => "log10 minutes of training",
            (XAxis::WallClock, _) => "time of day (local)",
        }
    }

    /// Where a step's metrics sit on this axis; `None` where a log axis has no place for
    /// it (zero) or the step has no clock time (files from before it was kept).
    pub fn of(self, m: &StepMetrics, log: bool) -> Option<f64> {
        let x = match self {
            XAxis::Step => m.step as f64,
            XAxis::Minutes => m.elapsed / 60.0,
            XAxis::WallClock => return m.wall_time,
        };
        if log { (x > 0.0).then(|| x.log10()) } else { Some(x) }
    }

    /// A value of this axis as its tick says it: clock times as the local hour and minute
    /// (with seconds where the plot is zoomed in), anything else as a number.
    pub fn tick(self, x: f64, span: f64) -> String {
        match self {
            XAxis::WallClock => {
                let format = if span < 180.0 { "%H:%M:%S" } else { "%H:%M" };
                chrono::DateTime::from_timestamp(x.floor() as i64, 0).map_or_else(String::new, |t| t.with_timezone(&chrono::Local).format(format).to_string())
            }
            _ => egui_plot::format_number(x, 5),
        }
    }

    /// `plot` with this axis' label, and on the wall-clock axis its ticks as clock times
    /// (the others keep the plot's own number ticks).
    fn on_plot<'a>(self, plot: Plot<'a>, log: bool) -> Plot<'a> {
        let plot = plot.x_axis_label(self.label(log));
        match self {
            XAxis::WallClock => plot.x_axis_formatter(move |mark, range| self.tick(mark.value, range.end() - range.start())),
            _ => plot,
        }
    }
}

/// Builds the run the form describes: a new network from the form, or, when the run
/// starts from a checkpoint's weights, that checkpoint's network; either way the form sets
/// the objective and the run (learning rate, epochs, batch, seed) on the open data.
pub fn form_config(state: &AppState) -> TrainConfig {
    let f = &state.settings.form;
    let form_model = f.config();
    let defaults = f.model.default_config(1);
    let mut model = match &state.start_weights {
        Some(weights) => weights.config.model.clone(),
        None => form_model.clone(),
    };
    for setting in model.settings() {
        let from_form = match setting.role {
            // The weights' network is theirs; the data decides the channels.
            Role::Network => state.start_weights.is_none() && setting.in_form,
            Role::Objective | Role::Live { .. } => true,
        };
        // A setting greyed out for want of the one it needs is not applied.
        let value = if form_model.applies(setting) { form_model.get(setting.name) } else { defaults.get(setting.name) };
        if let (true, Some(value)) = (from_form, value) {
            // A value of the form's own table: its kinds match.
            let _ = model.set(setting.name, value);
        }
    }
    if state.start_weights.is_none() {
        let channels = state.data.source.as_ref().map_or(1, |s| s.info().channels);
        // Families whose table has no channels setting fix their own.
        let _ = model.set("channels", Value::Count(channels as u64));
    }
    let mut c = match &state.start_weights {
        Some(weights) => TrainConfig { model, ..weights.config.clone() },
        None => TrainConfig::fresh(model, state.data.spec.clone()),
    };
    c.data = state.data.spec.clone();
    c.lr = f.lr;
    c.lr_schedule = f.schedule();
    c.epochs = f.epochs;
    c.batch_size = f.batch_size;
    c.seed = f.seed;
    c
}

/// One row of the model's settings: its label with the help, and the widget its kind
/// takes. Returns the new value when the person changed it.
fn setting_ui(ui: &mut egui::Ui, setting: &Setting, value: Value) -> Option<Value> {
    let mut changed = None;
    match (setting.kind, value) {
        (Kind::Switch, Value::Switch(mut on)) => {
            if ui.add(egui::Checkbox::without_text(&mut on)).changed() {
                changed = Some(Value::Switch(on));
            }
        }
        (Kind::Count { min, max }, Value::Count(mut n)) => {
            if ui.add(egui::DragValue::new(&mut n).range(min..=max)).changed() {
                changed = Some(Value::Count(n));
            }
        }
        (Kind::Number { min, max, speed }, Value::Number(mut x)) => {
            if ui.add(egui::DragValue::new(&mut x).range(min..=max).speed(speed).max_decimals(6)).changed() {
                changed = Some(Value::Number(x));
            }
        }
        (Kind::Choice(names), Value::Choice(current)) => {
            egui::ComboBox::from_id_salt(setting.name).selected_text(current).show_ui(ui, |ui| {
                for &name in names {
                    if ui.selectable_label(current == name, name).clicked() {
                        changed = Some(Value::Choice(name));
                    }
                }
            });
        }
        (Kind::Classes, Value::Count(mask)) => {
            // The first ten classes as toggles (MNIST's digits, Fashion-MNIST's items);
            // the command line takes up to 64.
            ui.horizontal(|ui| {
                for class in 0..10u64 {
                    let on = mask & (1 << class) != 0;
                    if ui.selectable_label(on, class.to_string()).clicked() {
                        changed = Some(Value::Count(mask ^ (1 << class)));
                    }
                }
            });
        }
        (Kind::Size(sizes), Value::Count(current)) => {
            egui::ComboBox::from_id_salt(setting.name).selected_text(current.to_string()).show_ui(ui, |ui| {
                for &size in sizes {
                    if ui.selectable_label(current == size, size.to_string()).clicked() {
                        changed = Some(Value::Count(size));
                    }
                }
            });
        }
        (_, Value::Unset) if setting.optional => {
            // Left to the family (its help says how it derives it); ticking sets a value.
            let mut set = false;
            if ui.checkbox(&mut set, "derived").on_hover_text("tick to set it yourself").changed() {
                changed = match setting.kind {
                    Kind::Number { min, max, .. } => Some(Value::Number(0.1_f64.clamp(min, max))),
                    Kind::Count { min, .. } => Some(Value::Count(min)),
                    _ => None,
                };
            }
        }
        // A setting of a part that is off (the capacity objective's γ without it).
        (_, Value::Unset) => {
            ui.label("—");
        }
        // A table whose kind and value disagree: shown, not editable.
        _ => {
            ui.label(format!("{value:?}"));
        }
    }
    if setting.optional && value != Value::Unset && ui.small_button("×").on_hover_text("back to the derived default").clicked() {
        changed = Some(Value::Unset);
    }
    changed
}

/// Starts training what the form says on the current data.
pub fn start_training(state: &mut AppState) {
    let config = form_config(state);
    if let Err(e) = config.validate() {
        state.message = Some(format!("cannot start: {e}"));
        return;
    }
    let device = match patchwork_core::device::resolve(state.settings.device) {
        Ok(d) => d.with_training_threads(crate::gui::training_threads()),
        Err(e) => {
            state.message = Some(format!("cannot start on {}: {e}", state.settings.device));
            return;
        }
    };
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let run_dir = state.new_run_dir(&AppState::run_name(config.model.kind().name(), &config.data, stamp));
    let description = device.description.clone();
    let start = state.start_weights.as_ref().map_or(RunStart::Fresh, |w| RunStart::Init(w.dir.clone()));
    // The reliability harness's injected faults (none unless PATCHWORK_INJECT_FAULT is set).
    let faults = match patchwork_core::train::faults_from_env() {
        Ok(faults) => faults,
        Err(e) => {
            state.message = Some(format!("cannot start: {e:#}"));
            return;
        }
    };
    let handle = spawn(RunSpec { config, device, run_dir: Some(run_dir.clone()), start, source: state.data.source.clone(), faults });
    state.remember_recent(run_dir.clone());
    state.session = Some(TrainingSession::new(handle, Some(run_dir), description));
    state.model.set_follow_training(true);
    state.message = None;
}

/// Exports asked for while drawing (done after, when the state can be borrowed mutably).
/// A text file (its text, suggested name and dialog filter), and images as a PNG grid.
type Export = (Option<(String, &'static str, (&'static str, &'static str))>, Option<(Vec<patchwork_core::data::HostImage>, usize)>);


impl TrainView {
    /// Which weights a run started here begins from, with a way back to fresh ones.
    fn start_weights_ui(&mut self, ui: &mut egui::Ui, state: &mut AppState, running: bool) {
        let Some(weights) = &state.start_weights else { return };
        let mut clear = false;
        ui.group(|ui| {
            ui.label(format!(
                "Starts from the weights of {} (step {}): a new run, steps from 0, a fresh optimizer. The network is theirs; the objective and the run settings below are yours.",
                weights.dir.display(),
                weights.step
            ));
            clear = ui.add_enabled(!running, egui::Button::new("Start from fresh weights instead")).clicked();
        });
        if clear {
            state.start_weights = None;
        }
    }

    fn form_ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        let running = state.session.as_ref().is_some_and(|s| s.is_active());
        let model_before = state.settings.form.model;
        ui.heading("Model");
        self.start_weights_ui(ui, state, running);
        // Starting from a checkpoint's weights fixes the network; its objective and the
        // run's settings stay the form's.
        let fixed = state.start_weights.is_some();
        const FIXED: &str = "fixed by the weights the run starts from";
        let mut pick_runs_folder = false;
        ui.add_enabled_ui(!running, |ui| {
            let f = &mut state.settings.form;
            egui::Grid::new("form").num_columns(2).show(ui, |ui| {
                let families: Vec<String> = FamilyKind::ALL.iter().map(|k| format!("{k}: {}", k.info().summary)).collect();
                ui.label("model").on_hover_text(families.join("\n"));
                ui.add_enabled_ui(!fixed, |ui| {
                    egui::ComboBox::from_id_salt("model").selected_text(f.model.name()).show_ui(ui, |ui| {
                        for &kind in FamilyKind::ALL {
                            if ui.selectable_label(f.model == kind, kind.name()).on_hover_text(kind.info().summary).clicked() {
                                f.switch_model(kind);
                            }
                        }
                    });
                })
                .response
                .on_disabled_hover_text(FIXED);
                ui.end_row();
                // The family's settings table, row by row.
                let config = f.config();
                for setting in config.settings().iter().filter(|s| s.in_form) {
                    let Some(value) = config.get(setting.name) else { continue };
                    let needed = config.applies(setting);
                    let network_fixed = fixed && setting.role == Role::Network;
                    ui.label(setting.label).on_hover_text(setting.help);
                    let row = ui.add_enabled_ui(needed && !network_fixed, |ui| setting_ui(ui, setting, value));
                    let why = if network_fixed { FIXED.to_string() } else { format!("needs {}", setting.needs.unwrap_or_default()) };
                    row.response.on_disabled_hover_text(why);
                    if let Some(new) = row.inner {
                        // The widget offers only values of the setting's kind and range.
                        let _ = f.config_mut().set(setting.name, new);
                    }
                    ui.end_row();
                }
                ui.label("learning rate").on_hover_text("Adam step size (papers: 1e-4 for long runs; 1e-3 learns faster in short ones)");
                ui.add(egui::DragValue::new(&mut f.lr).range(1e-6..=1e-1).speed(1e-4).max_decimals(6));
                ui.end_row();
                ui.label("lr schedule").on_hover_text("constant: the learning rate throughout (most papers')\ncosine: annealed from it to the minimum over the run's steps (SGDR without restarts)\nstep: times the factor every so many epochs (PyTorch's StepLR; the cycle-consistent VAE's code: ×0.1 every 80)");
                ui.horizontal(|ui| {
                    egui::ComboBox::from_id_salt("lr-schedule").selected_text(f.lr_schedule.name()).show_ui(ui, |ui| {
                        for s in ScheduleChoice::ALL {
                            ui.selectable_value(&mut f.lr_schedule, s, s.name());
                        }
                    });
                    if f.lr_schedule == ScheduleChoice::Cosine {
                        ui.label("to");
                        ui.add(egui::DragValue::new(&mut f.lr_min).range(0.0..=f.lr).speed(1e-5).max_decimals(7)).on_hover_text("the learning rate at the run's last step");
                    }
                    if f.lr_schedule == ScheduleChoice::Step {
                        ui.label("×");
                        ui.add(egui::DragValue::new(&mut f.lr_gamma).range(0.001..=1.0).speed(0.01).max_decimals(3)).on_hover_text("the factor at each decay");
                        ui.label("every");
                        ui.add(egui::DragValue::new(&mut f.lr_step_epochs).range(1..=10_000).suffix(" epochs")).on_hover_text("epochs between decays");
                    }
                });
                ui.end_row();
                ui.label("epochs");
                ui.add(egui::DragValue::new(&mut f.epochs).range(1..=1000));
                ui.end_row();
                ui.label("batch size").on_hover_text("images per step (PatchVAE paper: 128)");
                ui.add(egui::DragValue::new(&mut f.batch_size).range(1..=1024));
                ui.end_row();
                ui.label("seed").on_hover_text("same seed + same device ⇒ same run");
                ui.add(egui::DragValue::new(&mut f.seed));
                ui.end_row();
                ui.label("device").on_hover_text("auto: a hardware GPU if there is one, else the CPU (flex)\ngpu: any wgpu adapter, software ones too\ncpu: burn's flex backend\n\nOn a GPU the first start compiles and tunes kernels for minutes (\"compiling kernels…\"); what it tunes is kept in the kernel cache (patchwork devices names it), so later starts are quicker.");
                egui::ComboBox::from_id_salt("device").selected_text(state.settings.device.to_string()).show_ui(ui, |ui| {
                    use patchwork_core::device::DeviceChoice;
                    for d in [DeviceChoice::Auto, DeviceChoice::Gpu, DeviceChoice::Cpu] {
                        ui.selectable_value(&mut state.settings.device, d, d.to_string());
                    }
                });
                ui.end_row();
                ui.label("runs folder").on_hover_text("each run started here gets a folder inside it (metrics.jsonl, checkpoint/)");
                ui.horizontal(|ui| {
                    let shown = std::path::absolute(&state.settings.runs_dir).unwrap_or_else(|_| state.settings.runs_dir.clone());
                    ui.add(egui::Label::new(egui::RichText::new(shown.display().to_string()).monospace()).truncate()).on_hover_text(shown.display().to_string());
                    pick_runs_folder = ui.button("Change…").clicked();
                });
                ui.end_row();
            });
        });
        // A family that needs images of some channels (mixing scenes: colour scenes with
        // objects in quadrants) opens its own data when picked on other data (grey digits or
        // clothes); a folder of photos with the right channels stays.
        let kind = state.settings.form.model;
        let channels = state.data.source.as_ref().map(|s| s.info().channels);
        if let (true, Some(needed)) = (kind != model_before, kind.info().needs_channels) {
            if channels != Some(needed) {
                state.open_spec(kind.info().data);
                state.message = Some(format!("{kind} trains on {needed}-channel images: {} is open in Data", kind.info().data));
            }
        }
        if pick_runs_folder {
            state.pick_runs_folder();
        }
        ui.add_space(8.0);
        ui.horizontal_wrapped(|ui| {
            if !running && ui.button("Start").clicked() {
                start_training(state);
            }
            if let Some(session) = &mut state.session {
                match session.status {
                    RunStatus::Running => {
                        if ui.button("Pause").on_hover_text("space").clicked() {
                            session.send(TrainCommand::Pause);
                        }
                    }
                    RunStatus::Paused | RunStatus::Diverged { .. } | RunStatus::SaveFailed { .. } => {
                        if ui.button("Resume").on_hover_text("space").clicked() {
                            session.send(TrainCommand::Resume);
                        }
                    }
                    _ => {}
                }
                if session.is_active() {
                    if ui.button("Stop").clicked() {
                        session.send(TrainCommand::Stop);
                    }
                    if ui.button("Save").on_hover_text("Ctrl+S").clicked() {
                        session.save_now();
                    }
                }
            }
        });
        if let Some(session) = &mut state.session {
            if let RunStatus::Diverged { step, term } = &session.status {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!("Diverged at step {step}: {term} is not finite. The weights of the last good step are kept. Lower the learning rate and resume."),
                );
                if ui.button("Halve the learning rate and resume").clicked() {
                    let lr = state.settings.form.lr / 2.0;
                    state.settings.form.lr = lr;
                    session.send(TrainCommand::SetHyperparameter { name: "lr".into(), value: lr });
                    session.send(TrainCommand::Resume);
                }
            }
            if let RunStatus::SaveFailed { step, message } = &session.status {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    format!("Saving the checkpoint of step {step} failed: {message}. The weights are still in memory and the run is paused. Free some space and save again; Resume trains on unsaved; Stop, pressed twice, ends the run without saving."),
                );
                if ui.button("Save again").clicked() {
                    session.save_now();
                }
            }
            ui.separator();
            egui::ScrollArea::vertical().max_height(160.0).stick_to_bottom(true).show(ui, |ui| {
                for line in &session.log {
                    ui.label(line);
                }
            });
        }
        if let Some(m) = &state.message {
            ui.colored_label(ui.visuals().warn_fg_color, m);
        }
    }

    fn live_ui(&mut self, ui: &mut egui::Ui, state: &AppState, export: &mut Export) {
        let Some(session) = &state.session else {
            ui.label("Choose settings and press Start: curves and reconstructions appear here while the model learns.");
            return;
        };
        if let Some(p) = session.progress {
            let fraction = p.step as f32 / p.total_steps.max(1) as f32;
            ui.add(egui::ProgressBar::new(fraction).text(progress_text(session, state.settings.form.batch_size)));
        }
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.log_scale, "log scale");
            ui.add(egui::Slider::new(&mut self.smoothing, 0.0..=0.99).text("smoothing"));
            ui.label("x:");
            ui.selectable_value(&mut self.x_axis, XAxis::Step, "step");
            ui.selectable_value(&mut self.x_axis, XAxis::Minutes, "time").on_hover_text("minutes of training since the run started");
            ui.selectable_value(&mut self.x_axis, XAxis::WallClock, "wall").on_hover_text("the clock time each step ended: pauses and resumed sessions show as gaps");
            ui.add_enabled(self.x_axis != XAxis::WallClock, egui::Checkbox::new(&mut self.log_x, "log x"));
            ui.label(format!("{} parameters", session.parameters));
        });
        let log = self.log_scale;
        let smoothing = self.smoothing;
        // The wall-clock axis takes no log (`of` and `label` leave it out there).
        let (x_axis, log_x) = (self.x_axis, self.log_x);
        let x_label = x_axis.label(log_x);
        let series = |name: &str, value: &dyn Fn(&StepMetrics) -> Option<f64>, log: bool| -> Line<'static> {
            let points: Vec<[f64; 2]> = session.history.iter().filter_map(|m| Some([x_axis.of(m, log_x)?, value(m).map(|v| if log { v.max(1e-12).log10() } else { v })?])).collect();
            Line::new(name.to_string(), PlotPoints::from(super::smooth(&points, smoothing)))
        };
        let plotted = PlottedMetrics::of(&session.history);
        let y_label = if log { "log10 value" } else { "value" };
        // With smoothing, each loss also gets the band of its raw values' trailing min and
        // max over the smoothing window, in its line's colour.
        let window = super::smoothing_window(smoothing);
        let loss_curves: Vec<SvgSeries> = plotted
            .losses
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let raw: Vec<[f64; 2]> = session.history.iter().filter_map(|m| Some([x_axis.of(m, log_x)?, m.loss(name).map(|v| if log { v.max(1e-12).log10() } else { v })?])).collect();
                let band = (window > 1).then(|| super::min_max_band(&raw, window));
                SvgSeries { name: name.clone(), colour: series_colour(i), points: super::smooth(&raw, smoothing), band }
            })
            .collect();
        x_axis.on_plot(Plot::new("losses").height(220.0).legend(Legend::default()), log_x).y_axis_label(y_label).show(ui, |plot| {
            for curve in &loss_curves {
                plot.line(Line::new(curve.name.clone(), PlotPoints::from(curve.points.clone())).color(curve.colour));
                if let Some((xs, lo, hi)) = &curve.band {
                    // Unnamed, so the legend keeps one entry per loss in its line's colour.
                    plot.add(egui_plot::FilledArea::new("", xs, lo, hi).fill_color(curve.colour.linear_multiply(0.15)));
                }
            }
        });
        x_axis.on_plot(Plot::new("schedules").height(110.0).legend(Legend::default()), log_x).y_axis_label("log10").show(ui, |plot| {
            plot.line(series("learning rate", &|m| Some(m.lr), true));
            for name in &plotted.schedules {
                plot.line(series(name, &|m| m.term(name), true));
            }
        });
        if !plotted.settings.is_empty() {
            x_axis.on_plot(Plot::new("live-settings").height(110.0).legend(Legend::default()), log_x).y_axis_label("value").show(ui, |plot| {
                for name in &plotted.settings {
                    plot.line(series(name, &|m| m.term(name), false));
                }
            });
        }
        let shown = self.snapshots.slider_ui(ui, &session.snapshot_history, session.snapshot.as_ref(), session.is_active());
        ui.horizontal(|ui| {
            if ui.button("Export metrics CSV…").clicked() {
                export.0 = Some((crate::gui::views::runs::metrics_csv(&session.history), "metrics.csv", ("CSV", "csv")));
            }
            if ui.button("Export losses SVG…").on_hover_text("the loss plot as drawn (smoothing, bands, axes) as a vector image").clicked() {
                let title = format!("{} losses", state.settings.form.model);
                export.0 = Some((svg_plot(&title, (x_label, &|x, span| x_axis.tick(x, span)), y_label, &loss_curves), "losses.svg", ("SVG", "svg")));
            }
            if let Some(snap) = shown {
                if ui.button("Export grids PNG…").on_hover_text("the snapshot shown: inputs, reconstructions and the model's own grids (samples, mixes, part maps), a row or more each").clicked() {
                    export.1 = Some(snapshot_picture(snap));
                }
            }
        });
        let Some(snap) = shown else { return };
        self.snapshots.grids_ui(ui, snap, "train");
    }
}

/// The colour of the `i`-th loss curve (and its band): distinct hues around the wheel.
fn series_colour(i: usize) -> egui::Color32 {
    const HUES: [egui::Color32; 8] = [
        egui::Color32::from_rgb(230, 85, 85),
        egui::Color32::from_rgb(90, 150, 235),
        egui::Color32::from_rgb(120, 200, 90),
        egui::Color32::from_rgb(225, 170, 60),
        egui::Color32::from_rgb(180, 110, 220),
        egui::Color32::from_rgb(70, 200, 200),
        egui::Color32::from_rgb(235, 130, 200),
        egui::Color32::from_rgb(170, 170, 170),
    ];
    HUES[i % HUES.len()]
}

/// The progress bar's text: where the run is, how fast, and while it runs, when it ends.
/// A stopped or paused run has no ETA: it says what it is instead.
pub fn progress_text(session: &TrainingSession, batch_size: usize) -> String {
    let Some(p) = session.progress else { return String::new() };
    let position = format!("epoch {}/{} · step {}/{}", (p.epoch + 1).min(p.epochs), p.epochs, p.step, p.total_steps);
    if let Some(compiling) = session.compiling_text() {
        return format!("{position} · {compiling} (a first start on this GPU takes minutes; what it tunes is kept for the next)");
    }
    let rate = session.history.last().map_or(0.0, |m| m.images_per_sec);
    let tail = match &session.status {
        RunStatus::Running if rate > 0.0 => {
            let secs = p.total_steps.saturating_sub(p.step) as f64 * batch_size as f64 / rate;
            format!(" · ETA {}:{:02}", (secs / 60.0) as u64, (secs % 60.0) as u64)
        }
        RunStatus::Paused => " · paused".to_string(),
        RunStatus::Diverged { .. } => " · diverged".to_string(),
        RunStatus::SaveFailed { .. } => " · not saved".to_string(),
        RunStatus::Finished => format!(" · {}", if p.step >= p.total_steps { "finished" } else { "stopped" }),
        RunStatus::Failed(_) => " · failed".to_string(),
        _ => String::new(),
    };
    format!("{position} · {rate:.0} images/s{tail}")
}

/// The series of the Train view's three plots, each from its own field of the step
/// metrics: losses; schedules (beside the learning rate); live hyperparameters and other
/// measures.
#[derive(Debug, Default, PartialEq)]
pub struct PlottedMetrics {
    pub losses: Vec<String>,
    pub schedules: Vec<String>,
    pub settings: Vec<String>,
}

impl PlottedMetrics {
    pub fn of(history: &[StepMetrics]) -> Self {
        let recent = || history.iter().rev().take(1);
        Self {
            losses: super::metric_names(recent(), |m| m.losses.iter()),
            schedules: super::metric_names(recent(), |m| m.schedules.iter()),
            settings: super::metric_names(recent(), |m| m.hyper.iter().chain(&m.measures)),
        }
    }
}

impl View for TrainView {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn name(&self) -> &'static str {
        "Train"
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        egui::Panel::left("train-form").resizable(true).default_size(300.0).show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| self.form_ui(ui, state));
        });
        egui::CentralPanel::default().show(ui, |ui| {
            let mut export = Export::default();
            egui::ScrollArea::vertical().show(ui, |ui| self.live_ui(ui, state, &mut export));
            if let Some((text, file_name, filter)) = export.0 {
                state.export_text(text, file_name, filter);
            }
            if let Some((images, columns)) = export.1 {
                state.export_png(images, columns, "training-grids.png");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::gui::state::{Settings, TrainForm};

    #[test]
    fn the_x_axis_counts_steps_or_minutes_and_a_log_axis_leaves_out_zero() {
        let m = |step: u64, elapsed: f64| StepMetrics { step, elapsed, ..StepMetrics::default() };
        assert_eq!(XAxis::Step.of(&m(100, 30.0), false), Some(100.0));
        assert_eq!(XAxis::Minutes.of(&m(100, 30.0), false), Some(0.5));
        assert_eq!(XAxis::Step.of(&m(100, 30.0), true), Some(2.0));
        assert_eq!(XAxis::Step.of(&m(0, 0.0), true), None, "log 0 has no place");
        assert_eq!(XAxis::Minutes.label(true), "log10 minutes of training");
        // Clock time: as recorded, never logged; older files without it have no place.
        let timed = StepMetrics { wall_time: Some(1_765_000_000.5), ..m(3, 1.0) };
        assert_eq!((XAxis::WallClock.of(&timed, true), XAxis::WallClock.of(&m(3, 1.0), false)), (Some(1_765_000_000.5), None));
        let local = chrono::DateTime::from_timestamp(1_765_000_000, 0).unwrap().with_timezone(&chrono::Local);
        assert_eq!(XAxis::WallClock.tick(1_765_000_000.5, 3600.0), local.format("%H:%M").to_string());
        assert_eq!(XAxis::WallClock.tick(1_765_000_000.5, 60.0), local.format("%H:%M:%S").to_string());
        assert_eq!(XAxis::Step.tick(1500.0, 3000.0), "1500");
    }

    #[test]
    fn loss_weights_and_schedules_are_not_plotted_as_losses() {
        // A mixing-scenes step as the runner records it: λ weights are live
        // hyperparameters, the replaced-quadrant count a measure.
        let step = StepMetrics {
            losses: vec![("loss".into(), 1.0), ("recon_direct".into(), 0.2), ("d".into(), 0.7)],
            hyper: vec![("lambda_rec".into(), 0.904), ("lambda_adv".into(), 0.052), ("lambda_cls".into(), 0.044)],
            measures: vec![("replaced".into(), 2.0)],
            schedules: vec![("temperature".into(), 0.5)],
            ..StepMetrics::default()
        };
        let plotted = PlottedMetrics::of(&[step]);
        assert_eq!(plotted.losses, ["loss", "recon_direct", "d"]);
        assert_eq!(plotted.schedules, ["temperature"]);
        assert_eq!(plotted.settings, ["lambda_rec", "lambda_adv", "lambda_cls", "replaced"]);
    }

    fn form(family: &str, settings: &[(&str, Value)]) -> TrainForm {
        TrainForm::for_family(family, settings).unwrap()
    }

    #[test]
    fn a_greyed_out_warm_up_is_not_applied() {
        let mut state = AppState::new(Settings::default());
        state.settings.form = form("mixing-scenes", &[("rec_warmup", Value::Count(100))]);
        let warmup = |state: &AppState| form_config(state).model.get("rec_warmup");
        assert_eq!(warmup(&state), Some(Value::Count(100)));
        // Without the reconstruction term the field is disabled: the run starts without it.
        state.settings.form.config_mut().set("use_rec", Value::Switch(false)).unwrap();
        assert_eq!(warmup(&state), Some(Value::Count(0)));
        assert_eq!(form_config(&state).validate(), Ok(()));
    }

    #[test]
    fn the_form_shows_a_runs_settings_as_it_would_build_them() {
        let mut state = AppState::new(Settings::default());
        let mut beta = form("beta-vae", &[("arch", Value::Choice("higgins")), ("latent", Value::Count(7)), ("beta", Value::Number(2.5)), ("weighted", Value::Switch(true))]);
        (beta.lr, beta.lr_schedule, beta.lr_min, beta.epochs, beta.batch_size, beta.seed) = (3e-4, ScheduleChoice::Cosine, 1e-5, 9, 20, 5);
        let mut cycle = form("cycle-vae", &[("style_dim", Value::Count(32))]);
        (cycle.lr_step_epochs, cycle.lr_gamma) = (7, 0.5);
        let forms = [
            beta,
            form("patchvae", &[("parts", Value::Count(8)), ("part_dim", Value::Count(3)), ("beta_occ", Value::Number(0.3)), ("sampling", Value::Choice("hard")), ("gan", Value::Switch(true)), ("image_size", Value::Count(64))]),
            form("mixing-scenes", &[("preset", Value::Choice("full")), ("use_adv", Value::Switch(false)), ("lambda_cls", Value::Number(0.1)), ("rec_warmup", Value::Count(30)), ("warmup_collage", Value::Number(0.5))]),
            cycle,
        ];
        for form in forms {
            state.settings.form = form;
            let built = form_config(&state);
            state.settings.form = TrainForm::default();
            state.settings.form.show_settings_of(&built);
            assert_eq!(form_config(&state), built);
        }
    }

    #[test]
    fn a_run_from_weights_keeps_their_network_and_takes_the_forms_objective() {
        let mut state = AppState::new(Settings::default());
        let mut network = FamilyKind::from_str("mixing-scenes").unwrap().default_config(3);
        network.set("preset", Value::Choice("full")).unwrap();
        network.set("rec_warmup", Value::Count(500)).unwrap();
        let theirs = TrainConfig::new(network, "scenes".into()).with_max_steps(Some(2000));
        let config = theirs.for_run_from_its_weights();
        state.settings.form.show_settings_of(&config);
        state.start_weights = Some(crate::gui::state::StartWeights { dir: "elsewhere".into(), step: 2000, config });
        let f = &mut state.settings.form;
        f.lr = 1e-5;
        for (name, value) in [("preset", Value::Choice("small")), ("lambda_adv", Value::Number(0.2)), ("rec_warmup", Value::Count(0))] {
            f.config_mut().set(name, value).unwrap();
        }
        let run = form_config(&state);
        let got = |name| run.model.get(name).unwrap();
        assert_eq!((got("preset"), got("lambda_adv"), got("rec_warmup"), run.lr, run.max_steps), (Value::Choice("full"), Value::Number(0.2), Value::Count(0), 1e-5, None));
    }
}
