//! Building blocks shared by models: the "Resnet-9" backbone of the PatchVAE paper.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation;

/// A k×k convolution with symmetric padding.
pub fn conv(channels: [usize; 2], kernel: usize, stride: usize, padding: usize, bias: bool, device: &Device) -> Conv2d {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
        .with_bias(bias)
        .init(device)
}

/// A k×k transposed convolution.
pub fn deconv(channels: [usize; 2], kernel: usize, stride: usize, padding: usize, bias: bool, device: &Device) -> ConvTranspose2d {
    ConvTranspose2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding([padding, padding])
        .with_bias(bias)
        .init(device)
}

/// Instance normalisation without learned scale and shift (PyTorch's `InstanceNorm2d`
/// default).
pub fn instance_norm(channels: usize, device: &Device) -> burn::nn::InstanceNorm {
    burn::nn::InstanceNormConfig::new(channels).with_affine(false).init(device)
}

pub fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).init(device)
}

/// LeakyReLU as `slope·x + (1 − slope)·relu(x)`: the same function as
/// `activation::leaky_relu`, built from operations that burn's autodiff runs fused.
/// burn 0.22's autodiff has no leaky ReLU of its own, so `activation::leaky_relu` becomes
/// a comparison, a scaled copy and a `mask_where` whose backward allocates two tensors of
/// zeros and masks the gradient twice: measured, it took ~8% of a PatchVAE training
/// step's CPU time, all on the calling thread. `relu` has a fused forward and backward.
pub fn leaky_relu<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    activation::relu(x.clone()).mul_scalar(1.0 - slope) + x.mul_scalar(slope)
}

/// ResNet basic block: conv-BN-ReLU-conv-BN plus an identity (or 1×1 projection) shortcut.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    projection: Option<Conv2d>,
    projection_bn: Option<BatchNorm>,
}

impl BasicBlock {
    pub fn new(input: usize, output: usize, stride: usize, device: &Device) -> Self {
        let project = stride != 1 || input != output;
        Self {
            conv1: conv([input, output], 3, stride, 1, false, device),
            bn1: batch_norm(output, device),
            conv2: conv([output, output], 3, 1, 1, false, device),
            bn2: batch_norm(output, device),
            projection: project.then(|| conv([input, output], 1, stride, 0, false, device)),
            projection_bn: project.then(|| batch_norm(output, device)),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = activation::relu(self.bn1.forward(self.conv1.forward(x.clone())));
        let y = self.bn2.forward(self.conv2.forward(y));
        let shortcut = match (&self.projection, &self.projection_bn) {
            (Some(p), Some(bn)) => bn.forward(p.forward(x)),
            _ => x,
        };
        activation::relu(y + shortcut)
    }
}

/// φ, the paper's "Resnet-9": ResNet-18's conv1 (7×7/2) + BN + ReLU + max-pool (3×3/2),
/// then two stages of two basic blocks (64, then 128 channels with stride 2).
/// 9 convolutions on the main path; output 128 × H/8 × W/8; 683,072 parameters for RGB.
#[derive(Module, Debug)]
pub struct Resnet9 {
    conv1: Conv2d,
    bn1: BatchNorm,
    pool: MaxPool2d,
    blocks: Vec<BasicBlock>,
}

pub const RESNET9_CHANNELS: usize = 128;

impl Resnet9 {
    pub fn new(in_channels: usize, device: &Device) -> Self {
        Self {
            conv1: conv([in_channels, 64], 7, 2, 3, false, device),
            bn1: batch_norm(64, device),
            pool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            blocks: vec![
                BasicBlock::new(64, 64, 1, device),
                BasicBlock::new(64, 64, 1, device),
                BasicBlock::new(64, 128, 2, device),
                BasicBlock::new(128, 128, 1, device),
            ],
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_until(x, usize::MAX)
    }

    /// Continues [`Resnet9::forward_until`]`(x, convs)`: runs the blocks it left out.
    pub fn forward_after(&self, y: Tensor<4>, convs: usize) -> Tensor<4> {
        let mut y = y;
        for (i, block) in self.blocks.iter().enumerate() {
            if 1 + 2 * i >= convs {
                y = block.forward(y);
            }
        }
        y
    }

    /// Runs the backbone up to and including its `convs`-th convolution on the main
    /// path (1 = conv1 only, 3 = conv1 + first block, 5 = + second block, 9 = all).
    pub fn forward_until(&self, x: Tensor<4>, convs: usize) -> Tensor<4> {
        let mut y = self.pool.forward(activation::relu(self.bn1.forward(self.conv1.forward(x))));
        for (i, block) in self.blocks.iter().enumerate() {
            if 1 + 2 * i >= convs {
                break;
            }
            y = block.forward(y);
        }
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaky_relu_matches_burns_in_value_and_gradient() {
        let device = Device::flex().autodiff();
        let values = [-3.0f32, -0.5, -1e-3, 0.0, 1e-3, 0.25, 2.0, 7.5];
        let upstream = [1.0f32, -2.0, 0.5, 3.0, -1.0, 4.0, 0.25, -0.75];
        let run = |fast: bool| {
            let x = Tensor::<1>::from_floats(values, &device).require_grad();
            let y = if fast { leaky_relu(x.clone(), 0.2) } else { activation::leaky_relu(x.clone(), 0.2) };
            // A non-uniform upstream gradient, so each element's slope is checked.
            let grads = (y.clone() * Tensor::<1>::from_floats(upstream, &device)).sum().backward();
            let dx = x.grad(&grads).expect("x is tracked");
            (y.into_data().try_to_vec::<f32>().unwrap(), dx.into_data().try_to_vec::<f32>().unwrap())
        };
        let ((y, dx), (y_ref, dx_ref)) = (run(true), run(false));
        for i in 0..values.len() {
            assert!((y[i] - y_ref[i]).abs() <= 1e-6 * y_ref[i].abs().max(1.0), "value at {}: {} vs {}", values[i], y[i], y_ref[i]);
            // At 0 burn takes the positive side's slope (x ≥ 0 keeps x); relu's derivative
            // there is 0, so ours gives the negative side's: both are subgradients.
            if values[i] != 0.0 {
                assert!((dx[i] - dx_ref[i]).abs() <= 1e-6, "gradient at {}: {} vs {}", values[i], dx[i], dx_ref[i]);
            }
        }
        assert_eq!(dx[3], 0.2 * upstream[3]);
    }
}
