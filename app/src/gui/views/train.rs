//! Train: model form, device, start / pause / resume / stop / save, live curves and
//! the live reconstruction grid.

use egui_plot::{Legend, Line, Plot, PlotPoints};
use patchwork_core::models::ModelConfig;
use patchwork_core::models::beta_vae::{BetaVaeConfig, VaeArch};
use patchwork_core::models::mixing_scenes::{MixingPreset, MixingScenesConfig};
use patchwork_core::models::patch_vae::{GanSettings, OccurrenceSampling, PatchVaeConfig};
use patchwork_core::train::{LrSchedule, RunSpec, RunStart, TrainCommand, TrainConfig, spawn};

use crate::gui::images::CachedGrid;
use crate::gui::session::{RunStatus, TrainingSession};
use crate::gui::state::TrainForm;
use crate::gui::{AppState, View};

#[derive(Default)]
pub struct TrainView {
    inputs: CachedGrid,
    recons: CachedGrid,
    samples: CachedGrid,
    log_scale: bool,
    smoothing: f64,
}

fn arch_of(name: &str) -> VaeArch {
    match name {
        "higgins" => VaeArch::Higgins,
        "mlp" => VaeArch::Mlp,
        _ => VaeArch::Resnet9,
    }
}

/// Builds the run the form describes: a new network from the form, or, when the run
/// starts from a checkpoint's weights, that checkpoint's network; either way the form sets
/// the objective and the run (learning rate, epochs, batch, seed) on the open data.
pub fn form_config(state: &AppState) -> TrainConfig {
    let f = &state.settings.form;
    let mut c = match &state.start_weights {
        Some(weights) => weights.config.clone(),
        None => {
            let channels = state.data.source.as_ref().map_or(1, |s| s.info().channels);
            TrainConfig::new(network_from_form(f, channels), state.data.spec.clone())
        }
    };
    set_objective_from_form(f, &mut c.model);
    c.data = state.data.spec.clone();
    c.lr = f.lr;
    c.lr_schedule = (f.lr_schedule == "cosine").then_some(LrSchedule::Cosine { lr_min: f.lr_min });
    c.epochs = f.epochs;
    c.batch_size = f.batch_size;
    c.seed = f.seed;
    c
}

/// The form's network settings: what fixes the weights' shapes.
fn network_from_form(f: &TrainForm, channels: usize) -> ModelConfig {
    let arch = arch_of(&f.arch);
    let conv_size = if f.image_size <= 32 { 32 } else { 64 };
    if f.model == "mixing-scenes" {
        let preset = if f.preset == "full" { MixingPreset::Full } else { MixingPreset::Small };
        ModelConfig::MixingScenes(MixingScenesConfig::new().with_preset(preset))
    } else if f.model == "patchvae" {
        ModelConfig::PatchVae(
            PatchVaeConfig::new()
                .with_parts(f.parts)
                .with_part_dim(f.part_dim)
                .with_gan(f.gan.then(GanSettings::default))
                .with_image_size(conv_size)
                .with_channels(channels),
        )
    } else {
        let size = if arch == VaeArch::Mlp { f.image_size } else { conv_size };
        ModelConfig::BetaVae(BetaVaeConfig::new(arch).with_latent(f.latent).with_image_size(size).with_channels(channels))
    }
}

/// The form's objective settings (loss weights, terms, schedules), which weights of any
/// shape train with.
fn set_objective_from_form(f: &TrainForm, model: &mut ModelConfig) {
    match model {
        ModelConfig::BetaVae(c) => {
            c.beta = f.beta;
            c.weighted_loss = f.weighted;
        }
        ModelConfig::PatchVae(c) => {
            c.beta_occ = f.beta_occ;
            c.beta_app = f.beta_app;
            c.sampling = match f.sampling.as_str() {
                "categorical" => OccurrenceSampling::Categorical,
                "hard" => OccurrenceSampling::Hard,
                _ => OccurrenceSampling::Bernoulli,
            };
            c.weighted_loss = f.weighted;
        }
        ModelConfig::MixingScenes(c) => {
            (c.lambda_rec, c.lambda_adv, c.lambda_cls) = (f.lambda_rec, f.lambda_adv, f.lambda_cls);
            (c.use_rec, c.use_adv, c.use_cls) = (f.use_rec, f.use_adv, f.use_cls);
            c.rec_warmup = f.applied_warmup();
            // The collage field is greyed out without warm-up steps: not applied then.
            c.warmup_collage = f.applied_warmup().and((f.warmup_collage > 0.0).then_some(f.warmup_collage));
        }
    }
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
    let run_dir = state.new_run_dir(&format!("gui-{}-{stamp}", config.model.kind()));
    let description = device.description.clone();
    let start = state.start_weights.as_ref().map_or(RunStart::Fresh, |w| RunStart::Init(w.dir.clone()));
    let handle = spawn(RunSpec { config, device, run_dir: Some(run_dir.clone()), start, source: state.data.source.clone() });
    state.remember_recent(run_dir.clone());
    state.session = Some(TrainingSession::new(handle, Some(run_dir), description));
    state.model.set_follow_training(true);
    state.message = None;
}

