//! A small image classifier that scores what a model renders: does a mix still show the
//! object it should (object transfer), does a part swap leave a garment's class alone
//! (part swaps)? 3 conv + 2×2 max-pool layers (32/64/128 maps, ReLU) and one linear layer,
//! trained with Adam on labelled images at the model's size and channels.

use burn::nn::conv::Conv2d;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation;
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::nn::blocks::conv;

const BATCH: usize = 64;
const LR: f64 = 2e-3;

/// The shape of what a judge looks at and what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JudgeShape {
    pub channels: usize,
    /// Image side, a multiple of 8.
    pub size: usize,
    pub classes: usize,
}

impl JudgeShape {
    fn per_image(self) -> usize {
        self.channels * self.size * self.size
    }
}

#[derive(Module, Debug)]
pub struct Judge {
    convs: Vec<Conv2d>,
    pool: MaxPool2d,
    out: Linear,
}

impl Judge {
    pub fn new(shape: JudgeShape, device: &Device) -> Self {
        let side = shape.size / 8;
        Self {
            convs: vec![conv([shape.channels, 32], 3, 1, 1, true, device), conv([32, 64], 3, 1, 1, true, device), conv([64, 128], 3, 1, 1, true, device)],
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            out: LinearConfig::new(128 * side * side, shape.classes).init(device),
        }
    }

    /// `[b, channels, size, size]` images in [−1, 1] → class logits `[b, classes]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut y = x;
        for c in &self.convs {
            y = self.pool.forward(activation::relu(c.forward(y)));
        }
        let [b, c, h, w] = y.dims();
        self.out.forward(y.reshape([b, c * h * w]))
    }

    /// Predicted class of each image (`images`: CHW in [−1, 1], one after another).
    pub fn classify(&self, images: &[f32], shape: JudgeShape, device: &Device) -> Vec<usize> {
        let per = shape.per_image();
        let n = images.len() / per.max(1);
        let mut out = Vec::with_capacity(n);
        for start in (0..n).step_by(512) {
            let end = (start + 512).min(n);
            let x = Tensor::<4>::from_data(TensorData::new(images[start * per..end * per].to_vec(), [end - start, shape.channels, shape.size, shape.size]), device);
            let classes: Vec<i64> = self.forward(x).argmax(1).into_data().convert::<i64>().try_to_vec::<i64>().unwrap_or_default();
            out.extend(classes.into_iter().map(|c| c as usize));
        }
        out
    }

    /// Trains a judge for `epochs` epochs on `images` (CHW in [−1, 1], one after another)
    /// and their `labels`, seeded: the same inputs give the same judge.
    pub fn fit(images: &[f32], labels: &[usize], shape: JudgeShape, epochs: usize, seed: u64, device: &Device) -> Judge {
        let per = shape.per_image();
        let ad = device.clone().autodiff();
        let mut judge = crate::nn::init_seeded(&ad, seed, |d| Judge::new(shape, d));
        let mut optimizer = AdamConfig::new().init();
        let loss_fn = CrossEntropyLossConfig::new().init(&ad);
        let mut order: Vec<usize> = (0..labels.len().min(images.len() / per.max(1))).collect();
        let mut rng = crate::rng::SeededRng::seed_from_u64(seed);
        for _ in 0..epochs {
            order.shuffle(&mut rng);
            for batch in order.chunks(BATCH) {
                let x: Vec<f32> = batch.iter().flat_map(|&i| images[i * per..(i + 1) * per].iter().copied()).collect();
                let y: Vec<i64> = batch.iter().map(|&i| labels[i] as i64).collect();
                let x = Tensor::<4>::from_data(TensorData::new(x, [batch.len(), shape.channels, shape.size, shape.size]), &ad);
                let y = Tensor::<1, Int>::from_data(TensorData::new(y, [batch.len()]), &ad);
                let loss = loss_fn.forward(judge.forward(x), y);
                let grads = GradientsParams::from_grads(loss.backward(), &judge);
                judge = optimizer.step(LR, judge, grads);
            }
        }
        judge.valid()
    }
}

/// % of `predicted` equal to `labels` (0 for none).
pub fn percent_correct(predicted: &[usize], labels: &[usize]) -> f64 {
    let n = predicted.len().min(labels.len());
    if n == 0 {
        return 0.0;
    }
    100.0 * predicted.iter().zip(labels).filter(|(p, l)| p == l).count() as f64 / n as f64
}
