//! The mixing-scenes discriminator: a PatchGAN (thesis Table 3.5). Four 4×4 stride-2 convs
//! with 42, 84, 168 and 336 maps and leaky ReLU, spectral normalisation on layers 2–4, no
//! other normalisation, then a 1×1 conv to one logit per patch: a 64×64 image gives a 4×4
//! map of real/fake logits, each seeing a 46-pixel receptive field. With all biases:
//! 1,188,391 parameters, the thesis's Table 3.6 figure.

use burn::nn::conv::Conv2d;
use burn::prelude::*;

use crate::nn::blocks::{self, conv};
use crate::nn::spectral_norm::SnConv2d;

/// The thesis does not give the leaky ReLU slope (spec §3.3); 0.2 as in PatchGAN.
pub const LEAKY_SLOPE: f64 = 0.2;

#[derive(Config, Debug, PartialEq)]
pub struct PatchGanConfig {
    #[config(default = 3)]
    pub channels: usize,
    /// Maps of the first layer (thesis 42); each later layer doubles them.
    #[config(default = 42)]
    pub base_maps: usize,
}

impl PatchGanConfig {
    pub fn init(&self, device: &Device) -> PatchGan {
        let m = self.base_maps;
        PatchGan {
            first: conv([self.channels, m], 4, 2, 1, true, device),
            normalised: vec![
                SnConv2d::new([m, 2 * m], 4, 2, 1, true, device),
                SnConv2d::new([2 * m, 4 * m], 4, 2, 1, true, device),
                SnConv2d::new([4 * m, 8 * m], 4, 2, 1, true, device),
            ],
            out: conv([8 * m, 1], 1, 1, 0, true, device),
        }
    }
}

#[derive(Module, Debug)]
pub struct PatchGan {
    first: Conv2d,
    normalised: Vec<SnConv2d>,
    out: Conv2d,
}

impl PatchGan {
    /// `[b, c, h, w]` → patch logits `[b, 1, h/16, w/16]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut y = blocks::leaky_relu(self.first.forward(x), LEAKY_SLOPE);
        for layer in &self.normalised {
            y = blocks::leaky_relu(layer.forward(y), LEAKY_SLOPE);
        }
        self.out.forward(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_gan_has_the_thesis_parameter_count_and_a_4x4_patch_map() {
        let device = Device::flex();
        let d = PatchGanConfig::new().init(&device);
        assert_eq!(crate::nn::trainable_params(&d), 1_188_391);
        let logits = d.forward(Tensor::<4>::zeros([2, 3, 64, 64], &device));
        assert_eq!(logits.dims(), [2, 1, 4, 4]);
    }
}
