//! Moving images between views: thumbnails of the current data are drag sources, image
//! slots are drop zones, and files dropped from the desktop can fill a slot too.

use std::path::{Path, PathBuf};

use patchwork_core::data::HostImage;
use patchwork_core::data::folder::decode_file;

use super::AppState;
use super::images::{CachedGrid, grid_image};

/// An image dragged from one place to another, with a name to show.
#[derive(Debug, Clone, PartialEq)]
pub struct DraggedImage {
    pub image: HostImage,
    pub label: String,
}

impl DraggedImage {
    /// Image `index` of the current data.
    pub fn from_data(state: &AppState, index: usize) -> Option<Self> {
        let source = state.data.source.as_ref()?;
        (index < source.len()).then(|| Self { image: source.get(index).image, label: format!("{} #{index}", source.info().name) })
    }

    /// A dropped or picked file; anything that does not decode is refused with its reason.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let image = decode_file(path).map_err(|e| format!("{name} is not a usable image: {e}"))?;
        Ok(Self { image, label: name })
    }
}

/// Files dropped on a view that takes images (`view` names it in messages). `None` when
/// they include a folder: the view declines them and they open as data. Otherwise the
/// decoded images; if one is unusable, none at all and a message naming it — bad input
/// changes nothing but the message.
pub fn images_dropped_on(view: &str, paths: &[PathBuf], state: &mut AppState) -> Option<Vec<DraggedImage>> {
    if paths.iter().any(|p| p.is_dir()) {
        return None;
    }
    match paths.iter().map(|p| DraggedImage::from_file(p)).collect() {
        Ok(images) => Some(images),
        Err(e) => {
            state.message = Some(format!("{view}: {e}"));
            Some(vec![])
        }
    }
}

/// The index of the grid cell under `pos` in a `columns`-wide grid of `count` cells shown
/// in `rect`.
pub fn cell_at(rect: egui::Rect, pos: egui::Pos2, columns: usize, count: usize) -> Option<usize> {
    if !rect.contains(pos) || count == 0 {
        return None;
    }
    let rows = count.div_ceil(columns.max(1));
    let col = ((pos.x - rect.left()) / rect.width() * columns as f32) as usize;
    let row = ((pos.y - rect.top()) / rect.height() * rows as f32) as usize;
    let index = row * columns + col.min(columns - 1);
    (index < count).then_some(index)
}

/// Where an image picked in one view should go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageDestination {
    SwapSource,
    SwapTarget,
    Traverse,
}

impl ImageDestination {
    pub const ALL: [ImageDestination; 3] = [Self::SwapSource, Self::SwapTarget, Self::Traverse];

    pub fn label(self) -> &'static str {
        match self {
            Self::SwapSource => "Use as Swap source",
            Self::SwapTarget => "Use as Swap target",
            Self::Traverse => "Traverse this image",
        }
    }

    /// The tab that shows it.
    pub fn view(self) -> &'static str {
        match self {
            Self::SwapSource | Self::SwapTarget => "Swap",
            Self::Traverse => "Traverse",
        }
    }
}

/// Shows images `0..count` of the current data as a grid whose thumbnails can be dragged
/// into image slots. Returns the index of a clicked thumbnail.
pub fn draggable_data_grid(ui: &mut egui::Ui, grid: &mut CachedGrid, state: &AppState, count: usize, columns: usize, width: f32) -> Option<usize> {
    data_grid_response(ui, grid, state, count, columns, width).and_then(|(clicked, _)| clicked)
}

