//! Factor swap (a model whose latent splits in two: the cycle-consistent VAE's class s and
//! style z, the reference-based VAE's target factors e and common factors z): the swap grid
//! (cycle report Fig. 4.1, reference VAE Fig. 4/8: cell = the row image's z with the column
//! image's s or e), the 2-D interpolation (Fig. 4.9), sampling (cycle Fig. 4.10: each
//! column's class with random styles; reference Fig. 3/7, conditional synthesis: each row
//! image's z with a random e shared down each column), and where e has a prior the random
//! grid (Fig. 9: panels share e, positions share z) and the reference decode G(z, e_r).
//! Images come from the open data, drawn again with Shuffle, or from files dropped on the
//! view (an unseen class, another dataset), which take either side.

use patchwork_core::analysis::explorable::{ExplorableModel, ModelOrigin};
use patchwork_core::analysis::split::{SplitGrid, conditional_grid, fit_to, interpolation_grid, random_grid, reference_grid, sample_grid, swap_grid};
use patchwork_core::capabilities::Capability;
use patchwork_core::data::HostImage;
use rand::{Rng, SeedableRng};

use crate::gui::image_drop::{DraggedImage, ImageSlot, images_dropped_on, place_in_pair, thumbnail_strip_ui};
use crate::gui::images::CachedGrid;
use crate::gui::jobs::{LatestJob, store};
use crate::gui::{AppState, View};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SplitMode {
    #[default]
    Swap,
    Interpolate,
    Sample,
    /// Both parts from the prior (models whose specified part has one).
    Random,
    /// Each image decoded with the reference code (models that learned one).
    Reference,
    /// t-SNE maps of both parts (see `TsnePanel`).
    Tsne,
}

impl SplitMode {
    const ALL: [SplitMode; 6] = [SplitMode::Swap, SplitMode::Interpolate, SplitMode::Sample, SplitMode::Random, SplitMode::Reference, SplitMode::Tsne];

