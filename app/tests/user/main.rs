//! The app as a user drives it, linked as one test binary (each binary links burn, wgpu
//! and eframe statically, so every extra one is a large link in CI).

mod cli;
mod gui;
