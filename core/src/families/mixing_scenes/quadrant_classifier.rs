//! The mixing-scenes quadrant classifier (thesis §3.3.3, spec §3.4): AlexNet with batch
//! norm after every conv, input I_mix ⊕ I_qj (6 channels, 64×64), four logits, one per
//! quadrant of I_mix: "does I_qj show up in this quadrant of the mix?".
//!
//! The thesis gives 45,355,044 parameters but not the layer sizes for 64×64 input, and no
//! standard AlexNet variant reproduces that figure (spec §3.4). Ours, at width 1: conv1
//! 64 maps 5×5 stride 2 → pool, conv2 192 5×5 → pool, conv3 384, conv4 256, conv5 256
//! (3×3) → pool to 4×4, fc6 4096, fc7 4096, fc8 4: 36,037,380 parameters (tested).
//! `width_divisor` divides every width for the small preset.

use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation;

use crate::nn::blocks::{batch_norm, conv};

const CONV_MAPS: [usize; 5] = [64, 192, 384, 256, 256];
const FC_WIDTH: usize = 4096;

#[derive(Config, Debug, PartialEq)]
pub struct QuadrantClassifierConfig {
    /// Channels of each of the two stacked images.
    #[config(default = 3)]
    pub channels: usize,
    #[config(default = 1)]
    pub width_divisor: usize,
}

#[derive(Module, Debug)]
pub struct ConvBn {
    conv: Conv2d,
    norm: BatchNorm,
}

#[derive(Module, Debug)]
pub struct QuadrantClassifier {
    convs: Vec<ConvBn>,
    pool: MaxPool2d,
    fc6: Linear,
    fc7: Linear,
    fc8: Linear,
}

impl QuadrantClassifierConfig {
    pub fn init(&self, device: &Device) -> QuadrantClassifier {
        let d = self.width_divisor.max(1);
        let maps = CONV_MAPS.map(|m| (m / d).max(1));
        let kernels = [5, 5, 3, 3, 3];
        let strides = [2, 1, 1, 1, 1];
        let mut input = 2 * self.channels;
        let mut convs = Vec::new();
        for i in 0..5 {
            convs.push(ConvBn { conv: conv([input, maps[i]], kernels[i], strides[i], kernels[i] / 2, true, device), norm: batch_norm(maps[i], device) });
            input = maps[i];
        }
        let fc = (FC_WIDTH / d).max(1);
        QuadrantClassifier {
            convs,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            // 64 → 32 (conv1) → 16 → 8 → 4 after the three pools.
            fc6: LinearConfig::new(maps[4] * 16, fc).init(device),
            fc7: LinearConfig::new(fc, fc).init(device),
            fc8: LinearConfig::new(fc, 4).init(device),
        }
    }
}

impl QuadrantClassifier {
    /// `mix` and `candidate` `[b, c, 64, 64]` → logits `[b, 4]`, quadrants in chunk order.
    pub fn forward(&self, mix: Tensor<4>, candidate: Tensor<4>) -> Tensor<2> {
        let mut y = Tensor::cat(vec![mix, candidate], 1);
        for (i, layer) in self.convs.iter().enumerate() {
            y = activation::relu(layer.norm.forward(layer.conv.forward(y)));
            if matches!(i, 0 | 1 | 4) {
                y = self.pool.forward(y);
            }
        }
        let [b, c, h, w] = y.dims();
        let y = y.reshape([b, c * h * w]);
        let y = activation::relu(self.fc6.forward(y));
        let y = activation::relu(self.fc7.forward(y));
        self.fc8.forward(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_small_classifiers_have_their_parameter_counts() {
        let device = Device::flex();
        assert_eq!(crate::nn::trainable_params(&QuadrantClassifierConfig::new().init(&device)), 36_037_380);
        let small = QuadrantClassifierConfig::new().with_width_divisor(8).init(&device);
        let x = Tensor::<4>::zeros([2, 3, 64, 64], &device);
        assert_eq!(small.forward(x.clone(), x).dims(), [2, 4]);
    }
}
