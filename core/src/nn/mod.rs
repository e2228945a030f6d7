//! Building blocks shared by several families: residual blocks, spectral norm, losses,
//! parameter counting and seeded initialisation.

pub mod blocks;
pub mod losses;
pub mod spectral_norm;

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;


/// Counts float parameters, passing over batch-norm running statistics (which burn
/// visits as parameters too).
#[derive(Default)]
struct TrainableCounter {
    count: usize,
    path: Vec<String>,
}

impl ModuleVisitor for TrainableCounter {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // Running statistics and power-iteration state are module state, not parameters.
        let running = self.path.last().is_some_and(|n| matches!(n.as_str(), "running_mean" | "running_var" | "singular_vector"));
        if !running {
            self.count += param.lazy_shape().num_elements();
        }
    }
}

/// Number of trainable parameters, counted as PyTorch does (burn's `num_params`
/// also counts batch-norm running statistics).
pub fn trainable_params<M: Module>(module: &M) -> usize {
    let mut counter = TrainableCounter::default();
    module.visit(&mut counter);
    counter.count
}

struct Materialise;

impl ModuleVisitor for Materialise {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// Draws every lazily initialised parameter now, in a fixed order, under a process-wide
/// lock with the backend RNG seeded: burn initialises parameters on first use from one
/// global generator, so this is what makes "same seed ⇒ same weights" hold even when
/// several models are built at once (tests, GUI + CLI jobs).
pub fn init_seeded<M: Module>(device: &Device, seed: u64, build: impl FnOnce(&Device) -> M) -> M {
    static INIT_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    device.seed(seed);
    let model = build(device);
    model.visit(&mut Materialise);
    model
}
