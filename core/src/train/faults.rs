//! Numerical faults: the check every update passes ([`UpdateGuard`]), and faults a run can
//! inject on purpose to show how it handles them (`PATCHWORK_INJECT_FAULT`, the reliability
//! harness in docs/reliability.md).
//!
//! A loss that is not finite is refused by [`crate::families::trainable::loss_values`]
//! before any gradient is taken; gradients that are not finite (an overflow, a NaN from a
//! finite loss) are refused here before the optimizer sees them. Either way the step is
//! not applied: the runner puts back the weights and optimizer state of the last good step
//! (a family with several networks may have updated some of them already) and pauses.

use std::str::FromStr;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use crate::families::StepError;

/// The environment variable a run's injected faults come from: `KIND@STEP[,KIND@STEP…]`.
pub const INJECT_FAULT_VAR: &str = "PATCHWORK_INJECT_FAULT";

/// What goes wrong on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// A NaN enters the batch (as corrupt data would): every loss it reaches is NaN.
    NanInput,
    /// An infinite pixel enters the batch: the losses it reaches are infinite or NaN.
    InfiniteInput,
    /// The first parameter's gradient is multiplied by infinity after the backward pass:
    /// the loss is finite, the update would not be.
    InfiniteGradient,
}

/// A fault at one step of a run; it happens once (the step's retry is clean).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InjectedFault {
    pub kind: FaultKind,
    /// The step (0-based, as `TrainEvent::Diverged` reports it) it happens at.
    pub step: u64,
}

impl FromStr for InjectedFault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, step) = s.trim().split_once('@').ok_or_else(|| format!("{s:?}: expected KIND@STEP, e.g. nan@100"))?;
        let kind = match kind {
            "nan" => FaultKind::NanInput,
            "inf" => FaultKind::InfiniteInput,
            "gradient" => FaultKind::InfiniteGradient,
            other => return Err(format!("{other:?} is not a fault: nan, inf or gradient")),
        };
        let step = step.parse().map_err(|_| format!("{step:?} is not a step number"))?;
        Ok(Self { kind, step })
    }
}

/// The faults `PATCHWORK_INJECT_FAULT` asks for (none if unset); a value that does not parse
/// is refused with what was wrong.
pub fn faults_from_env() -> anyhow::Result<Vec<InjectedFault>> {
    let Some(value) = std::env::var_os(INJECT_FAULT_VAR) else { return Ok(vec![]) };
    let value = value.to_string_lossy();
    value.split(',').filter(|s| !s.trim().is_empty()).map(|s| s.parse().map_err(|e| anyhow::anyhow!("{INJECT_FAULT_VAR}: {e}"))).collect()
}

/// Applies an input fault to a batch's pixels (the first value of the first image).
pub fn poison_input(images: &mut [f32], kind: FaultKind) {
    let value = match kind {
        FaultKind::NanInput => f32::NAN,
        FaultKind::InfiniteInput => f32::INFINITY,
        FaultKind::InfiniteGradient => return,
    };
    if let Some(first) = images.first_mut() {
        *first = value;
    }
}

/// Checks gradients before an optimizer applies them. Every family's updates go through
/// [`UpdateGuard::step`].
#[derive(Debug, Clone, Copy, Default)]
pub struct UpdateGuard {
    /// Inject [`FaultKind::InfiniteGradient`] into the updates of this step.
    pub infinite_gradient: bool,
}

impl UpdateGuard {
    /// `optimizer.step(lr, module, grads)` if the gradients' norm is finite; otherwise the
    /// step is refused as diverged ("gradient norm") and nothing is updated.
    pub fn step<M: Module>(&self, optimizer: &mut ModuleOptimizer, lr: f64, module: M, mut grads: GradientsParams) -> Result<M, StepError> {
        let mut squares = SquaredNorms { grads: &mut grads, squares: vec![], poison: self.infinite_gradient };
        module.visit(&mut squares);
        let squares = squares.squares;
        if !squares.is_empty() {
            let total = Tensor::cat(squares, 0).sum();
            let value = total.into_data().convert::<f64>().try_to_vec::<f64>().ok().and_then(|v| v.first().copied()).unwrap_or(f64::NAN);
            if !value.is_finite() {
                return Err(StepError::Diverged { term: "gradient norm".into(), value: value.sqrt() });
            }
        }
        Ok(optimizer.step(lr, module, grads))
    }
}

/// Sums of squares of a module's gradients, one per parameter.
struct SquaredNorms<'a> {
    grads: &'a mut GradientsParams,
    squares: Vec<Tensor<1>>,
    /// Multiply the first gradient by infinity first (an injected fault).
    poison: bool,
}

impl ModuleVisitor for SquaredNorms<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some(mut grad) = self.grads.get::<D>(param.id) else { return };
        if std::mem::take(&mut self.poison) {
            grad = grad.mul_scalar(f32::INFINITY);
            self.grads.register(param.id, grad.clone());
        }
        self.squares.push(grad.powi_scalar(2).sum());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_bad_ones_say_why() {
        assert_eq!("nan@12".parse(), Ok(InjectedFault { kind: FaultKind::NanInput, step: 12 }));
        assert_eq!("gradient@0".parse(), Ok(InjectedFault { kind: FaultKind::InfiniteGradient, step: 0 }));
        assert!("nan".parse::<InjectedFault>().unwrap_err().contains("KIND@STEP"));
        assert!("zero@3".parse::<InjectedFault>().unwrap_err().contains("not a fault"));
        assert!("inf@x".parse::<InjectedFault>().unwrap_err().contains("not a step"));
    }

    #[test]
    fn an_infinite_gradient_is_refused_before_the_update_and_a_finite_one_applied() {
        use burn::optim::AdamConfig;
        let device = Device::flex().autodiff();
        let layer = burn::nn::LinearConfig::new(3, 2).init(&device);
        let before: Vec<f32> = layer.weight.val().into_data().try_to_vec().unwrap();
        let grads = |layer: &burn::nn::Linear| {
            let y = layer.forward(Tensor::<2>::ones([4, 3], &device)).sum();
            GradientsParams::from_grads(y.backward(), layer)
        };
        let mut optimizer = AdamConfig::new().init();
        let poisoned = UpdateGuard { infinite_gradient: true }.step(&mut optimizer, 0.1, layer.clone(), grads(&layer));
        assert!(matches!(poisoned, Err(StepError::Diverged { ref term, value }) if term == "gradient norm" && value.is_infinite()), "{poisoned:?}");
        let updated = UpdateGuard::default().step(&mut optimizer, 0.1, layer.clone(), grads(&layer)).unwrap();
        let after: Vec<f32> = updated.weight.val().into_data().try_to_vec().unwrap();
        assert!(after.iter().zip(&before).all(|(a, b)| a.is_finite() && a != b));
    }
}
