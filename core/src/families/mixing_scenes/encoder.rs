//! The mixing-scenes encoder (thesis Tables 3.1/3.2, FC-DenseNet style): CoordConv adds x
//! and y channels, a 3×3 conv to 48 maps, five dense blocks (4, 5, 7, 10, 12 layers of
//! instance norm → ReLU → 3×3 conv producing 16 maps each, concatenated) each followed by
//! a transition down (instance norm → ReLU → 1×1 conv → 2×2 max-pool), and a 1×1 conv to
//! 192 maps. A 64×64 image gives a 2×2×192 map: four 192-d chunks in row-major quadrant
//! order (see `crate::mixing::Quadrant`). All convs have bias, instance norm has no affine
//! parameters: 2,800,512 parameters, the thesis's Table 3.6 figure (spec §3.1).
//!
//! The first conv's maps, the growth rate, the layers per block and the chunk size are
//! settings, so a small preset (`MixingPreset::Small`) trains on a 2-core CPU; the
//! defaults are the thesis's network.

use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::InstanceNorm;
use burn::prelude::*;
use burn::tensor::activation;

use crate::nn::blocks::{conv, instance_norm};

/// Layers per dense block (thesis Table 3.1).
pub const DENSE_BLOCK_LAYERS: [usize; 5] = [4, 5, 7, 10, 12];

#[derive(Config, Debug, PartialEq)]
pub struct MixingEncoderConfig {
    /// Input channels before CoordConv adds two.
    #[config(default = 3)]
    pub channels: usize,
    /// Maps of the first conv (thesis 48).
    #[config(default = 48)]
    pub first_maps: usize,
    /// Growth rate k of the dense blocks (thesis 16).
    #[config(default = 16)]
    pub growth: usize,
    /// Maps per quadrant chunk (thesis 192; the latent is 4 chunks).
    #[config(default = 192)]
    pub chunk: usize,
    /// Layers of the five dense blocks (thesis 4, 5, 7, 10, 12).
    #[config(default = "DENSE_BLOCK_LAYERS")]
    pub layers: [usize; 5],
}

impl MixingEncoderConfig {
    pub fn init(&self, device: &Device) -> MixingEncoder {
        let mut channels = self.first_maps;
        let mut blocks = Vec::new();
        let mut transitions = Vec::new();
        for layers in self.layers {
            let mut block = Vec::new();
            for _ in 0..layers {
                block.push(DenseLayer { norm: instance_norm(channels, device), conv: conv([channels, self.growth], 3, 1, 1, true, device) });
                channels += self.growth;
            }
            blocks.push(block);
            transitions.push(TransitionDown {
                norm: instance_norm(channels, device),
                conv: conv([channels, channels], 1, 1, 0, true, device),
                pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            });
        }
        MixingEncoder {
            first: conv([self.channels + 2, self.first_maps], 3, 1, 1, true, device),
            blocks,
            transitions,
            last: conv([channels, self.chunk], 1, 1, 0, true, device),
            chunk: self.chunk,
        }
    }
}

#[derive(Module, Debug)]
pub struct DenseLayer {
    norm: InstanceNorm,
    conv: Conv2d,
}

#[derive(Module, Debug)]
pub struct TransitionDown {
    norm: InstanceNorm,
    conv: Conv2d,
    pool: MaxPool2d,
}

#[derive(Module, Debug)]
pub struct MixingEncoder {
    first: Conv2d,
    blocks: Vec<Vec<DenseLayer>>,
    transitions: Vec<TransitionDown>,
    last: Conv2d,
    pub chunk: usize,
}

/// CoordConv's two extra channels: x and y in [−1, 1], `[b, 2, h, w]`.
pub fn coordinates(batch: usize, height: usize, width: usize, device: &Device) -> Tensor<4> {
    let axis = |n: usize| Tensor::<1>::from_data(TensorData::new((0..n).map(|i| if n > 1 { -1.0 + 2.0 * i as f32 / (n - 1) as f32 } else { 0.0 }).collect::<Vec<_>>(), [n]), device);
    let x = axis(width).reshape([1, 1, 1, width]).expand([batch, 1, height, width]);
    let y = axis(height).reshape([1, 1, height, 1]).expand([batch, 1, height, width]);
    Tensor::cat(vec![x, y], 1)
}

impl MixingEncoder {
    /// `[b, c, h, w]` in [−1, 1] → the chunk map `[b, chunk, h/32, w/32]`.
    pub fn forward_map(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, _, h, w] = x.dims();
        let coords = coordinates(b, h, w, &x.device());
        let mut y = self.first.forward(Tensor::cat(vec![x, coords], 1));
        for (block, down) in self.blocks.iter().zip(&self.transitions) {
            for layer in block {
                let new = layer.conv.forward(activation::relu(layer.norm.forward(y.clone())));
                y = Tensor::cat(vec![y, new], 1);
            }
            y = down.pool.forward(down.conv.forward(activation::relu(down.norm.forward(y))));
        }
        self.last.forward(y)
    }

    /// The latent `[b, 4·chunk]` of 64×64 images: chunk i = quadrant i (TL, TR, BL, BR),
    /// i.e. the 2×2 map read row-major, each chunk its `chunk` channels.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let map = self.forward_map(x);
        let [b, c, gh, gw] = map.dims();
        map.reshape([b, c, gh * gw]).swap_dims(1, 2).reshape([b, gh * gw * c])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_size_encoder_has_the_thesis_parameter_count_and_quadrant_chunks() {
        let device = Device::flex();
        let full = MixingEncoderConfig::new().init(&device);
        assert_eq!(crate::nn::trainable_params(&full), 2_800_512);
        // A small preset, for the chunk layout.
        let small = crate::families::mixing_scenes::MixingPreset::Small.encoder().init(&device);
        let x = Tensor::<4>::zeros([1, 3, 64, 64], &device);
        let z = small.forward(x.clone());
        assert_eq!(z.dims(), [1, 4 * small.chunk]);
        let map: Vec<f32> = small.forward_map(x).into_data().try_to_vec::<f32>().unwrap();
        let flat: Vec<f32> = small.forward(Tensor::<4>::zeros([1, 3, 64, 64], &device)).into_data().try_to_vec::<f32>().unwrap();
        // map is [1, chunk, 2, 2]; chunk q of the latent is map[:, row q/2, col q%2].
        let c = small.chunk;
        for q in 0..4 {
            for k in 0..c {
                assert_eq!(flat[q * c + k], map[k * 4 + q], "quadrant {q} channel {k}");
            }
        }
    }

    #[test]
    fn coordinates_span_minus_one_to_one() {
        let device = Device::flex();
        let c: Vec<f32> = coordinates(1, 3, 4, &device).into_data().try_to_vec::<f32>().unwrap();
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
        // x along the first row; y constant along rows, −1 at the top, 1 at the bottom.
        assert!(close(&c[..4], &[-1.0, -1.0 / 3.0, 1.0 / 3.0, 1.0]), "{:?}", &c[..4]);
        assert!(close(&c[12..16], &[-1.0; 4]), "{:?}", &c[12..16]);
        assert!(close(&c[20..24], &[1.0; 4]), "{:?}", &c[20..24]);
    }
}