    /// Its button, or `None` where `model` cannot do it.
    fn name(self, model: &ExplorableModel) -> Option<&'static str> {
        let split = model.model.split()?;
        let prior = split.specified_prior();
        match self {
            SplitMode::Swap => Some(if prior { "attribute transfer" } else { "swap grid" }),
            SplitMode::Interpolate => Some("interpolate"),
            SplitMode::Sample => Some(if prior { "conditional synthesis" } else { "sample styles" }),
            SplitMode::Random => prior.then_some("random grid"),
            SplitMode::Reference => split.reference().is_some().then_some("reference style"),
            SplitMode::Tsne => Some("t-SNE"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Key {
    model_generation: u64,
    data_generation: u64,
    mode: SplitMode,
    count: usize,
    draw: u64,
    dropped: u64,
    dropped_to_rows: bool,
}

/// A computed grid with the images it came from.
#[derive(Debug, Clone)]
pub struct SplitResult {
    pub mode: SplitMode,
    /// Row headers (style sources) and column headers (class sources).
    pub style_from: Vec<HostImage>,
    pub class_from: Vec<HostImage>,
    pub grid: SplitGrid,
}

pub struct SplitView {
    pub mode: SplitMode,
    /// Images per side.
    pub count: usize,
    /// Shuffle count: which images of the data are drawn.
    pub draw: u64,
    /// Files dropped on the view: they supply the columns' factors (class s, target e), or
    /// with `dropped_to_rows` the rows' (z); the data the other side.
    pub dropped: Vec<HostImage>,
    pub dropped_to_rows: bool,
    dropped_generation: u64,
    requested: Option<Key>,
    job: LatestJob<Result<SplitResult, String>>,
    pub result: Option<SplitResult>,
    pub error: Option<String>,
    /// Results received, so the drawn grid follows each.
    received: u64,
    /// The checkpoint last asked what data it trained on, and the answer.
    trained_on: Option<(std::path::PathBuf, Option<String>)>,
    /// How many images of each class "Export labelled…" writes.
    export_per_class: usize,
    output: CachedGrid,
    /// The grid as drawn (headers and cells) for the result received last, and its columns.
    shown: Option<(u64, Vec<HostImage>, usize)>,
    /// One transfer: A gives the specified factors (class s, target e), B the rest (z).
    pub pair: PairTransfer,
    pub thumbnails: CachedGrid,
    pub tsne: super::tsne::TsnePanel,
}

/// Attribute transfer between two images the user picks: Dec(z of B, s or e of A).
#[derive(Default)]
pub struct PairTransfer {
    /// A: the specified factors' image.
    pub specified_from: ImageSlot,
    /// B: the image whose z is kept.
    pub unspecified_from: ImageSlot,
    generation: u64,
    requested: Option<(u64, u64)>,
    job: LatestJob<Result<HostImage, String>>,
    pub result: Option<HostImage>,
    pub error: Option<String>,
    received: u64,
    shown: CachedGrid,
}

impl PairTransfer {
    pub fn busy(&self) -> bool {
        self.job.busy()
    }

    /// Puts an image in the slot under the pointer, else the first empty one.
    pub fn place(&mut self, image: DraggedImage, pointer: Option<egui::Pos2>) {
        place_in_pair(&mut self.specified_from, &mut self.unspecified_from, image, pointer);
        self.generation += 1;
    }

    /// A becomes B and B becomes A.
    pub fn swap_roles(&mut self) {
        let (a, b) = (self.specified_from.image.take(), self.unspecified_from.image.take());
        if let Some(b) = b {
            self.specified_from.set(b);
        }
        if let Some(a) = a {
            self.unspecified_from.set(a);
        }
        self.generation += 1;
    }

    fn update(&mut self, model: &ExplorableModel, model_generation: u64) {
        if let Some(outcome) = self.job.poll() {
            store(outcome, &mut self.result, &mut self.error);
            self.received += 1;
        }
        let (Some(a), Some(b)) = (&self.specified_from.image, &self.unspecified_from.image) else { return };
        let key = (model_generation, self.generation);
        if self.requested == Some(key) {
            return;
        }
        self.requested = Some(key);
        let (model, a, b) = (model.clone(), a.image.clone(), b.image.clone());
        self.job.request(move || swap_grid(&model, &[b], &[a])?.images.into_iter().next().ok_or_else(|| "nothing decoded".to_string()));
    }

    fn ui(&mut self, ui: &mut egui::Ui, model: &ExplorableModel, generation: u64) {
        self.update(model, generation);
        let (style, class) = part_names(model);
        ui.horizontal(|ui| {
            let side = 96.0;
            if self.specified_from.ui(ui, &format!("{class} from (A)"), side) {
                self.generation += 1;
            }
            if self.unspecified_from.ui(ui, &format!("{style} from (B)"), side) {
                self.generation += 1;
            }
            ui.vertical(|ui| {
                if ui.button("Swap roles").on_hover_text("A's image becomes B's and B's A's").clicked() {
                    self.swap_roles();
                }
                if self.job.busy() {
                    ui.spinner();
                }
            });
            ui.vertical(|ui| {
                ui.strong(format!("B with A's {class}"));
                match &self.result {
                    Some(image) => {
                        let image = image.clone();
                        self.shown.ui(ui, ("pair".into(), self.received), || vec![image], 1, side);
                    }
                    None => {
                        ui.label(format!("Drag a thumbnail onto each slot: the result is B's {style} with A's {class}."));
                    }
                }
            });
        });
        if let Some(e) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    }
}

impl Default for SplitView {
    fn default() -> Self {
        Self { mode: SplitMode::Swap, count: 6, draw: 0, dropped: vec![], dropped_to_rows: false, dropped_generation: 0, requested: None, job: LatestJob::default(), result: None, error: None, received: 0, trained_on: None, export_per_class: 100, output: CachedGrid::default(), shown: None, pair: PairTransfer::default(), thumbnails: CachedGrid::default(), tsne: Default::default() }
    }
}

/// What the model calls its two parts, (unspecified, specified): ("style z", "class s"),
/// ("common z", "target e").
fn part_names(model: &ExplorableModel) -> (&'static str, &'static str) {
    model.split().map_or(("style", "class"), |(n, _)| (n.unspecified, n.specified))
}

/// `n` images of the data, drawn from `seed`.
fn draw_images(state: &AppState, n: usize, seed: u64) -> Vec<HostImage> {
    let Some(source) = &state.data.source else { return vec![] };
    if source.is_empty() {
        return vec![];
    }
    let mut rng = patchwork_core::rng::SeededRng::seed_from_u64(seed);
    (0..n).map(|_| source.get(rng.random_range(0..source.len())).image).collect()
}

fn compute(model: &ExplorableModel, mode: SplitMode, style_from: Vec<HostImage>, class_from: Vec<HostImage>, draw: u64) -> Result<SplitResult, String> {
    let grid = match mode {
        SplitMode::Swap => swap_grid(model, &style_from, &class_from)?,
        SplitMode::Interpolate => {
            let (Some(a), Some(b)) = (style_from.first(), class_from.first()) else { return Err("no images".into()) };
            interpolation_grid(model, a, b, class_from.len().max(2))?
        }
        SplitMode::Sample if model.model.split().is_some_and(|s| s.specified_prior()) => {
            // The columns' codes are drawn, not taken from images: no column sources.
            let grid = conditional_grid(model, &style_from, class_from.len(), draw)?;
            return Ok(SplitResult { mode, style_from, class_from: vec![], grid });
        }
        SplitMode::Sample => sample_grid(model, &class_from, style_from.len(), draw)?,
        SplitMode::Random => random_grid(model, 3, 3, draw)?,
        SplitMode::Reference => reference_grid(model, &style_from)?,
        SplitMode::Tsne => return Err("the t-SNE maps are no grid".into()),
    };
    Ok(SplitResult { mode, style_from, class_from, grid })
}

impl SplitView {
    pub fn update(&mut self, state: &AppState) {
        if let Some(outcome) = self.job.poll() {
            store(outcome, &mut self.result, &mut self.error);
            self.received += 1;
        }
        let Some(model) = state.model.current().filter(|m| m.offers(Capability::Split)) else { return };
        if self.mode.name(model).is_none() {
            self.mode = SplitMode::Swap;
        }
        if self.mode == SplitMode::Tsne {
            // Its maps are computed when asked for, not for every change.
            return;
        }
        let key = Key { model_generation: state.model.generation, data_generation: state.data.generation, mode: self.mode, count: self.count, draw: self.draw, dropped: self.dropped_generation, dropped_to_rows: self.dropped_to_rows };
        if self.requested.as_ref() == Some(&key) {
            return;
        }
        let n = self.count.max(2);
        let drawn = |side: u64| draw_images(state, n, self.draw.wrapping_mul(2) + side);
        let (style_from, class_from) = match (self.dropped.is_empty(), self.dropped_to_rows) {
            (true, _) => (drawn(0), drawn(1)),
            (false, false) => (drawn(0), self.dropped.clone()),
            (false, true) => (self.dropped.clone(), drawn(1)),
        };
        if style_from.is_empty() || class_from.is_empty() {
            return;
        }
        self.requested = Some(key);
        let (model, mode, draw) = (model.clone(), self.mode, self.draw);
        self.job.request(move || compute(&model, mode, style_from, class_from, draw));
    }

    pub fn busy(&self) -> bool {
        self.job.busy() || self.pair.busy() || self.tsne.busy()
    }

    /// The grid as shown: a blank corner, the class sources along the top, each row's style
    /// source on its left (interpolation: the two corner images on the diagonal's ends).
    fn laid_out(r: &SplitResult) -> (Vec<HostImage>, usize) {
        let Some(first) = r.grid.images.first() else { return (vec![], 1) };
        match r.mode {
            SplitMode::Interpolate => {
                // The two corner images at the ends of the diagonal.
                let (mut out, columns) = r.grid.with_headers(None, None);
                let blank = out[0].clone();
                if let (Some(a), Some(b)) = (r.style_from.first(), r.class_from.first()) {
                    out[r.grid.columns] = fit_to(b, first, &blank);
                    out[columns] = fit_to(a, first, &blank);
                }
                (out, columns)
            }
            SplitMode::Swap | SplitMode::Sample => {
                // Headers where the grid took an image: both sides in the swap; in sampling
                // the side that was not drawn (conditional synthesis: the rows).
                let conditional = r.mode == SplitMode::Sample && r.class_from.is_empty();
                let column_headers = (r.mode == SplitMode::Swap || !conditional).then_some(r.class_from.as_slice());
                let row_headers = (r.mode == SplitMode::Swap || conditional).then_some(r.style_from.as_slice());
                r.grid.with_headers(column_headers, row_headers)
            }
            SplitMode::Random => (r.grid.images.clone(), r.grid.columns),
            SplitMode::Tsne => (vec![], 1),
            SplitMode::Reference => {
                // The inputs, their reconstructions, and the same in the reference style.
                let blank = HostImage::new(first.width, first.height, first.channels, vec![0; first.pixels.len()]);
                let mut out: Vec<HostImage> = r.style_from.iter().take(r.grid.columns).map(|i| fit_to(i, first, &blank)).collect();
                out.extend(r.grid.images.iter().cloned());
                (out, r.grid.columns)
            }
        }
    }

    /// The data spec the model trained on, read once per checkpoint.
    fn trained_on(&mut self, model: &ExplorableModel) -> Option<String> {
        let ModelOrigin::Checkpoint(dir) = &model.origin else { return None };
        if self.trained_on.as_ref().is_none_or(|(d, _)| d != dir) {
            let data = patchwork_core::checkpoint::read_meta(dir).ok().map(|m| m.config.data);
            self.trained_on = Some((dir.clone(), data));
        }
        self.trained_on.as_ref().and_then(|(_, data)| data.clone())
    }

    fn caption(&self, model: &ExplorableModel) -> String {
        let (z, s) = model.split().map_or((0, 0), |(_, dims)| dims);
        let (style, class) = part_names(model);
        let prior = model.model.split().is_some_and(|s| s.specified_prior());
        match self.mode {
            SplitMode::Swap => format!("cell = the {style} of the image on the left of its row ({z}-d) with the {class} of the image above its column ({s}-d); the diagonal of the same images is each one's reconstruction"),
            SplitMode::Interpolate => format!("{style} from the top-left image (row 1) to the bottom-right one's (last row); {class} likewise across the columns; corners: the two reconstructions"),
            SplitMode::Sample if prior => format!("each row keeps the {style} of the image on its left; each column draws one {class} from N(0, I), the same down the column (Shuffle draws new ones)"),
            SplitMode::Sample => format!("each column keeps the {class} of the image above it; each row draws a {style} from N(0, I)"),
            SplitMode::Random => format!("three panels, each with one {class} from N(0, I); the same position in every panel has the same {style}, also drawn (Shuffle draws new ones)"),
            SplitMode::Reference => format!("top: images of the data; middle: their reconstructions; bottom: each image's {style} with the learned reference {class} e_r, the image in the reference pool's style"),
            SplitMode::Tsne => format!("t-SNE maps of the {style} ({z}-d) and the {class} ({s}-d) of the open data's test images (or the images open in Data), one colour per class"),
        }
    }
}

impl View for SplitView {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn name(&self) -> &'static str {
        "Factor swap"
    }

    fn on_dropped(&mut self, paths: &[std::path::PathBuf], pointer: Option<egui::Pos2>, state: &mut AppState) -> bool {
        let Some(images) = images_dropped_on("Factor swap", paths, state) else { return false };
        // One file over a pair slot goes into it; others give a side of the grid.
        let over_slot = pointer.is_some_and(|p| [&self.pair.specified_from, &self.pair.unspecified_from].iter().any(|s| s.rect.is_some_and(|r| r.contains(p))));
        if over_slot && self.mode == SplitMode::Swap {
            for image in images {
                self.pair.place(image, pointer);
            }
        } else if !images.is_empty() {
            self.dropped = images.into_iter().map(|d| d.image).take(12).collect();
            self.dropped_generation += 1;
        }
        true
    }

    fn ui(&mut self, ui: &mut egui::Ui, state: &mut AppState) {
        if self.mode == SplitMode::Swap && state.model.current().is_some_and(|m| m.offers(Capability::Split)) {
            if let Some(image) = thumbnail_strip_ui(ui, "factor-swap-thumbnails", "Drag a thumbnail onto A or B (click: fills the next slot)", &mut self.thumbnails, state) {
                self.pair.place(image, None);
            }
        }
        egui::CentralPanel::default().show(ui, |ui| {
            let Some(model) = super::model_offering_ui(ui, state, Capability::Split, "Factor swap") else { return };
            self.update(state);
            ui.horizontal(|ui| {
                for mode in SplitMode::ALL {
                    if let Some(name) = mode.name(&model) {
                        ui.selectable_value(&mut self.mode, mode, name);
                    }
                }
                if self.mode == SplitMode::Tsne {
                    return;
                }
                ui.separator();
                ui.add(egui::Slider::new(&mut self.count, 2..=10).text("images per side"));
                if ui.button("Shuffle").on_hover_text("draw other images from the data").clicked() {
                    self.draw += 1;
                }
                if !self.dropped.is_empty() && ui.button("Forget dropped files").clicked() {
                    self.dropped.clear();
                    self.dropped_generation += 1;
                }
                if self.job.busy() {
                    ui.spinner();
                }
            });
            // The model's own data, offered where other data is open (a model trained on
            // digits swaps digits best; other images work too, as the report's cross-dataset
            // transfers).
            if let Some(data) = self.trained_on(&model) {
                if data != state.data.spec && ui.button(format!("Use the data it trained on ({data})")).clicked() {
                    state.open_spec(&data);
                }
            }
            if self.mode == SplitMode::Tsne {
                ui.label(self.caption(&model));
                self.tsne.ui(ui, (&model, state.model.generation), state.data.source.as_ref(), &state.data.spec);
                return;
            }
            if self.mode == SplitMode::Swap {
                self.pair.ui(ui, &model, state.model.generation);
                ui.separator();
            }
            ui.label(self.caption(&model));
            let (style, class) = part_names(&model);
            ui.horizontal(|ui| {
                ui.label(if self.dropped.is_empty() {
                    format!("Drop image files here: they give the {} (images it never saw, another dataset); the data gives the other side.", if self.dropped_to_rows { style } else { class })
                } else {
                    format!("{} dropped file(s) give the {}; the data gives the other side.", self.dropped.len(), if self.dropped_to_rows { style } else { class })
                });
                let swap = ui.checkbox(&mut self.dropped_to_rows, format!("dropped files give the {style} (rows)")).on_hover_text(format!("off: dropped files give the {class} (columns)"));
                if swap.changed() {
                    self.dropped_generation += 1;
                }
            });
            if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            let Some(r) = &self.result else { return };
            // Laid out once per result, not per frame (headers are resized).
            if self.shown.as_ref().is_none_or(|(received, ..)| *received != self.received) {
                let (images, columns) = Self::laid_out(r);
                self.shown = Some((self.received, images, columns));
            }
            let Some((_, images, columns)) = &self.shown else { return };
            let columns = *columns;
            let width = ui.available_width().min(columns as f32 * 72.0);
            let key = (format!("split-{:?}", r.mode), self.received);
            self.output.ui(ui, key, || images.clone(), columns, width);
            ui.horizontal(|ui| {
                if ui.button("Export PNG…").clicked() {
                    state.export_png(images.clone(), columns, "factor-swap.png");
                }
                let labelled = state.data.source.as_ref().filter(|s| r.mode == SplitMode::Sample && !r.class_from.is_empty() && !s.is_empty() && s.label(0).is_some());
                if let Some(source) = labelled {
                    ui.add(egui::DragValue::new(&mut self.export_per_class).range(1..=10_000).suffix(" of each class"));
                    let button = ui.button("Export labelled…").on_hover_text(format!("new images for every class of the data, each with the {class} of a random image of its class and a {style} drawn from N(0, I), written into a folder with one sub-folder per class (the report's data augmentation); open it as data to train on it"));
                    if button.clicked() {
                        state.export_labelled(crate::gui::dialogs::LabelledExport { model: model.clone(), source: source.clone(), per_class: self.export_per_class, seed: self.draw });
                    }
                }
            });
        });
        if self.job.busy() {
            ui.ctx().request_repaint();
        }
    }
}
