//! Showing host images: grids packed into one texture each.

use patchwork_core::data::HostImage;

/// Packs images into one `columns`-wide grid image (1 px gaps), RGB.
pub fn grid_image(images: &[HostImage], columns: usize) -> egui::ColorImage {
    let columns = columns.max(1).min(images.len().max(1));
    let rows = images.len().div_ceil(columns).max(1);
    let (w, h) = images.first().map_or((1, 1), |i| (i.width, i.height));
    let (gw, gh) = (columns * (w + 1) - 1, rows * (h + 1) - 1);
    let mut pixels = vec![egui::Color32::from_gray(40); gw * gh];
    for (k, img) in images.iter().enumerate() {
        let (ox, oy) = ((k % columns) * (w + 1), (k / columns) * (h + 1));
        let rgb = img.to_rgb();
        for y in 0..h.min(img.height) {
            for x in 0..w.min(img.width) {
                let p = &rgb.pixels[(y * img.width + x) * 3..][..3];
                pixels[(oy + y) * gw + ox + x] = egui::Color32::from_rgb(p[0], p[1], p[2]);
            }
        }
    }
    egui::ColorImage::new([gw, gh], pixels)
}

pub use patchwork_core::analysis::heat::overlay;

/// A grid texture that is rebuilt only when its content key changes.
#[derive(Default)]
pub struct CachedGrid {
    key: Option<(String, u64)>,
    texture: Option<egui::TextureHandle>,
    /// Where the grid was drawn last (for hit tests and for tests).
    pub last_rect: Option<egui::Rect>,
}

impl CachedGrid {
    /// Shows `images` as a grid `columns` wide, scaled to `width` points.
    /// `images` is called only when `key` differs from the cached one.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        key: (String, u64),
        images: impl FnOnce() -> Vec<HostImage>,
        columns: usize,
        width: f32,
    ) -> Option<egui::Response> {
        if self.key.as_ref() != Some(&key) || self.texture.is_none() {
            let images = images();
            if images.is_empty() {
                return None;
            }
            let image = grid_image(&images, columns);
            self.texture = Some(ui.ctx().load_texture(key.0.clone(), image, egui::TextureOptions::NEAREST));
            self.key = Some(key);
        }
        let texture = self.texture.as_ref()?;
        let size = texture.size_vec2();
        let scale = (width / size.x).max(0.1);
        let response = ui.image((texture.id(), size * scale));
        self.last_rect = Some(response.rect);
        Some(response)
    }
}

/// Saves a grid of images as PNG.
pub fn save_grid_png(images: &[HostImage], columns: usize, path: &std::path::Path) -> anyhow::Result<()> {
    let grid = grid_image(images, columns);
    let [w, h] = grid.size;
    let bytes: Vec<u8> = grid.pixels.iter().flat_map(|c| [c.r(), c.g(), c.b()]).collect();
    image::RgbImage::from_raw(w as u32, h as u32, bytes)
        .ok_or_else(|| anyhow::anyhow!("empty grid"))?
        .save(path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}
