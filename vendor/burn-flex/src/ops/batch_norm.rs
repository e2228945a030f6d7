//! Training-mode batch normalisation and its backward pass in a few passes over the data
//! (Patchwork's addition to burn-flex 0.22.1; see `PATCHWORK.md` at the crate root).
//!
//! burn's default `batch_norm_train` and `batch_norm_train_backward` compose them from
//! tensor operations: each statistic is taken over a transposed copy of the data (`[B, C,
//! …]` swapped to `[C, B·…]`), and the normalisation and the input gradient take about ten
//! element-wise passes with a fresh tensor each. Here, for f32, each reads the data where it
//! lies, one image-channel row at a time: the forward pass is two reductions and one
//! writing pass, the backward one reduction (both parameter gradients at once) and one
//! writing pass. Other dtypes keep burn's composition ([`train_composed`],
//! [`train_backward_composed`]: burn's default bodies, unchanged).

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::ops::{BatchNormTrain, BatchNormTrainBackward};
use burn_backend::tensor::FloatTensor;
use burn_backend::ops::{FloatTensorOps, ModuleOps};
use burn_backend::{DType, Scalar, TensorMetadata};
use burn_std::{Bytes, Shape};

use super::conv2d_gemm::{filled_by_chunk, lane_sum, written};
use crate::{Flex, FlexTensor, Layout};

/// Below this many values a reduction stays on the calling thread.
const PARALLEL_MIN: usize = 1 << 15;

/// Whether the fused f32 kernels apply.
pub fn fused(tensors: &[&FlexTensor]) -> bool {
    tensors.iter().all(|t| t.dtype() == DType::F32) && tensors[0].layout().shape().num_dims() >= 2
}

/// `[batch, channels, plane]` view of a `[batch, channels, …]` tensor.
fn rows(x: &FlexTensor) -> (usize, usize, usize) {
    let shape = x.layout().shape();
    let (batch, channels) = (shape[0], shape[1]);
    let plane = if batch * channels == 0 { 0 } else { shape.num_elements() / (batch * channels) };
    (batch, channels, plane)
}

/// `f(row)` for each of `rows` rows of `plane` values, in row order, over the threads when
/// there is enough work: the same result on every run.
fn per_row<R: Send>(rows: usize, plane: usize, f: impl Fn(usize) -> R + Send + Sync) -> Vec<R> {
    #[cfg(feature = "rayon")]
    if rows * plane >= PARALLEL_MIN {
        use rayon::prelude::*;
        return (0..rows).into_par_iter().map(f).collect();
    }
    (0..rows).map(f).collect()
}

/// Per-channel totals of per-row values (rows are `[batch, channels]` in order).
fn channel_totals(row_values: &[f64], channels: usize) -> Vec<f64> {
    let mut totals = vec![0f64; channels];
    for (r, v) in row_values.iter().enumerate() {
        totals[r % channels] += v;
    }
    totals
}

/// Row `r` of `[rows, plane]` data.
fn row(data: &[f32], r: usize, plane: usize) -> &[f32] {
    &data[r * plane..][..plane]
}

fn tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::new(Bytes::from_elems(values), Layout::contiguous(shape), DType::F32)
}

fn channel_values(t: &FlexTensor) -> Vec<f32> {
    t.clone().into_contiguous().storage::<f32>().to_vec()
}

/// Forward pass with the batch's own statistics (f32): the output, the mean and the biased
/// variance per channel.
pub fn train(x: FlexTensor, gamma: FlexTensor, beta: FlexTensor, epsilon: f64) -> BatchNormTrain<Flex> {
    let (batch, channels, plane) = rows(&x);
    let shape = x.layout().shape().clone();
    let x = x.into_contiguous();
    let xs = x.storage::<f32>();
    let count = (batch * plane).max(1) as f64;

    // Two passes (mean, then squared deviations) rather than E[x²] − E[x]², which cancels.
    let sums = per_row(batch * channels, plane, |r| {
        let row = row(xs, r, plane);
        lane_sum(plane, |i| row[i]) as f64
    });
    let mean: Vec<f64> = channel_totals(&sums, channels).into_iter().map(|s| s / count).collect();
    let squares = per_row(batch * channels, plane, |r| {
        let (row, m) = (row(xs, r, plane), mean[r % channels] as f32);
        lane_sum(plane, |i| (row[i] - m) * (row[i] - m)) as f64
    });
    let variance: Vec<f64> = channel_totals(&squares, channels).into_iter().map(|s| s / count).collect();

    let (gamma, beta) = (channel_values(&gamma), channel_values(&beta));
    let scale: Vec<f32> = (0..channels).map(|c| (gamma[c] as f64 / (variance[c] + epsilon).sqrt()) as f32).collect();
    let mean32: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
    let output = filled_by_chunk(xs.len(), plane, true, |r, out| {
        let c = r % channels;
        let (m, s, b) = (mean32[c], scale[c], beta[c]);
        written(out, row(xs, r, plane).iter().map(|&v| (v - m) * s + b))
    });
    let per_channel = Shape::new([channels]);
    BatchNormTrain::new(
        tensor(output, shape),
        tensor(mean32, per_channel.clone()),
        tensor(variance.iter().map(|&v| v as f32).collect(), per_channel),
    )
}

