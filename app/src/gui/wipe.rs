//! A before/after wipe (what Rerun users ask for, rerun#4610): two images of one scene in
//! one place, the "after" image left of a divider and the "before" image right of it. Drag
//! (or click) anywhere on it to move the divider, so a change shows where it happens
//! instead of between two thumbnails side by side.

use patchwork_core::data::HostImage;

use crate::gui::images::grid_image;

pub struct Wipe {
    key: Option<(String, u64)>,
    /// Before, after.
    textures: Option<[egui::TextureHandle; 2]>,
    /// The divider, from 0 (all "before") to 1 (all "after").
    pub position: f32,
    /// Where the wipe was drawn last (for tests).
    pub last_rect: Option<egui::Rect>,
}

impl Default for Wipe {
    fn default() -> Self {
        Self { key: None, textures: None, position: 0.5, last_rect: None }
    }
}

/// How wide the views draw a wipe, in points.
pub const WIPE_SIDE: f32 = 240.0;

/// The divider's colour: visible on black, white and colour images alike.
const DIVIDER: egui::Color32 = egui::Color32::from_rgb(255, 196, 0);

impl Wipe {
    /// Shows `images()` (before, after; made only when `key` changes) at `side` points
    /// across, with `names` (before, after) said under it.
    pub fn ui(&mut self, ui: &mut egui::Ui, key: (String, u64), images: impl FnOnce() -> [HostImage; 2], side: f32, names: [&str; 2]) -> Option<egui::Response> {
        if self.key.as_ref() != Some(&key) || self.textures.is_none() {
            let [before, after] = images();
            let load = |name: &str, image: &HostImage| ui.ctx().load_texture(format!("{}-{name}", key.0), grid_image(std::slice::from_ref(image), 1), egui::TextureOptions::NEAREST);
            self.textures = Some([load("before", &before), load("after", &after)]);
            self.key = Some(key);
        }
        let [before, after] = self.textures.as_ref()?;
        let size = before.size_vec2();
        let scale = side / size.x.max(size.y).max(1.0);
        let (rect, response) = ui.allocate_exact_size(size * scale, egui::Sense::click_and_drag());
        // Where the button is held (not where the pointer went by the frame it was let go in:
        // a quick release and move would fling the divider), or where a click pressed.
        let pointer = if response.is_pointer_button_down_on() {
            response.interact_pointer_pos()
        } else if response.clicked() {
            ui.input(|i| i.pointer.press_origin())
        } else {
            None
        };
        if let Some(pointer) = pointer {
            self.position = ((pointer.x - rect.left()) / rect.width()).clamp(0.0, 1.0);
        }
        let painter = ui.painter_at(rect);
        let whole = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
        painter.image(before.id(), rect, whole, egui::Color32::WHITE);
        let split = rect.left() + rect.width() * self.position;
        let left = egui::Rect::from_min_max(rect.min, egui::pos2(split, rect.bottom()));
        painter.image(after.id(), left, egui::Rect::from_min_max(whole.min, egui::pos2(self.position, 1.0)), egui::Color32::WHITE);
        painter.vline(split, rect.y_range(), egui::Stroke::new(2.0, DIVIDER));
        self.last_rect = Some(rect);
        ui.label(format!("left of the line: {}; right of it: {} (drag across to wipe)", names[1], names[0]));
        Some(response.on_hover_cursor(egui::CursorIcon::ResizeHorizontal))
    }
}
