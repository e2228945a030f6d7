//! Looking inside trained models: the explorer's questions about parts, latents and
//! reconstructions, as an API.

pub mod explorable;
pub mod heat;
pub mod mixing;
pub mod part_index;
pub mod split;
pub mod traverse;
pub mod tsne;
