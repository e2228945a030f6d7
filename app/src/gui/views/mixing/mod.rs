//! The mixing-scenes views (thesis §4.2, Fig. 3.7, Fig. 4.2): Object transfer, Auto-mix,
//! Neighbours. Quadrants and mask bits are in the core's chunk order, row-major TL, TR, BL,
//! BR, 1 = taken from the other image; every view says so.

pub mod automix;
pub mod neighbours;
pub mod transfer;

use std::sync::Arc;

use patchwork_core::analysis::explorable::ExplorableModel;
use patchwork_core::capabilities::Capability;
use patchwork_core::data::{DataSpec, SharedSource, Split};
use patchwork_core::mixing::neighbours::NeighbourIndex;

use crate::gui::AppState;
use crate::gui::jobs::LatestJob;

/// The convention line every mixing view shows.
pub const ORDER_NOTE: &str = "Mask bits in quadrant order TL TR BL BR (row-major, the encoder's chunk order); 1 = take that quadrant from the other image.";

/// The model with quadrant chunks the views look into, or a line telling the user how to
/// get one (and a button for the shipped one).
pub fn mixing_model_ui(ui: &mut egui::Ui, state: &mut AppState, view: &str) -> Option<ExplorableModel> {
    super::model_offering_ui(ui, state, Capability::Chunks, view)
}

/// The images a neighbour index was built over (its training pool), opened once per data
/// spec in the background.
#[derive(Default)]
pub struct PoolSource {
    opened: Option<(String, SharedSource)>,
    job: LatestJob<(String, Result<SharedSource, String>)>,
    pub error: Option<String>,
}

impl PoolSource {
    /// The pool of `index`, once open.
    pub fn get(&mut self, index: &Arc<NeighbourIndex>) -> Option<SharedSource> {
        let spec = index.header.data.clone();
        if let Some((done, result)) = self.job.poll() {
            match result {
                Ok(source) => self.opened = Some((done, source)),
                Err(e) => self.error = Some(e),
            }
        }
        match &self.opened {
            Some((opened, source)) if *opened == spec => Some(source.clone()),
            _ => {
                if !self.job.busy() && self.error.is_none() {
                    let images = index.header.images;
                    self.job.request(move || {
                        let opened = spec.parse::<DataSpec>().map_err(|e| e.to_string()).and_then(|s| s.open(Split::Train, 64).map_err(|e| e.to_string()));
                        let opened = opened.and_then(|s| {
                            if s.len() == images {
                                Ok(s)
                            } else {
                                Err(format!("{spec} now has {} images, the neighbour index was built over {images}", s.len()))
                            }
                        });
                        (spec, opened)
                    });
                }
                None
            }
        }
    }

    pub fn busy(&self) -> bool {
        self.job.busy()
    }
}
