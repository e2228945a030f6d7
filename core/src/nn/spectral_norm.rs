//! Spectral normalisation (Miyato et al., ICLR 2018), a reusable module: a weight divided by
//! its largest singular value σ(W), estimated by power iteration on W reshaped to
//! `[out, in·kh·kw]`. The left singular vector estimate `u` persists across steps and is
//! refined by one iteration per training forward (the reference implementation's choice),
//! so σ costs two matrix–vector products per step. The mixing-scenes decoder and
//! discriminator use it (mixing-scenes spec §3.2, Tables 3.3–3.5).

use burn::module::RunningState;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

/// The power-iteration state of one weight.
#[derive(Module, Debug)]
pub struct SpectralNorm {
    /// Estimate of the left singular vector, `[out]`, unit length (state, not a trained
    /// parameter: `trainable_params` skips it by this name).
    singular_vector: RunningState<Tensor<1>>,
    /// Power iterations per training forward (1 in the reference implementation).
    iterations: usize,
}

fn unit<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let norm = x.clone().powf_scalar(2.0).sum().sqrt().add_scalar(1e-12);
    x / norm.unsqueeze()
}

impl SpectralNorm {
    /// For a weight whose first dimension is `rows`.
    pub fn new(rows: usize, device: &Device) -> Self {
        let u = unit(Tensor::<1>::random([rows], Distribution::Normal(0.0, 1.0), device));
        Self { singular_vector: RunningState::new(u), iterations: 1 }
    }

    pub fn with_iterations(mut self, iterations: usize) -> Self {
        self.iterations = iterations.max(1);
        self
    }

    /// σ(W) as estimated now (no update), for inspection.
    pub fn sigma<const D: usize>(&self, weight: Tensor<D>) -> Tensor<1> {
        let rows = weight.dims()[0];
        let w = weight.reshape([rows as i32, -1]).detach();
        let u = self.singular_vector.value_sync().to_device(&w.device()).reshape([rows, 1]);
        let v = unit(w.clone().transpose().matmul(u.clone()));
        u.transpose().matmul(w.matmul(v)).reshape([1])
    }

    /// `weight / σ(weight)`. On a training (autodiff) device the estimate is refined and
    /// kept; gradients flow through W in σ = uᵀ W v with u and v held constant.
    pub fn normalise<const D: usize>(&self, weight: Tensor<D>) -> Tensor<D> {
        let device = weight.device();
        let rows = weight.dims()[0];
        let w = weight.clone().reshape([rows as i32, -1]);
        let frozen = w.clone().detach();
        let mut u = self.singular_vector.value_sync().to_device(&device).reshape([rows, 1]).detach();
        let mut v = unit(frozen.clone().transpose().matmul(u.clone()));
        for _ in 0..self.iterations {
            v = unit(frozen.clone().transpose().matmul(u.clone()));
            u = unit(frozen.clone().matmul(v.clone()));
        }
        if device.is_autodiff() {
            self.singular_vector.update(u.clone().reshape([rows]).detach());
        }
        let sigma = u.transpose().matmul(w.matmul(v)).reshape([1]);
        let mut shape = [1usize; D];
        shape[0] = 1;
        weight / sigma.reshape(shape)
    }
}

/// A 2-D convolution whose kernel is spectrally normalised.
#[derive(Module, Debug)]
pub struct SnConv2d {
    pub conv: Conv2d,
    pub norm: SpectralNorm,
    padding: usize,
}

impl SnConv2d {
    pub fn new(channels: [usize; 2], kernel: usize, stride: usize, padding: usize, bias: bool, device: &Device) -> Self {
        let conv = Conv2dConfig::new(channels, [kernel, kernel])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
            .with_bias(bias)
            .init(device);
        Self { norm: SpectralNorm::new(channels[1], device), conv, padding }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let c = &self.conv;
        let options = ConvOptions::new(c.stride, [self.padding, self.padding], c.dilation, c.groups);
        conv2d(x, self.norm.normalise(c.weight.val()), c.bias.as_ref().map(|b| b.val()), options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The largest singular value by many power iterations on the host (independent of
    /// the module's code path).
    fn largest_singular_value(m: &[f32], rows: usize, cols: usize) -> f64 {
        let mut v = vec![1.0f64; cols];
        let mut sigma = 0.0;
        for _ in 0..500 {
            let u: Vec<f64> = (0..rows).map(|r| (0..cols).map(|c| m[r * cols + c] as f64 * v[c]).sum()).collect();
            let w: Vec<f64> = (0..cols).map(|c| (0..rows).map(|r| m[r * cols + c] as f64 * u[r]).sum()).collect();
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            sigma = norm.sqrt();
            v = w.iter().map(|x| x / norm).collect();
        }
        sigma
    }

    #[test]
    fn spectral_norm_bounds_the_largest_singular_value_near_one() {
        let device = Device::flex();
        let weight = Tensor::<4>::random([16, 8, 3, 3], Distribution::Normal(0.0, 0.5), &device);
        let before: Vec<f32> = weight.clone().into_data().try_to_vec::<f32>().unwrap();
        let s_before = largest_singular_value(&before, 16, 72);
        assert!(s_before > 2.0, "a random 16×72 matrix with σ 0.5 entries has σ₁ ≈ 0.5(√16+√72) ≈ 6: {s_before}");
        // Power iteration converges at the rate (σ₂/σ₁)²; a random matrix has a small gap.
        let sn = SpectralNorm::new(16, &device).with_iterations(200);
        let after: Vec<f32> = sn.normalise(weight.clone()).into_data().try_to_vec::<f32>().unwrap();
        let s_after = largest_singular_value(&after, 16, 72);
        assert!((s_after - 1.0).abs() < 1e-2, "σ₁ after normalisation: {s_after}");
        let estimate: Vec<f32> = sn.sigma(weight).into_data().try_to_vec::<f32>().unwrap();
        // Off a training device the stored u is not refined, and uᵀWv never exceeds σ₁.
        assert!((estimate[0] as f64) <= s_before * 1.0001, "σ estimate {} vs {s_before}", estimate[0]);
    }

    #[test]
    fn one_iteration_per_training_step_converges_and_gradients_flow() {
        let device = Device::flex().autodiff();
        let conv = SnConv2d::new([4, 6], 3, 1, 1, true, &device);
        let x = Tensor::<4>::random([2, 4, 8, 8], Distribution::Normal(0.0, 1.0), &device);
        // The estimate persists: after some steps σ of the normalised kernel is near 1.
        for _ in 0..40 {
            let _ = conv.forward(x.clone());
        }
        let normalised: Vec<f32> = conv.norm.normalise(conv.conv.weight.val()).into_data().try_to_vec::<f32>().unwrap();
        let s = largest_singular_value(&normalised, 6, 36);
        assert!((s - 1.0).abs() < 2e-2, "σ₁ after 40 single-iteration steps: {s}");
        let grads = conv.forward(x).sum().backward();
        let g = conv.conv.weight.grad(&grads).expect("the kernel gets a gradient");
        assert!(g.abs().sum().into_scalar::<f32>() > 0.0);
    }
}
