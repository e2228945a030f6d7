//! The Factor swap tab's t-SNE maps (the cycle-consistent VAE report's Fig. 4.11/4.12): the
//! unspecified code z and the specified code s of a few thousand images of the open data,
//! side by side, one colour per class and the classes the run held out drawn apart; hover a
//! point for its image. Computed on a background thread with its progress shown, the
//! settings chosen before, and a Stop.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError, channel};

use egui_plot::{Legend, MarkerShape, Plot, PlotPoints, Points};
use patchwork_core::analysis::explorable::{ExplorableModel, ModelOrigin};
use patchwork_core::analysis::tsne::{MapOf, TsneSettings, embed, map_points};
use patchwork_core::data::{DataSpec, SharedSource, Split};
use patchwork_core::families::Value;

use crate::gui::images::CachedGrid;

/// One map's layout: a point per image, in the order of [`Maps::labels`].
pub type Layout = Vec<[f32; 2]>;

/// Both maps, as far as they are computed.
pub struct Maps {
    pub unspecified: Option<Layout>,
    pub specified: Option<Layout>,
    pub labels: Vec<Option<u32>>,
    /// Each point's image, in the source the maps were made of.
    pub indices: Vec<usize>,
    pub source: SharedSource,
    /// The classes the model's run held out of training.
    pub held_out: Vec<u32>,
    /// The model they are of (its generation in the model slot): maps of another model
    /// are put away when it changes.
    pub model_generation: u64,
    /// What the two maps show, as their titles.
    pub titles: [String; 2],
}

enum TsneEvent {
    /// The images are encoded: their labels, their indices in `source` (the test split, or
    /// the open data), and the classes the run held out.
    Encoded { labels: Vec<Option<u32>>, indices: Vec<usize>, held_out: Vec<u32>, source: SharedSource },
    /// A layout so far of map `map` (0: z, 1: s) after `epoch` epochs; `layout` every few
    /// epochs only, as drawing each of a thousand would cost more than it shows.
    Epoch { map: usize, epoch: usize, layout: Option<Layout> },
    Done,
    Stopped,
    Failed(String),
}

struct Running {
    stop: Arc<AtomicBool>,
    events: Receiver<TsneEvent>,
    /// Epochs done of both maps together, and in all.
    done: usize,
    total: usize,
}

/// Epochs between the layouts a running map sends to be drawn.
const DRAW_EVERY: usize = 25;

pub struct TsnePanel {
    pub settings: TsneSettings,
    /// Images of the open data mapped.
    pub images: usize,
    /// The z map's points: posterior means or samples.
    pub z_map: MapOf,
    /// Map the test split of the open data (images held out of training, as the report's
    /// figures) rather than the images open in Data.
    pub test_split: bool,
    running: Option<Running>,
    pub maps: Option<Maps>,
    pub error: Option<String>,
    /// The last outcome, for the status line ("stopped at …").
    pub note: Option<String>,
    hover: CachedGrid,
}

impl Default for TsnePanel {
    fn default() -> Self {
        Self { settings: TsneSettings::default(), images: 2000, z_map: MapOf::UnspecifiedMean, test_split: true, running: None, maps: None, error: None, note: None, hover: CachedGrid::default() }
    }
}

/// The classes a checkpoint's (or a live run's saved) config held out, if any.
fn held_out_of(model: &ExplorableModel) -> Vec<u32> {
    let (ModelOrigin::Checkpoint(dir) | ModelOrigin::LiveRun(Some(dir))) = &model.origin else { return vec![] };
    match patchwork_core::checkpoint::read_meta(dir).ok().and_then(|m| m.config.model.get("holdout_classes")) {
        Some(Value::Count(mask)) => patchwork_core::families::settings::classes_of(mask),
        _ => vec![],
    }
}

