//! The CPU backend's convolutions and training-mode batch norm, checked through burn's
//! public API against a direct computation: forward values and every gradient, for the
//! shapes Patchwork's models use. burn-flex is patched in from `vendor/burn-flex` with
//! kernels of our own for both (`vendor/burn-flex/PATCHWORK.md`); this is what guards them
//! from the model's side.

use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::{batch_norm_train, conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

/// One convolution to check; `transposed` reads `weight` as `[C_in, C_out, k, k]`.
struct Case {
    batch: usize,
    in_channels: usize,
    size: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    transposed: bool,
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 data").into_iter().map(f64::from).collect()
}

/// Every (input index, weight index, output index) triple the convolution multiplies, in
/// row-major NCHW / OIHW (IOHW when transposed) terms.
fn products(c: &Case, out_size: usize) -> Vec<(usize, usize, usize)> {
    let (s, k) = (c.size, c.kernel);
    let mut triples = Vec::new();
    for b in 0..c.batch {
        for ci in 0..c.in_channels {
            for o in 0..c.out_channels {
                for i in 0..k {
                    for j in 0..k {
                        // A plain convolution reads input (ih, iw) into output (oh, ow) with
                        // ih = oh·stride − p + i; a transposed one writes the input (the
                        // smaller map) to oh = ih·stride − p + i.
                        for a in 0..if c.transposed { s } else { out_size } {
                            for bb in 0..if c.transposed { s } else { out_size } {
                                let (y, x) = ((a * c.stride + i).checked_sub(c.padding), (bb * c.stride + j).checked_sub(c.padding));
                                let (Some(y), Some(x)) = (y, x) else { continue };
                                let limit = if c.transposed { out_size } else { s };
                                if y >= limit || x >= limit {
                                    continue;
                                }
                                let ((ih, iw), (oh, ow)) = if c.transposed { ((a, bb), (y, x)) } else { ((y, x), (a, bb)) };
                                let input = ((b * c.in_channels + ci) * s + ih) * s + iw;
                                let weight = if c.transposed { ((ci * c.out_channels + o) * k + i) * k + j } else { ((o * c.in_channels + ci) * k + i) * k + j };
                                let output = ((b * c.out_channels + o) * out_size + oh) * out_size + ow;
                                triples.push((input, weight, output));
                            }
                        }
                    }
                }
            }
        }
    }
    triples
}

fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-4 * scale, "{what}[{i}]: {g} vs {w} (scale {scale})");
    }
}

fn check(c: &Case) {
    let device = Device::flex().autodiff();
    let out_size = if c.transposed { (c.size - 1) * c.stride + c.kernel - 2 * c.padding } else { (c.size + 2 * c.padding - c.kernel) / c.stride + 1 };
    let weight_shape = if c.transposed { [c.in_channels, c.out_channels, c.kernel, c.kernel] } else { [c.out_channels, c.in_channels, c.kernel, c.kernel] };
    let normal = Distribution::Normal(0.0, 1.0);
    let x = Tensor::<4>::random([c.batch, c.in_channels, c.size, c.size], normal, &device).require_grad();
    let w = Tensor::<4>::random(weight_shape, normal, &device).require_grad();
    let bias = Tensor::<1>::random([c.out_channels], normal, &device).require_grad();
    let r = Tensor::<4>::random([c.batch, c.out_channels, out_size, out_size], normal, &device);
    let y = if c.transposed {
        conv_transpose2d(x.clone(), w.clone(), Some(bias.clone()), ConvTransposeOptions::new([c.stride; 2], [c.padding; 2], [0; 2], [1; 2], 1))
    } else {
        conv2d(x.clone(), w.clone(), Some(bias.clone()), ConvOptions::new([c.stride; 2], [c.padding; 2], [1; 2], 1))
    };
    let grads = (y.clone() * r.clone()).sum().backward();
    let (xs, ws, bs, rs) = (host(x.clone()), host(w.clone()), host(bias.clone()), host(r));
    let plane = out_size * out_size;
    let mut y_ref: Vec<f64> = (0..c.batch * c.out_channels * plane).map(|i| bs[(i / plane) % c.out_channels]).collect();
    let (mut gx, mut gw) = (vec![0.0; xs.len()], vec![0.0; ws.len()]);
    for (input, weight, output) in products(c, out_size) {
        y_ref[output] += xs[input] * ws[weight];
        gx[input] += rs[output] * ws[weight];
        gw[weight] += rs[output] * xs[input];
    }
    let gb: Vec<f64> = (0..c.out_channels).map(|o| rs.iter().enumerate().filter(|(i, _)| (i / plane) % c.out_channels == o).map(|(_, v)| v).sum()).collect();
    assert_close("y", &host(y), &y_ref);
    let grad = |t: &Tensor<4>| host(t.grad(&grads).expect("gradient"));
    assert_close("dL/dx", &grad(&x), &gx);
    assert_close("dL/dw", &grad(&w), &gw);
    assert_close("dL/db", &host(bias.grad(&grads).expect("bias gradient")), &gb);
}

