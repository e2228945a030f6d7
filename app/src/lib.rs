//! The `patchwork` application: the explorer GUI (`gui`) and the headless CLI (`cli`).

pub mod cli;
pub mod gui;
