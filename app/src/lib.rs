//! The `patchwork` application: the explorer GUI (`gui`) and the headless CLI (`cli`).

/// `println!` for the CLI's output: see [`cli::say_line`].
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::say_line(&format!($($arg)*))
    };
}

pub mod cli;
pub mod gui;