/// What a Compute asks for.
struct MapJob {
    model: ExplorableModel,
    /// The images open in Data, and their spec where the test split is to be mapped instead.
    source: SharedSource,
    test_of: Option<String>,
    images: usize,
    z_map: MapOf,
    settings: TsneSettings,
}

/// Encodes the job's images, then maps z and s in turn, telling `events` as it goes.
fn compute(job: MapJob, stop: &AtomicBool, events: &std::sync::mpsc::Sender<TsneEvent>) -> Result<bool, String> {
    let MapJob { model, source, test_of, images, z_map, settings } = job;
    let model = &model;
    let settings = &settings;
    let source = match test_of {
        Some(spec) => {
            let spec: DataSpec = spec.parse().map_err(|e: patchwork_core::data::DataError| e.to_string())?;
            spec.open(Split::Test, model.image_size()).map_err(|e| format!("the test split of {spec}: {e}"))?
        }
        None => source,
    };
    let points = map_points(model, &source, images, settings.seed)?;
    let _ = events.send(TsneEvent::Encoded { labels: points.labels.clone(), indices: points.indices.clone(), held_out: held_out_of(model), source });
    for (map, of) in [z_map, MapOf::Specified].into_iter().enumerate() {
        let layout = embed(points.of(of), settings, |epoch, flat| {
            if stop.load(Ordering::Relaxed) {
                return ControlFlow::Break(());
            }
            let drawn = (epoch % DRAW_EVERY == 0).then(|| flat.chunks_exact(2).map(|p| [p[0], p[1]]).collect());
            let _ = events.send(TsneEvent::Epoch { map, epoch: epoch + 1, layout: drawn });
            ControlFlow::Continue(())
        })?;
        match layout {
            Some(layout) => {
                let _ = events.send(TsneEvent::Epoch { map, epoch: settings.epochs, layout: Some(layout) });
            }
            None => return Ok(false),
        }
    }
    Ok(true)
}

impl TsnePanel {
    pub fn busy(&self) -> bool {
        self.running.is_some()
    }

    /// Starts both maps of `model` (of generation `model_generation`) over `source` (or
    /// the test split of `spec`, its spec, where the panel says so), replacing any maps
    /// shown.
    pub fn start(&mut self, model: &ExplorableModel, model_generation: u64, source: &SharedSource, spec: &str) {
        self.stop();
        let images = if self.test_split { self.images } else { self.images.min(source.len()) };
        if let Err(e) = self.settings.validate(images) {
            self.error = Some(e);
            return;
        }
        let (unspecified, specified) = model.split().map_or(("z", "s"), |(names, _)| (names.unspecified, names.specified));
        let z = if self.z_map == MapOf::UnspecifiedSample { format!("{unspecified} (a sample)") } else { format!("{unspecified} (μ)") };
        self.maps = Some(Maps { unspecified: None, specified: None, labels: vec![], indices: vec![], source: source.clone(), held_out: vec![], model_generation, titles: [z, specified.to_string()] });
        self.error = None;
        self.note = None;
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = channel();
        let job = MapJob { model: model.clone(), source: source.clone(), test_of: self.test_split.then(|| spec.to_string()), images, z_map: self.z_map, settings: self.settings };
        let flag = stop.clone();
        std::thread::spawn(move || {
            let end = match compute(job, &flag, &tx) {
                Ok(true) => TsneEvent::Done,
                Ok(false) => TsneEvent::Stopped,
                Err(e) => TsneEvent::Failed(e),
            };
            let _ = tx.send(end);
        });
        self.running = Some(Running { stop, events: rx, done: 0, total: 2 * self.settings.epochs });
    }

    /// Asks the maps in progress to stop after their current epoch.
    pub fn stop(&mut self) {
        if let Some(r) = &self.running {
            r.stop.store(true, Ordering::Relaxed);
        }
    }

