//! What the explorer can ask of a trained mixing-scenes model: its four quadrant chunks,
//! to encode, decode and mix between scenes, with the neighbour lists it trained from.

use std::sync::Arc;

use burn::prelude::*;

use super::{MixingScenes, MixingScenesConfig};
use crate::capabilities::{ChunkMixer, Explorable};
use crate::families::trainable::explorable_from_trainable;
use crate::mixing::QuadrantMask;
use crate::mixing::neighbours::NeighbourIndex;

/// A trained mixing-scenes model for the explorer, with the neighbour lists of its
/// training pool when the checkpoint or run has them.
#[derive(Debug)]
pub(super) struct Explored {
    pub model: MixingScenes,
    pub config: MixingScenesConfig,
    pub index: Option<Arc<NeighbourIndex>>,
}

impl Explorable for Explored {
    explorable_from_trainable!();
    fn chunks(&self) -> Option<&dyn ChunkMixer> {
        Some(self)
    }
}

impl ChunkMixer for Explored {
    fn chunk(&self) -> usize {
        self.model.chunk()
    }
    fn encode(&self, x: Tensor<4>) -> Tensor<2> {
        self.model.encode(x)
    }
    fn decode(&self, z: Tensor<2>) -> Tensor<4> {
        self.model.decode(z)
    }
    fn transfer(&self, objects: Tensor<4>, references: Tensor<4>, masks: &[QuadrantMask]) -> Tensor<4> {
        self.model.transfer(objects, references, masks)
    }
    fn neighbour_index(&self) -> Option<&Arc<NeighbourIndex>> {
        self.index.as_ref()
    }
}
