//! The mixing-scenes decoder (thesis Tables 3.3/3.4): the 2×2×chunk map goes through five
//! transition-up blocks (spectral-norm 3×3 *resize* convolution: ×2 nearest upsampling,
//! then conv; 656/464/304/192/112 maps) each followed by a dense block (ReLU →
//! spectral-norm 3×3 conv, 16 new maps per layer; 12/10/7/5/4 layers) that passes on only
//! its new maps, and a spectral-norm 1×1 conv to 3 channels with tanh. No normalisation
//! besides spectral norm, no skips from the encoder.
//!
//! Parameter count: 5,300,339, the thesis's figure, exactly when transition-up convs have
//! no bias, dense-layer convs have bias and the final 1×1 conv reads the last block's whole
//! concatenation (176 maps) — the spec's §3.2 reading, followed here. The thesis leaves
//! the upsampling mode and output activation unstated; nearest and tanh (images in [−1, 1])
//! are this implementation's choices.

use burn::prelude::*;
use burn::tensor::activation;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

use crate::nn::spectral_norm::SnConv2d;

/// Transition-up widths (thesis Table 3.3).
pub const TRANSITION_UP_MAPS: [usize; 5] = [656, 464, 304, 192, 112];

#[derive(Config, Debug, PartialEq)]
pub struct MixingDecoderConfig {
    #[config(default = 3)]
    pub channels: usize,
    /// Maps per quadrant chunk of the latent (thesis 192).
    #[config(default = 192)]
    pub chunk: usize,
    #[config(default = 16)]
    pub growth: usize,
    /// Divides the transition-up widths (1 = the thesis's).
    #[config(default = 1)]
    pub width_divisor: usize,
    /// Layers of the five dense blocks, first (2×2 → 4×4) to last (→ 64×64); the thesis
    /// mirrors the encoder: 12, 10, 7, 5, 4.
    #[config(default = "[12, 10, 7, 5, 4]")]
    pub layers: [usize; 5],
}

impl MixingDecoderConfig {
    pub fn init(&self, device: &Device) -> MixingDecoder {
        let mut input = self.chunk;
        let mut ups = Vec::new();
        let mut blocks = Vec::new();
        let mut concat = 0;
        for (maps, layers) in TRANSITION_UP_MAPS.iter().zip(&self.layers) {
            let maps = (maps / self.width_divisor).max(1);
            ups.push(SnConv2d::new([input, maps], 3, 1, 1, false, device));
            let mut channels = maps;
            let mut block = Vec::new();
            for _ in 0..*layers {
                block.push(SnConv2d::new([channels, self.growth], 3, 1, 1, true, device));
                channels += self.growth;
            }
            blocks.push(block);
            concat = channels;
            input = layers * self.growth;
        }
        MixingDecoder { ups, blocks, out: SnConv2d::new([concat, self.channels], 1, 1, 0, true, device), chunk: self.chunk }
    }
}

#[derive(Module, Debug)]
pub struct MixingDecoder {
    ups: Vec<SnConv2d>,
    blocks: Vec<Vec<SnConv2d>>,
    out: SnConv2d,
    pub chunk: usize,
}

impl MixingDecoder {
    /// A chunk map `[b, chunk, 2, 2]` → an image `[b, channels, 64, 64]` in [−1, 1].
    pub fn forward_map(&self, map: Tensor<4>) -> Tensor<4> {
        let mut y = map;
        let last = self.blocks.len().saturating_sub(1);
        let mut image = None;
        for (i, (up, block)) in self.ups.iter().zip(&self.blocks).enumerate() {
            let [_, _, h, w] = y.dims();
            y = up.forward(interpolate(y, InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([2 * h, 2 * w])));
            let mut concat = y;
            let mut new_maps = Vec::new();
            for layer in block {
                let new = layer.forward(activation::relu(concat.clone()));
                concat = Tensor::cat(vec![concat, new.clone()], 1);
                new_maps.push(new);
            }
            if i == last {
                image = Some(self.out.forward(concat).tanh());
                break;
            }
            // Only the block's new maps go on.
            y = Tensor::cat(new_maps, 1);
        }
        image.unwrap_or_else(|| Tensor::zeros([1, 1, 1, 1], &self.out.conv.weight.device()))
    }

    /// A latent `[b, 4·chunk]` (quadrant chunks TL, TR, BL, BR) → an image.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let [b, _] = z.dims();
        let map = z.reshape([b, 4, self.chunk]).swap_dims(1, 2).reshape([b, self.chunk, 2, 2]);
        self.forward_map(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::mixing_scenes::MixingPreset;

    #[test]
    fn full_size_decoder_has_the_thesis_parameter_count() {
        let device = Device::flex();
        assert_eq!(crate::nn::trainable_params(&MixingDecoderConfig::new().init(&device)), 5_300_339);
    }

    #[test]
    fn small_preset_round_trips_shapes_and_chunk_order() {
        let device = Device::flex();
        let encoder = MixingPreset::Small.encoder().init(&device);
        let decoder = MixingPreset::Small.decoder().init(&device);
        let x = Tensor::<4>::random([2, 3, 64, 64], burn::tensor::Distribution::Uniform(-1.0, 1.0), &device);
        let map = encoder.forward_map(x.clone());
        let z = encoder.forward(x);
        let from_map: Vec<f32> = decoder.forward_map(map).into_data().try_to_vec::<f32>().unwrap();
        let from_latent = decoder.forward(z);
        assert_eq!(from_latent.dims(), [2, 3, 64, 64]);
        // Decoding the flat latent equals decoding the map it came from: the reshape
        // inverts the encoder's chunk order.
        let from_latent: Vec<f32> = from_latent.into_data().try_to_vec::<f32>().unwrap();
        assert!(from_map.iter().zip(&from_latent).all(|(a, b)| (a - b).abs() < 1e-5));
        assert!(from_latent.iter().all(|v| (-1.0..=1.0).contains(v)));
    }
}