    /// Takes what the background thread said since the last frame.
    pub fn poll(&mut self) {
        let Some(running) = &mut self.running else { return };
        let epochs = self.settings.epochs;
        loop {
            let event = match running.events.try_recv() {
                Ok(event) => event,
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => TsneEvent::Failed("the t-SNE thread ended without a word".into()),
            };
            match event {
                TsneEvent::Encoded { labels, indices, held_out, source } => {
                    if let Some(maps) = &mut self.maps {
                        (maps.labels, maps.indices, maps.held_out, maps.source) = (labels, indices, held_out, source);
                    }
                }
                TsneEvent::Epoch { map, epoch, layout } => {
                    running.done = map * epochs + epoch;
                    if let (Some(maps), Some(layout)) = (&mut self.maps, layout) {
                        *(if map == 0 { &mut maps.unspecified } else { &mut maps.specified }) = Some(layout);
                    }
                }
                TsneEvent::Done | TsneEvent::Stopped | TsneEvent::Failed(_) => {
                    match event {
                        TsneEvent::Stopped => self.note = Some(format!("stopped after {} of {} epochs", running.done, running.total)),
                        TsneEvent::Failed(e) => self.error = Some(e),
                        _ => {}
                    }
                    self.running = None;
                    return;
                }
            }
        }
    }

    /// `model` is the model open (of generation `model_generation`), `source` the data
    /// open in Data, `spec` its spec (for its test split).
    pub fn ui(&mut self, ui: &mut egui::Ui, (model, model_generation): (&ExplorableModel, u64), source: Option<&SharedSource>, spec: &str) {
        if self.maps.as_ref().is_some_and(|m| m.model_generation != model_generation) {
            // Another model is open: these maps are not of it (a run still going is let go).
            self.stop();
            (self.running, self.maps, self.note, self.error) = (None, None, None, None);
        }
        self.poll();
        ui.horizontal_wrapped(|ui| {
            let idle = self.running.is_none();
            ui.add_enabled_ui(idle, |ui| {
                ui.label("images");
                ui.add(egui::DragValue::new(&mut self.images).range(50..=20_000)).on_hover_text("images of the open data mapped, spread evenly over it");
                ui.label("perplexity");
                ui.add(egui::DragValue::new(&mut self.settings.perplexity).range(2.0..=100.0).speed(0.5)).on_hover_text("about how many neighbours each point keeps close (van der Maaten: 5…50)");
                ui.label("iterations");
                ui.add(egui::DragValue::new(&mut self.settings.epochs).range(50..=5000).speed(10)).on_hover_text("gradient steps of each map (the original's 1,000)");
                ui.checkbox(&mut self.test_split, "test images").on_hover_text("the open data's test split, images the model never trained on (as the report's maps); off: the images open in Data");
                egui::ComboBox::from_id_salt("tsne-z").selected_text(if self.z_map == MapOf::UnspecifiedSample { "z: a sample" } else { "z: posterior mean" }).show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.z_map, MapOf::UnspecifiedMean, "z: posterior mean");
                    ui.selectable_value(&mut self.z_map, MapOf::UnspecifiedSample, "z: a sample");
                });
            });
            match (&self.running, source) {
                (Some(r), _) => {
                    ui.add(egui::ProgressBar::new(r.done as f32 / r.total.max(1) as f32).desired_width(160.0).text(format!("epoch {} of {}", r.done, r.total)));
                    if ui.button("Stop").clicked() {
                        self.stop();
                    }
                    ui.ctx().request_repaint();
                }
                (None, Some(source)) => {
                    if ui.button("Compute maps").on_hover_text("t-SNE of z and of s, one after the other, on a background thread").clicked() {
                        self.start(model, model_generation, source, spec);
                    }
                }
                (None, None) => {
                    ui.label("open data to map");
                }
            }
        });
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
        if let Some(note) = &self.note {
            ui.label(note);
        }
        let Some(maps) = &self.maps else {
            ui.label("Each image's z and s as a point in 2-D, near the points of images whose codes are near (t-SNE): s should gather by class, z should not.");
            return;
        };
        let width = (ui.available_width() - 12.0) / 2.0;
        // Square maps as large as the panel leaves room for (measured here: inside the row
        // below, the height left is the row's own).
        let side = width.min(ui.available_height() - 30.0).max(200.0);
        let mut hovered = None;
        ui.horizontal(|ui| {
            for (map, layout) in [&maps.unspecified, &maps.specified].into_iter().enumerate() {
                ui.vertical(|ui| {
                    ui.label(&maps.titles[map]);
                    if let Some(hit) = map_ui(ui, map, layout.as_deref(), maps, [width, side]) {
                        hovered = Some(hit);
                    }
                });
            }
        });
        if let Some((point, response)) = hovered {
            let (label, index) = (maps.labels.get(point).copied().flatten(), maps.indices.get(point).copied().unwrap_or(0));
            let class = label.map_or("no class".to_string(), |l| format!("class {}{}", class_name(&maps.source, l), if maps.held_out.contains(&l) { " (held out of training)" } else { "" }));
            let hover = &mut self.hover;
            response.on_hover_ui_at_pointer(|ui| {
                hover.ui(ui, ("tsne-hover".into(), index as u64), || vec![maps.source.get(index).image], 1, 84.0);
                ui.label(format!("{class} · image {index}"));
            });
        }
    }
}