/// Gradients of [`train`] with respect to its input, `gamma` and `beta` (f32).
pub fn train_backward(
    x: FlexTensor,
    gamma: FlexTensor,
    mean: FlexTensor,
    variance: FlexTensor,
    epsilon: f64,
    output_grad: FlexTensor,
) -> BatchNormTrainBackward<Flex> {
    let (batch, channels, plane) = rows(&x);
    let shape = x.layout().shape().clone();
    let (x, dy) = (x.into_contiguous(), output_grad.into_contiguous());
    let (xs, dys) = (x.storage::<f32>(), dy.storage::<f32>());
    let count = (batch * plane).max(1) as f64;
    let (gamma, mean) = (channel_values(&gamma), channel_values(&mean));
    let inv_std: Vec<f64> = channel_values(&variance).iter().map(|&v| 1.0 / (v as f64 + epsilon).sqrt()).collect();

    // Σ dy and Σ dy·(x − mean) per row, in one pass.
    let sums = per_row(batch * channels, plane, |r| {
        let (x, dy, m) = (row(xs, r, plane), row(dys, r, plane), mean[r % channels]);
        (lane_sum(plane, |i| dy[i]) as f64, lane_sum(plane, |i| dy[i] * (x[i] - m)) as f64)
    });
    let beta_grad = channel_totals(&sums.iter().map(|s| s.0).collect::<Vec<_>>(), channels);
    let centred_dot = channel_totals(&sums.iter().map(|s| s.1).collect::<Vec<_>>(), channels);
    // d gamma = Σ dy·x̂ with x̂ = (x − mean)·inv_std.
    let gamma_grad: Vec<f64> = centred_dot.iter().zip(&inv_std).map(|(d, s)| d * s).collect();

    // dx = γ·inv_std·(dy − mean(dy) − x̂·mean(dy·x̂))
    //    = k·(dy − a − (x − mean)·b),  k = γ·inv_std, a = Σdy/N, b = Σdy·x̂·inv_std/N.
    let k: Vec<f32> = (0..channels).map(|c| (gamma[c] as f64 * inv_std[c]) as f32).collect();
    let a: Vec<f32> = beta_grad.iter().map(|s| (s / count) as f32).collect();
    let b: Vec<f32> = (0..channels).map(|c| (gamma_grad[c] * inv_std[c] / count) as f32).collect();
    let x_grad = filled_by_chunk(xs.len(), plane, true, |r, out| {
        let c = r % channels;
        let (x, dy) = (row(xs, r, plane), row(dys, r, plane));
        let (k, a, b, m) = (k[c], a[c], b[c], mean[c]);
        written(out, dy.iter().zip(x).map(|(&g, &v)| k * (g - a - (v - m) * b)))
    });
    let per_channel = Shape::new([channels]);
    BatchNormTrainBackward::new(
        tensor(x_grad, shape),
        tensor(gamma_grad.iter().map(|&v| v as f32).collect(), per_channel.clone()),
        tensor(beta_grad.iter().map(|&v| v as f32).collect(), per_channel),
    )
}

// burn-backend 0.22.1's default `batch_norm_train` / `batch_norm_train_backward`, verbatim
// but for `B = Flex`: what other dtypes use.

pub fn train_composed(x: FloatTensor<Flex>, gamma: FloatTensor<Flex>, beta: FloatTensor<Flex>, epsilon: f64) -> BatchNormTrain<Flex> {
    type B = Flex;
    let shape = x.shape();
    let channels = shape[1];
    let samples_per_channel = shape.num_elements() / channels;
    let flattened = Shape::new([channels, samples_per_channel]);
    let mut per_channel = vec![1; shape.num_dims()];
    per_channel[1] = channels;

    // Use mean directly to avoid overflowing intermediate sums in f16.
    let mean = B::float_mean_dim(B::float_reshape(B::float_swap_dims(x.clone(), 0, 1), flattened.clone()), 1);
    let mean = B::float_reshape(mean, Shape::from(per_channel));
    let centered = B::float_sub(x.clone(), mean.clone());
    let variance = B::float_mean_dim(B::float_reshape(B::float_swap_dims(B::float_mul(centered.clone(), centered), 0, 1), flattened), 1);
    let mean = B::float_reshape(mean, Shape::new([channels]));
    let variance = B::float_reshape(variance, Shape::new([channels]));
    let output = B::batch_norm(x, gamma, beta, mean.clone(), variance.clone(), epsilon);

    BatchNormTrain::new(output, mean, variance)
}

