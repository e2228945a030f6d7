//! `patchwork`: the explorer GUI with no arguments, headless jobs as subcommands.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // SAFETY: first statements of main, before any thread is spawned.
    unsafe {
        patchwork_core::memory::keep_freed_memory();
        patchwork_core::device::pin_burn_default_device_to_cpu();
    }
    let cli = patchwork::cli::Cli::parse();
    match patchwork::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