fn class_name(source: &SharedSource, label: u32) -> String {
    source.info().class_names.get(label as usize).cloned().unwrap_or_else(|| label.to_string())
}

/// Ten colours apart (matplotlib's tab10, the report's figures' look), then hues.
fn class_colour(label: u32) -> egui::Color32 {
    const TAB10: [(u8, u8, u8); 10] = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)];
    match TAB10.get(label as usize) {
        Some(&(r, g, b)) => egui::Color32::from_rgb(r, g, b),
        None => egui::ecolor::Hsva::new((label as f32 * 0.618_034).fract(), 0.75, 0.85, 1.0).into(),
    }
}

/// One map: a series per class (held-out classes as hollow diamonds), and the point under
/// the pointer, if one is within a few pixels.
fn map_ui(ui: &mut egui::Ui, map: usize, layout: Option<&[[f32; 2]]>, maps: &Maps, [width, height]: [f32; 2]) -> Option<(usize, egui::Response)> {
    let plot = Plot::new(("tsne", map)).width(width).height(height).data_aspect(1.0).show_axes(false).show_grid(false).legend(Legend::default()).show_x(false).show_y(false);
    let Some(layout) = layout else {
        ui.add_sized([width, height], egui::Spinner::new());
        return None;
    };
    let mut classes: Vec<Option<u32>> = maps.labels.clone();
    classes.sort();
    classes.dedup();
    let shown = plot.show(ui, |plot_ui| {
        for class in &classes {
            let points: Vec<[f64; 2]> = layout.iter().zip(&maps.labels).filter(|(_, l)| *l == class).map(|(p, _)| [p[0] as f64, p[1] as f64]).collect();
            let held_out = class.is_some_and(|c| maps.held_out.contains(&c));
            let name = match class {
                Some(c) if held_out => format!("{} (held out)", class_name(&maps.source, *c)),
                Some(c) => class_name(&maps.source, *c),
                None => "no class".into(),
            };
            let colour = class.map_or(egui::Color32::GRAY, class_colour);
            let series = Points::new(name, PlotPoints::new(points)).color(colour);
            plot_ui.points(if held_out { series.shape(MarkerShape::Diamond).filled(false).radius(3.5) } else { series.shape(MarkerShape::Circle).radius(1.8) });
        }
    });
    let pointer = shown.response.hover_pos()?;
    let (nearest, distance) = layout
        .iter()
        .enumerate()
        .map(|(i, p)| (i, shown.transform.position_from_point(&egui_plot::PlotPoint::new(p[0], p[1])).distance(pointer)))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    (distance < 8.0).then_some((nearest, shown.response))
}
