//! Looking inside trained models: the explorer's questions about parts, as an API.

pub mod part_index;
pub mod parts;