/// Exports asked for while drawing (done after, when the state can be borrowed mutably).
type Export = (Option<String>, Option<(Vec<patchwork_core::data::HostImage>, usize)>);


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
        let model_before = state.settings.form.model.clone();
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
                ui.label("model").on_hover_text("patchvae: parts with occurrence maps and appearances (Gupta et al.)\nbeta-vae: one latent vector (Higgins et al.)\nmixing-scenes: four quadrant chunks, trained by mixing scenes (Algorithm 1); 64×64 colour, e.g. the quadrant scenes");
                ui.add_enabled_ui(!fixed, |ui| {
                    egui::ComboBox::from_id_salt("model").selected_text(&f.model).show_ui(ui, |ui| {
                        for m in ["patchvae", "beta-vae", "mixing-scenes"] {
                            if ui.selectable_label(f.model == m, m).clicked() {
                                f.switch_model(m);
                            }
                        }
                    });
                })
                .response
                .on_disabled_hover_text(FIXED);
                ui.end_row();
                if f.model == "mixing-scenes" {
                    ui.label("preset").on_hover_text("small: fewer, wider layers (48-d chunks), trains on a CPU\nfull: the thesis's networks (encoder 2,800,512, decoder 5,300,339, PatchGAN 1,188,391 parameters)");
                    ui.add_enabled_ui(!fixed, |ui| {
                        egui::ComboBox::from_id_salt("preset").selected_text(&f.preset).show_ui(ui, |ui| {
                            for p in ["small", "full"] {
                                ui.selectable_value(&mut f.preset, p.to_string(), p);
                            }
                        });
                    })
                    .response
                    .on_disabled_hover_text(FIXED);
                    ui.end_row();
                    ui.label("λ_rec").on_hover_text("weight of the L1 reconstruction (direct + cycle); thesis 0.904");
                    ui.horizontal(|ui| {
                        ui.checkbox(&mut f.use_rec, "");
                        ui.add_enabled(f.use_rec, egui::DragValue::new(&mut f.lambda_rec).range(0.0..=10.0).speed(0.01));
                    });
                    ui.end_row();
                    ui.label("λ_adv").on_hover_text("weight of the non-saturating GAN loss on mixes; thesis 0.052 (untick: the ablation without it)");
                    ui.horizontal(|ui| {
                        ui.checkbox(&mut f.use_adv, "");
                        ui.add_enabled(f.use_adv, egui::DragValue::new(&mut f.lambda_adv).range(0.0..=10.0).speed(0.01));
                    });
                    ui.end_row();
                    ui.label("λ_cls").on_hover_text("weight of the quadrant classifier's BCE; thesis 0.044 (it suspects too high)");
                    ui.horizontal(|ui| {
                        ui.checkbox(&mut f.use_cls, "");
                        ui.add_enabled(f.use_cls, egui::DragValue::new(&mut f.lambda_cls).range(0.0..=10.0).speed(0.01));
                    });
                    ui.end_row();
                    ui.label("warm-up").on_hover_text("steps of the plain autoencoder (direct reconstruction: no mixing, no judges) before Algorithm 1's iterations start; each costs about a sixth of an iteration (0: the thesis's schedule)");
                    ui.add_enabled(f.use_rec, egui::DragValue::new(&mut f.rec_warmup).range(0..=1_000_000).speed(10).suffix(" steps"));
                    ui.end_row();
                    ui.label("λ_collage").on_hover_text("not in the thesis: in warm-up steps, also decode the batch's codes mixed chunk-wise under random masks and pull them towards the pixel collages (L1), so each chunk learns its own quadrant (0: off)");
                    ui.add_enabled(f.applied_warmup().is_some(), egui::DragValue::new(&mut f.warmup_collage).range(0.0..=10.0).speed(0.01));
                    ui.end_row();
                } else if f.model == "patchvae" {
                    ui.label("parts N").on_hover_text("number of parts (paper and code: 16)");
                    ui.add_enabled(!fixed, egui::DragValue::new(&mut f.parts).range(1..=64)).on_disabled_hover_text(FIXED);
                    ui.end_row();
                    ui.label("part size d_p").on_hover_text("appearance dimensions per part (code default 6)");
                    ui.add_enabled(!fixed, egui::DragValue::new(&mut f.part_dim).range(1..=64)).on_disabled_hover_text(FIXED);
                    ui.end_row();
                    ui.label("β_occ").on_hover_text("weight of the occurrence KL (official code 10; the paper's Table 6: 0.3)");
                    ui.add(egui::DragValue::new(&mut f.beta_occ).range(0.0..=100.0).speed(0.1));
                    ui.end_row();
                    ui.label("β_app").on_hover_text("weight of the appearance KL (default 1)");
                    ui.add(egui::DragValue::new(&mut f.beta_app).range(0.0..=100.0).speed(0.1));
                    ui.end_row();
                    ui.label("occurrence sampling").on_hover_text("bernoulli: relaxed Bernoulli per part and location (paper)\ncategorical: one part per location\nhard: straight-through binary samples");
                    egui::ComboBox::from_id_salt("sampling").selected_text(&f.sampling).show_ui(ui, |ui| {
                        for m in ["bernoulli", "categorical", "hard"] {
                            ui.selectable_value(&mut f.sampling, m.to_string(), m);
                        }
                    });
                    ui.end_row();
                    ui.label("GAN variant").on_hover_text("adds the paper's 4-conv discriminator and an adversarial loss on reconstructions (β_g = 1)");
                    ui.add_enabled(!fixed, egui::Checkbox::without_text(&mut f.gan)).on_disabled_hover_text(FIXED);
                    ui.end_row();
                } else {
                    ui.label("architecture").on_hover_text("resnet9: the PatchVAE paper's baseline (Tables 8, 10)\nhiggins: the β-VAE paper's conv net\nmlp: Kingma & Welling's MLP, any size");
                    ui.add_enabled_ui(!fixed, |ui| {
                        egui::ComboBox::from_id_salt("arch").selected_text(&f.arch).show_ui(ui, |ui| {
                            for a in ["resnet9", "higgins", "mlp"] {
                                ui.selectable_value(&mut f.arch, a.to_string(), a);
                            }
                        });
                    })
                    .response
                    .on_disabled_hover_text(FIXED);
                    ui.end_row();
                    ui.label("latent size").on_hover_text("latent dimensions (1Konny/Beta-VAE: 10; PatchVAE baseline: 96; 2 shows the manifold in Traverse)");
                    ui.add_enabled(!fixed, egui::DragValue::new(&mut f.latent).range(1..=256)).on_disabled_hover_text(FIXED);
                    ui.end_row();
                    ui.label("β").on_hover_text("KL weight: 1 = plain VAE; β-VAE default 4 (Higgins et al.)");
                    ui.add(egui::DragValue::new(&mut f.beta).range(0.0..=100.0).speed(0.1));
                    ui.end_row();
                }
                if f.model != "mixing-scenes" {
                    ui.label("weighted loss L_w").on_hover_text("reconstruction error weighted per 8×8 patch by the input's Laplacian magnitude (PatchVAE paper §3.3); off by default");
                    ui.checkbox(&mut f.weighted, "");
                    ui.end_row();
                }
                ui.label("learning rate").on_hover_text("Adam step size (papers: 1e-4 for long runs; 1e-3 learns faster in short ones)");
                ui.add(egui::DragValue::new(&mut f.lr).range(1e-6..=1e-1).speed(1e-4).max_decimals(6));
                ui.end_row();
                ui.label("lr schedule").on_hover_text("constant: the learning rate throughout (the papers')\ncosine: annealed from it to the minimum over the run's steps (SGDR without restarts)");
                ui.horizontal(|ui| {
                    egui::ComboBox::from_id_salt("lr-schedule").selected_text(&f.lr_schedule).show_ui(ui, |ui| {
                        for s in ["constant", "cosine"] {
                            ui.selectable_value(&mut f.lr_schedule, s.to_string(), s);
                        }
                    });
                    if f.lr_schedule == "cosine" {
                        ui.label("to");
                        ui.add(egui::DragValue::new(&mut f.lr_min).range(0.0..=f.lr).speed(1e-5).max_decimals(7)).on_hover_text("the learning rate at the run's last step");
                    }
                });
                ui.end_row();
                ui.label("epochs");
                ui.add(egui::DragValue::new(&mut f.epochs).range(1..=1000));
                ui.end_row();
                ui.label("batch size").on_hover_text("images per step (PatchVAE paper: 128)");
                ui.add(egui::DragValue::new(&mut f.batch_size).range(1..=1024));
                ui.end_row();
                ui.label("image size").on_hover_text("patchvae, resnet9 and higgins take 32 or 64; mlp any size (28 = native MNIST)");
                ui.add_enabled_ui(!fixed, |ui| {
                    egui::ComboBox::from_id_salt("size").selected_text(f.image_size.to_string()).show_ui(ui, |ui| {
                        for s in [28, 32, 64] {
                            ui.selectable_value(&mut f.image_size, s, s.to_string());
                        }
                    });
                })
                .response
                .on_disabled_hover_text(FIXED);
                ui.end_row();
                ui.label("seed").on_hover_text("same seed + same device ⇒ same run");
                ui.add(egui::DragValue::new(&mut f.seed));
                ui.end_row();
                ui.label("device").on_hover_text("auto: a hardware GPU if there is one, else the CPU (flex)\ngpu: any wgpu adapter, software ones too\ncpu: burn's flex backend");
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
        // Mixing scenes wants colour scenes with objects in quadrants: picking it on grey
        // digits or clothes opens the quadrant scenes (a folder of photos stays).
        let grey = state.data.source.as_ref().is_none_or(|s| s.info().channels == 1);
        if state.settings.form.model != model_before && state.settings.form.model == "mixing-scenes" && grey {
            state.open_spec("scenes");
            state.message = Some("mixing scenes trains on colour scenes: the quadrant scenes are open in Data".into());
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
                    RunStatus::Paused | RunStatus::Diverged { .. } => {
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
            ui.separator();
            egui::ScrollArea::vertical().max_height(160.0).stick_to_bottom(true).show(ui, |ui| {
                for line in &session.log {
                    ui.label(egui::RichText::new(line).small());
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
            let rate = session.history.last().map_or(0.0, |m| m.images_per_sec);
            let eta = if rate > 0.0 {
                let secs = (p.total_steps - p.step) as f64 * state.settings.form.batch_size as f64 / rate;
                format!(", ETA {}:{:02}", (secs / 60.0) as u64, (secs % 60.0) as u64)
            } else {
                String::new()
            };
            ui.add(egui::ProgressBar::new(fraction).text(format!(
                "epoch {}/{} · step {}/{} · {:.0} images/s{eta}",
                (p.epoch + 1).min(p.epochs),
                p.epochs,
                p.step,
                p.total_steps,
                rate
            )));
        }
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.log_scale, "log scale");
            ui.add(egui::Slider::new(&mut self.smoothing, 0.0..=0.99).text("smoothing"));
            ui.label(format!("{} parameters", session.parameters));
        });
        let names: Vec<String> = session.history.last().map(|m| m.terms.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default();
        let log = self.log_scale;
        let smoothing = self.smoothing;
        let series = |name: &str, value: &dyn Fn(&patchwork_core::train::StepMetrics) -> Option<f64>, log: bool| -> Line<'static> {
            let points: Vec<[f64; 2]> = session.history.iter().filter_map(|m| value(m).map(|v| [m.step as f64, if log { v.max(1e-12).log10() } else { v }])).collect();
            Line::new(name.to_string(), PlotPoints::from(super::smooth(&points, smoothing)))
        };
        let hyper: Vec<&str> = vec!["beta", "gamma", "c_max", "beta_occ", "beta_app", "temperature", "capacity"];
        let y_label = if log { "log10 value" } else { "value" };
        Plot::new("losses").height(220.0).legend(Legend::default()).x_axis_label("step").y_axis_label(y_label).show(ui, |plot| {
            for name in names.iter().filter(|n| !hyper.contains(&n.as_str())) {
                plot.line(series(name, &|m| m.term(name), log));
            }
        });
        Plot::new("schedules").height(110.0).legend(Legend::default()).x_axis_label("step").y_axis_label("log10").show(ui, |plot| {
            plot.line(series("learning rate", &|m| Some(m.lr), true));
            for name in names.iter().filter(|n| matches!(n.as_str(), "temperature" | "capacity")) {
                plot.line(series(name, &|m| m.term(name), true));
            }
        });
        ui.horizontal(|ui| {
            if ui.button("Export metrics CSV…").clicked() {
                export.0 = Some(crate::gui::views::runs::metrics_csv(&session.history));
            }
            if let Some(snap) = &session.snapshot {
                if ui.button("Export grids PNG…").on_hover_text("inputs, reconstructions and the model's extra grid (samples, mixes), one row each").clicked() {
                    let mut images = snap.inputs.clone();
                    images.extend(snap.reconstructions.iter().cloned());
                    if let Some((_, samples)) = snap.extras.first() {
                        images.extend(samples.iter().take(snap.inputs.len()).cloned());
                    }
                    export.1 = Some((images, snap.inputs.len().max(1)));
                }
            }
        });
        let Some(snap) = &session.snapshot else { return };
        let extra = snap.extras.first().filter(|(_, images)| !images.is_empty());
        let extra_name = extra.map_or("", |(name, _)| if name == "samples" { "samples from the prior" } else { name.as_str() });
        ui.label(format!("step {}: inputs (top), reconstructions (middle), {extra_name} (bottom)", snap.step));
        let width = ui.available_width().min(640.0);
        let key = |name: &str| (format!("{name}-{}", snap.step), snap.step);
        self.inputs.ui(ui, key("inputs"), || snap.inputs.clone(), 8, width);
        self.recons.ui(ui, key("recons"), || snap.reconstructions.clone(), 8, width);
        if let Some((_, samples)) = extra {
            self.samples.ui(ui, key("samples"), || samples.clone(), 8, width);
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
            if let Some(csv) = export.0 {
                state.export_text(csv, "metrics.csv", ("CSV", "csv"));
            }
            if let Some((images, columns)) = export.1 {
                state.export_png(images, columns, "training-grids.png");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gui::state::Settings;

    #[test]
    fn a_greyed_out_warm_up_is_not_applied() {
        let mut state = AppState::new(Settings::default());
        let f = &mut state.settings.form;
        f.model = "mixing-scenes".into();
        f.rec_warmup = 100;
        let warmup = |state: &AppState| match form_config(state).model {
            ModelConfig::MixingScenes(c) => c.rec_warmup,
            other => panic!("expected a mixing-scenes config, got {other:?}"),
        };
        assert_eq!(warmup(&state), Some(100));
        // Without the reconstruction term the field is disabled: the run starts without it.
        state.settings.form.use_rec = false;
        assert_eq!(warmup(&state), None);
        assert_eq!(form_config(&state).validate(), Ok(()));
    }

    #[test]
    fn the_form_shows_a_runs_settings_as_it_would_build_them() {
        let mut state = AppState::new(Settings::default());
        let forms = [
            TrainForm { model: "beta-vae".into(), arch: "higgins".into(), latent: 7, beta: 2.5, weighted: true, lr: 3e-4, lr_schedule: "cosine".into(), lr_min: 1e-5, epochs: 9, batch_size: 20, seed: 5, ..TrainForm::default() },
            TrainForm { model: "patchvae".into(), parts: 8, part_dim: 3, beta_occ: 0.3, sampling: "hard".into(), gan: true, image_size: 64, ..TrainForm::default() },
            TrainForm { model: "mixing-scenes".into(), preset: "full".into(), use_adv: false, lambda_cls: 0.1, rec_warmup: 30, warmup_collage: 0.5, image_size: 64, ..TrainForm::default() },
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
        let network = MixingScenesConfig::new().with_preset(MixingPreset::Full).with_rec_warmup(Some(500));
        let theirs = TrainConfig::new(ModelConfig::MixingScenes(network), "scenes".into()).with_max_steps(Some(2000));
        let config = theirs.for_run_from_its_weights();
        state.settings.form.show_settings_of(&config);
        state.start_weights = Some(crate::gui::state::StartWeights { dir: "elsewhere".into(), step: 2000, config });
        let f = &mut state.settings.form;
        (f.preset, f.lambda_adv, f.lr, f.rec_warmup) = ("small".into(), 0.2, 1e-5, 0);
        let run = form_config(&state);
        let ModelConfig::MixingScenes(m) = &run.model else { panic!("expected mixing scenes, got {:?}", run.model) };
        assert_eq!((m.preset, m.lambda_adv, m.rec_warmup, run.lr, run.max_steps), (MixingPreset::Full, 0.2, None, 1e-5, None));
    }
}
