//! The explorer's tabs, one module each.

pub mod data;
pub mod parts;
pub mod train;

use super::View;

pub fn all() -> Vec<Box<dyn View>> {
    vec![Box::new(data::DataView::default()), Box::new(train::TrainView::default()), Box::new(parts::PartsView::default())]
}