pub fn train_backward_composed(
    x: FloatTensor<Flex>,
    gamma: FloatTensor<Flex>,
    mean: FloatTensor<Flex>,
    variance: FloatTensor<Flex>,
    epsilon: f64,
    output_grad: FloatTensor<Flex>,
) -> BatchNormTrainBackward<Flex> {
    type B = Flex;
    let shape = x.shape();
    let rank = shape.num_dims();
    let channels = shape[1];
    let flattened = Shape::new([channels, shape.num_elements() / channels]);
    let mut per_channel = vec![1; rank];
    per_channel[1] = channels;
    let per_channel = Shape::from(per_channel);

    let inv_std = B::float_reshape(B::float_recip(B::float_sqrt(B::float_add_scalar(variance, Scalar::Float(epsilon)))), per_channel.clone());
    let normalized = B::float_mul(B::float_sub(x, B::float_reshape(mean, per_channel.clone())), inv_std.clone());

    let output_grad_flat = B::float_reshape(B::float_swap_dims(output_grad.clone(), 0, 1), flattened.clone());
    let normalized_grad_flat = B::float_reshape(B::float_swap_dims(B::float_mul(output_grad.clone(), normalized.clone()), 0, 1), flattened);
    let beta_grad = B::float_sum_dim(output_grad_flat.clone(), 1);
    let gamma_grad = B::float_sum_dim(normalized_grad_flat.clone(), 1);

    // Compute means independently: parameter-gradient sums can overflow in f16.
    let mean_grad = B::float_reshape(B::float_mean_dim(output_grad_flat, 1), per_channel.clone());
    let mean_normalized_grad = B::float_reshape(B::float_mean_dim(normalized_grad_flat, 1), per_channel.clone());
    let centred_grad = B::float_sub(output_grad, mean_grad);
    let projected = B::float_mul(normalized, mean_normalized_grad);
    let scale = B::float_mul(B::float_reshape(gamma, per_channel), inv_std);
    let x_grad = B::float_mul(scale, B::float_sub(centred_grad, projected));

    BatchNormTrainBackward::new(
        x_grad,
        B::float_reshape(gamma_grad, Shape::new([channels])),
        B::float_reshape(beta_grad, Shape::new([channels])),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 33) as f32 / (1u64 << 31) as f32) * 4.0 - 1.5
            })
            .collect()
    }

    fn close(a: &FlexTensor, b: &FlexTensor, what: &str) {
        assert_eq!(a.layout().shape(), b.layout().shape(), "{what}: shapes");
        let (a, b) = (channel_values(a), channel_values(b));
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!((x - y).abs() <= 2e-4 * (1.0 + y.abs()), "{what}[{i}]: fused {x} vs composed {y}");
        }
    }

    /// The fused kernels against burn's composition, forward and backward, for a 4-D
    /// batch big enough to run over the threads, an odd-sized one, and a 2-D (BatchNorm1d)
    /// one whose plane is a single value.
    #[test]
    fn fused_batch_norm_matches_burns_composition() {
        for dims in [vec![16, 8, 24, 24], vec![3, 5, 7, 3], vec![6, 4]] {
            let n: usize = dims.iter().product();
            let channels = dims[1];
            let x = tensor(data(n, 1), Shape::from(dims.clone()));
            let dy = tensor(data(n, 2), Shape::from(dims.clone()));
            let gamma = tensor(data(channels, 3), Shape::new([channels]));
            let beta = tensor(data(channels, 4), Shape::new([channels]));
            let eps = 1e-5;
            let fused = train(x.clone(), gamma.clone(), beta.clone(), eps);
            let composed = train_composed(x.clone(), gamma.clone(), beta.clone(), eps);
            close(&fused.output, &composed.output, "output");
            close(&fused.mean, &composed.mean, "mean");
            close(&fused.variance, &composed.variance, "variance");
            let fused = train_backward(x.clone(), gamma.clone(), composed.mean.clone(), composed.variance.clone(), eps, dy.clone());
            let composed = train_backward_composed(x, gamma, composed.mean, composed.variance, eps, dy);
            close(&fused.x_grad, &composed.x_grad, "x_grad");
            close(&fused.gamma_grad, &composed.gamma_grad, "gamma_grad");
            close(&fused.beta_grad, &composed.beta_grad, "beta_grad");
        }
    }
}