#[test]
fn flex_convolutions_and_their_gradients_match_a_direct_computation() {
    let cases = [
        // The Resnet-9 stem (few input channels), a 3×3 block and a strided 3×3 with
        // enough images for the work to be spread over threads.
        Case { batch: 5, in_channels: 3, size: 12, out_channels: 8, kernel: 7, stride: 2, padding: 3, transposed: false },
        Case { batch: 9, in_channels: 16, size: 8, out_channels: 12, kernel: 3, stride: 1, padding: 1, transposed: false },
        Case { batch: 6, in_channels: 20, size: 9, out_channels: 6, kernel: 3, stride: 2, padding: 1, transposed: false },
        Case { batch: 4, in_channels: 16, size: 6, out_channels: 8, kernel: 1, stride: 2, padding: 0, transposed: false },
        // 3×3 blocks with at least 32 channels on each side (Winograd F(4×4, 3×3) in
        // burn-flex), one on a map that is not a multiple of the 4×4 tile, and the same
        // geometry as a transposed convolution.
        Case { batch: 3, in_channels: 32, size: 8, out_channels: 40, kernel: 3, stride: 1, padding: 1, transposed: false },
        Case { batch: 2, in_channels: 36, size: 5, out_channels: 32, kernel: 3, stride: 1, padding: 1, transposed: true },
        // The pyramid decoder: 1×1 and 4×4/2 transposed convolutions down to RGB.
        Case { batch: 6, in_channels: 24, size: 4, out_channels: 32, kernel: 1, stride: 1, padding: 0, transposed: true },
        Case { batch: 6, in_channels: 32, size: 4, out_channels: 16, kernel: 4, stride: 2, padding: 1, transposed: true },
        Case { batch: 7, in_channels: 16, size: 8, out_channels: 3, kernel: 4, stride: 2, padding: 1, transposed: true },
    ];
    for case in &cases {
        check(case);
    }
}

/// Batch norm with the batch's statistics against the textbook formulas in f64, for a
/// batch large enough to be spread over threads and for a 2-D (`BatchNorm1d`) input.
#[test]
fn flex_batch_norm_and_its_gradients_match_a_direct_computation() {
    let device = Device::flex().autodiff();
    let normal = Distribution::Normal(0.0, 1.0);
    for (batch, channels, plane) in [(16usize, 8usize, 576usize), (5, 3, 7), (9, 4, 1)] {
        let x = (Tensor::<3>::random([batch, channels, plane], normal, &device) * 2.0 + 0.5).require_grad();
        let gamma = Tensor::<1>::random([channels], normal, &device).require_grad();
        let beta = Tensor::<1>::random([channels], normal, &device).require_grad();
        let r = Tensor::<3>::random([batch, channels, plane], normal, &device);
        let eps = 1e-5;
        let out = batch_norm_train(x.clone(), gamma.clone(), beta.clone(), eps);
        let grads = (out.output.clone() * r.clone()).sum().backward();
        let (xs, gs, bs, rs) = (host(x.clone()), host(gamma.clone()), host(beta.clone()), host(r));
        let index = |b: usize, c: usize, p: usize| (b * channels + c) * plane + p;
        let n = (batch * plane) as f64;
        let (mut y, mut gx) = (vec![0.0; xs.len()], vec![0.0; xs.len()]);
        let (mut means, mut variances, mut dgamma, mut dbeta) = (vec![], vec![], vec![], vec![]);
        for c in 0..channels {
            let values = || (0..batch).flat_map(move |b| (0..plane).map(move |p| index(b, c, p)));
            let mean = values().map(|i| xs[i]).sum::<f64>() / n;
            let variance = values().map(|i| (xs[i] - mean).powi(2)).sum::<f64>() / n;
            let inv_std = 1.0 / (variance + eps).sqrt();
            let x_hat = |i: usize| (xs[i] - mean) * inv_std;
            let (sum_r, sum_r_xhat) = (values().map(|i| rs[i]).sum::<f64>(), values().map(|i| rs[i] * x_hat(i)).sum::<f64>());
            for i in values() {
                y[i] = gs[c] * x_hat(i) + bs[c];
                gx[i] = gs[c] * inv_std * (rs[i] - sum_r / n - x_hat(i) * sum_r_xhat / n);
            }
            means.push(mean);
            variances.push(variance);
            dgamma.push(sum_r_xhat);
            dbeta.push(sum_r);
        }
        assert_close("batch norm y", &host(out.output), &y);
        assert_close("batch norm mean", &host(out.mean), &means);
        assert_close("batch norm variance", &host(out.variance), &variances);
        assert_close("batch norm dL/dx", &host(x.grad(&grads).expect("x gradient")), &gx);
        assert_close("batch norm dL/dgamma", &host(gamma.grad(&grads).expect("gamma gradient")), &dgamma);
        assert_close("batch norm dL/dbeta", &host(beta.grad(&grads).expect("beta gradient")), &dbeta);
    }
}