/// [`draggable_data_grid`], also returning the grid's response (for context menus).
pub fn data_grid_response(ui: &mut egui::Ui, grid: &mut CachedGrid, state: &AppState, count: usize, columns: usize, width: f32) -> Option<(Option<usize>, egui::Response)> {
    let source = state.data.source.clone()?;
    let count = count.min(source.len());
    let key = (format!("data-grid-{columns}"), state.data.generation);
    let response = grid.ui(ui, key, || (0..count).map(|i| source.get(i).image).collect(), columns, width)?;
    let response = response.interact(egui::Sense::click_and_drag()).on_hover_cursor(egui::CursorIcon::Grab);
    let origin = ui.input(|i| i.pointer.press_origin());
    if response.drag_started() {
        if let Some(image) = origin.and_then(|p| cell_at(response.rect, p, columns, count)).and_then(|i| DraggedImage::from_data(state, i)) {
            egui::DragAndDrop::set_payload(ui.ctx(), image);
        }
    }
    if let Some(payload) = response.dnd_hover_payload::<DraggedImage>() {
        egui::Tooltip::always_open(ui.ctx().clone(), ui.layer_id(), egui::Id::unique("dragging-image"), egui::PopupAnchor::Pointer).show(|ui| {
            ui.label(&payload.label);
        });
    }
    let clicked = response.clicked().then(|| response.interact_pointer_pos()).flatten();
    Some((clicked.and_then(|p| cell_at(response.rect, p, columns, count)), response))
}

/// A place for one image that takes dragged thumbnails.
#[derive(Default)]
pub struct ImageSlot {
    pub image: Option<DraggedImage>,
    texture: Option<egui::TextureHandle>,
    /// Where the slot was drawn last frame (to route desktop drops to it).
    pub rect: Option<egui::Rect>,
}

impl ImageSlot {
    pub fn set(&mut self, image: DraggedImage) {
        self.image = Some(image);
        self.texture = None;
    }

    /// Shows the slot; returns true when an image was dropped into it this frame.
    pub fn ui(&mut self, ui: &mut egui::Ui, title: &str, side: f32) -> bool {
        let frame = egui::Frame::group(ui.style()).inner_margin(4.0);
        let (inner, dropped) = ui.dnd_drop_zone::<DraggedImage, ()>(frame, |ui| {
            ui.set_width(side);
            ui.vertical_centered(|ui| {
                ui.strong(title);
                match &self.image {
                    Some(image) => {
                        let texture = self.texture.get_or_insert_with(|| {
                            ui.ctx().load_texture(format!("slot-{title}"), grid_image(std::slice::from_ref(&image.image), 1), egui::TextureOptions::NEAREST)
                        });
                        ui.image((texture.id(), egui::vec2(side, side)));
                        ui.small(&image.label);
                    }
                    None => {
                        ui.add_sized([side, side], egui::Label::new("drop an image here").wrap());
                    }
                }
            });
        });
        self.rect = Some(inner.response.rect);
        match dropped {
            Some(image) => {
                self.set((*image).clone());
                true
            }
            None => false,
        }
    }
}

/// Puts `image` in the slot under the pointer, else in `first` while it is empty, else in
/// `second` (the two-slot views: Swap's source and target, Object transfer's object and
/// reference).
pub fn place_in_pair(first: &mut ImageSlot, second: &mut ImageSlot, image: DraggedImage, pointer: Option<egui::Pos2>) {
    let over = |slot: &ImageSlot| pointer.zip(slot.rect).is_some_and(|(p, r)| r.contains(p));
    if over(first) || (!over(second) && first.image.is_none()) {
        first.set(image);
    } else {
        second.set(image);
    }
}

/// The side strip of draggable thumbnails of the current data, with a hint above it;
/// returns the image of a clicked thumbnail.
pub fn thumbnail_strip_ui(ui: &mut egui::Ui, id: &str, hint: &str, grid: &mut CachedGrid, state: &AppState) -> Option<DraggedImage> {
    let mut clicked = None;
    egui::Panel::left(id.to_string()).resizable(true).default_size(190.0).show(ui, |ui| {
        ui.label(hint);
        egui::ScrollArea::vertical().show(ui, |ui| {
            let width = ui.available_width();
            clicked = draggable_data_grid(ui, grid, state, 64, 4, width).and_then(|i| DraggedImage::from_data(state, i));
        });
    });
    clicked
}
