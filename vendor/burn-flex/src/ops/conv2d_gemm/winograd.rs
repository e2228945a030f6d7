//! 3×3 convolutions with stride 1 and padding 1 — the Resnet-9 blocks and PatchVAE's
//! heads — and their gradients by Winograd's minimal filtering F(4×4, 3×3) (Lavin & Gray,
//! "Fast Algorithms for Convolutional Neural Networks", CVPR 2016), f32 only.
//!
//! Each 4×4 block of outputs comes from the 6×6 block of inputs around it: transformed to
//! `V = Bᵀ d B`, multiplied position by position with the transformed kernel `U = G g Gᵀ`,
//! summed over the input channels and transformed back, `Y = Aᵀ M A`. The sum over
//! channels at each of the 36 positions is one GEMM over all tiles of the batch,
//! `M_ξ[T, O] = V_ξ[T, C] · U_ξ[C, O]`: 36·C·O multiply-adds per tile where im2col + GEMM
//! spends 16·9·C·O, a quarter. The gradients use the same three matrices:
//!
//! - input gradient: the same convolution of the output gradient with the kernel rotated by
//!   180° and its channels swapped (stride 1, padding 1: the adjoint is again such a
//!   convolution);
//! - weight gradient: the transpose of the forward formula in `g`,
//!   `dg = Gᵀ [(A dY Aᵀ) ⊙ (Bᵀ d B)] G`, summed over tiles — at each position one GEMM
//!   `dU_ξ[O, C] = Ŷ_ξᵀ[O, T] · V_ξ[T, C]`.
//!
//! Every buffer is tile-major (`[T, 36, C]`), so one image's tiles are one contiguous
//! chunk for the transforms and each position's matrix is a strided view for the GEMMs.
//! The transforms run over vectors of channels (the innermost axis), so they vectorise.
//! The 36 products go over the threads, each single-threaded: the same sums in the same
//! order on every run.

use alloc::vec;
use alloc::vec::Vec;
use core::any::TypeId;

use super::{Element, Geometry, Scratch, SendPtr, View, add_bias, channels_first, channels_last, filled_by_chunk, for_each_chunk, threads, written};

/// Side of an output tile.
const OUT_TILE: usize = 4;
/// Side of an input tile: `OUT_TILE + 3 − 1`.
const ALPHA: usize = 6;
/// Positions of a transformed tile, one product each.
const POSITIONS: usize = ALPHA * ALPHA;

/// The input transform `Bᵀ` (interpolation points 0, ±1, ±2, ∞).
const BT: [[f32; ALPHA]; ALPHA] = [
    [4.0, 0.0, -5.0, 0.0, 1.0, 0.0],
    [0.0, -4.0, -4.0, 1.0, 1.0, 0.0],
    [0.0, 4.0, -4.0, -1.0, 1.0, 0.0],
    [0.0, -2.0, -1.0, 2.0, 1.0, 0.0],
    [0.0, 2.0, -1.0, -2.0, 1.0, 0.0],
    [0.0, 4.0, 0.0, -5.0, 0.0, 1.0],
];
/// The kernel transform `G`.
const G: [[f32; 3]; ALPHA] = [
    [1.0 / 4.0, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];
/// The output transform `Aᵀ`.
const AT: [[f32; ALPHA]; OUT_TILE] = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.0],
    [0.0, 1.0, -1.0, 2.0, -2.0, 0.0],
    [0.0, 1.0, 1.0, 4.0, 4.0, 0.0],
    [0.0, 1.0, -1.0, 8.0, -8.0, 1.0],
];
/// `A`, for the output gradient's tiles in the weight gradient.
const A: [[f32; OUT_TILE]; ALPHA] = transpose(AT);
/// `Gᵀ`, back from the transformed weight gradient.
const GT: [[f32; ALPHA]; 3] = transpose(G);

const fn transpose<const R: usize, const S: usize>(m: [[f32; S]; R]) -> [[f32; R]; S] {
    let mut t = [[0.0; R]; S];
    let mut r = 0;
    while r < R {
        let mut s = 0;
        while s < S {
            t[s][r] = m[r][s];
            s += 1;
        }
        r += 1;
    }
    t
}

/// With fewer channels than this on either side, im2col + GEMM: the transforms cost about
/// as much per channel as the products they save.
const MIN_CHANNELS: usize = 32;

/// Whether `g` is a convolution these kernels compute: 3×3, stride 1, no dilation, padding
/// 1 on every side (the output as large as the input), ungrouped, at least
/// [`MIN_CHANNELS`] channels in and out, at least one image.
pub(super) fn applies(g: &Geometry) -> bool {
    #[cfg(test)]
    if super::timing::FORCE_LOWERING.load(core::sync::atomic::Ordering::Relaxed) != 0 {
        return false;
    }
    g.kernel == [3, 3]
        && g.stride == [1, 1]
        && g.dilation == [1, 1]
        && g.padding == [1, 1]
        && g.out_size == g.in_size
        && g.groups == 1
        && g.in_channels.min(g.out_channels) >= MIN_CHANNELS
        && g.batch > 0
}

/// `data` as f32, if `T` is f32.
pub(super) fn as_f32<T: Element>(data: &[T]) -> Option<&[f32]> {
    (TypeId::of::<T>() == TypeId::of::<f32>()).then(|| bytemuck::cast_slice(data))
}

/// `data` as a vector of `T`, which must be f32.
pub(super) fn from_f32<T: Element>(data: Vec<f32>) -> Vec<T> {
    assert!(TypeId::of::<T>() == TypeId::of::<f32>(), "winograd: results are f32");
    let mut data = core::mem::ManuallyDrop::new(data);
    // SAFETY: `T` is `f32` (checked above), so pointer, length and capacity describe a
    // vector of `T` as they did one of `f32`.
    unsafe { Vec::from_raw_parts(data.as_mut_ptr() as *mut T, data.len(), data.capacity()) }
}

/// `[B, C_out, H, W]`: the convolution of `input` (`[B, C_in, H, W]`) with `weight`
/// (`[C_out, C_in, 3, 3]`), plus `bias`.
pub(super) fn forward(input: &[f32], weight: &[f32], bias: Option<&[f32]>, g: &Geometry) -> Vec<f32> {
    let kernel = kernel_tiles(weight, g.in_channels, g.out_channels, false);
    convolve(input, &kernel, bias, g)
}

/// `[B, C_in, H, W]`: the gradient of [`forward`] with respect to its input, from
/// `output_grad` (`[B, C_out, H, W]`).
pub(super) fn input_grad(output_grad: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
    let adjoint = Geometry { in_channels: g.out_channels, out_channels: g.in_channels, in_size: g.out_size, out_size: g.in_size, ..*g };
    let kernel = kernel_tiles(weight, g.out_channels, g.in_channels, true);
    convolve(output_grad, &kernel, None, &adjoint)
}

/// `[C_out, C_in, 3, 3]`: the gradient of [`forward`] with respect to its weight.
pub(super) fn weight_grad(input: &[f32], output_grad: &[f32], g: &Geometry) -> Vec<f32> {
    let (ins, outs, parallel) = (g.in_channels, g.out_channels, threads() > 1);
    let tiles = g.batch * tiles_per_image(g);
    let input_tiles = transformed_inputs(input, g);
    let grads = Geometry { in_channels: outs, in_size: g.out_size, ..*g };
    let grads_last = channels_last(output_grad, &grads, 0, g.batch, parallel);
    let mut grad_tiles = Scratch::<f32>::new(tiles * POSITIONS * outs);
    let (image, per_image) = (g.out_plane() * outs, tiles_per_image(g) * POSITIONS * outs);
    for_each_chunk(grad_tiles.as_mut_slice(), per_image, parallel, |b, chunk| {
        transform_grad_tiles(&grads_last.as_slice()[b * image..][..image], g, outs, chunk);
    });
    // dU_ξ[O, C] = Ŷ_ξᵀ[O, T] · V_ξ[T, C], the positions side by side: `[36, O, C]`.
    let mut transformed = Scratch::<f32>::new(POSITIONS * outs * ins);
    let dst = SendPtr(transformed.as_mut_slice().as_mut_ptr());
    let (ys, vs) = (grad_tiles.as_slice(), input_tiles.as_slice());
    over_positions(parallel, |xi| {
        let dst = dst;
        let lhs = View { ptr: ys[xi * outs..].as_ptr(), row_stride: 1, col_stride: (POSITIONS * outs) as isize };
        let rhs = View { ptr: vs[xi * ins..].as_ptr(), row_stride: (POSITIONS * ins) as isize, col_stride: 1 };
        // SAFETY: position ξ's `O × C` block of `transformed` is its own; the views stay
        // inside `grad_tiles` (`[T, 36, O]`) and `input_tiles` (`[T, 36, C]`).
        unsafe { product(outs, ins, tiles, dst.0.add(xi * outs * ins), ins, lhs, rhs) };
    });
    let transformed = transformed.as_slice();
    filled_by_chunk(outs * ins * 9, ins * 9, parallel, |o, chunk| {
        // This output channel's 36 positions, `[36, C]`, back to `[3, 3, C]`.
        let mut block = vec![0.0; POSITIONS * ins];
        for (xi, row) in block.chunks_exact_mut(ins).enumerate() {
            row.copy_from_slice(&transformed[(xi * outs + o) * ins..][..ins]);
        }
        let (mut half, mut taps) = (vec![0.0; 3 * ALPHA * ins], vec![0.0; 9 * ins]);
        sandwich(&GT, &block, ins, &mut half, &mut taps);
        written(chunk, (0..ins * 9).map(|i| taps[(i % 9) * ins + i / 9]))
    })
}

/// Tiles of one image: `⌈H/4⌉ · ⌈W/4⌉`.
fn tiles_per_image(g: &Geometry) -> usize {
    g.out_size[0].div_ceil(OUT_TILE) * g.out_size[1].div_ceil(OUT_TILE)
}

/// The first output row and column of an image's tile `t` (row-major over a map `w` wide).
fn tile_origin(t: usize, w: usize) -> (usize, usize) {
    let across = w.div_ceil(OUT_TILE);
    (t / across * OUT_TILE, t % across * OUT_TILE)
}

/// The convolution of `input` with the transformed kernel `kernel` (`[C_in, 36, C_out]`).
fn convolve(input: &[f32], kernel: &Scratch<f32>, bias: Option<&[f32]>, g: &Geometry) -> Vec<f32> {
    let (ins, outs, parallel) = (g.in_channels, g.out_channels, threads() > 1);
    let tiles = g.batch * tiles_per_image(g);
    let input_tiles = transformed_inputs(input, g);
    // M_ξ[T, O] = V_ξ[T, C] · U_ξ[C, O], into `[T, 36, O]`.
    let mut products = Scratch::<f32>::new(tiles * POSITIONS * outs);
    let dst = SendPtr(products.as_mut_slice().as_mut_ptr());
    let (vs, us) = (input_tiles.as_slice(), kernel.as_slice());
    over_positions(parallel, |xi| {
        let dst = dst;
        let lhs = View { ptr: vs[xi * ins..].as_ptr(), row_stride: (POSITIONS * ins) as isize, col_stride: 1 };
        let rhs = View { ptr: us[xi * outs..].as_ptr(), row_stride: (POSITIONS * outs) as isize, col_stride: 1 };
        // SAFETY: position ξ writes columns `ξ·O..(ξ+1)·O` of each tile's row of
        // `products`, no other position's; the views stay inside `input_tiles` (`[T, 36,
        // C]`) and `kernel` (`[C, 36, O]`).
        unsafe { product(tiles, outs, ins, dst.0.add(xi * outs), POSITIONS * outs, lhs, rhs) };
    });
    let plane = g.out_plane();
    let mut outputs = Scratch::<f32>::new(g.batch * plane * outs);
    let per_image = tiles_per_image(g) * POSITIONS * outs;
    for_each_chunk(outputs.as_mut_slice(), plane * outs, parallel, |b, image| {
        output_tiles(&products.as_slice()[b * per_image..][..per_image], g, outs, image);
    });
    let len = outputs.as_slice().len();
    let mut out = filled_by_chunk(len, len, false, |_, dst| channels_first(outputs.as_slice(), outs, plane, dst, parallel));
    if let Some(bias) = bias {
        add_bias(&mut out, bias, plane, parallel);
    }
    out
}

/// `[T, 36, C_in]`: every input tile of the batch, transformed (`Bᵀ d B`).
fn transformed_inputs(input: &[f32], g: &Geometry) -> Scratch<f32> {
    let (ins, parallel) = (g.in_channels, threads() > 1);
    let last = channels_last(input, g, 0, g.batch, parallel);
    let mut tiles = Scratch::<f32>::new(g.batch * tiles_per_image(g) * POSITIONS * ins);
    let (image, per_image) = (g.in_plane() * ins, tiles_per_image(g) * POSITIONS * ins);
    for_each_chunk(tiles.as_mut_slice(), per_image, parallel, |b, chunk| {
        let src = &last.as_slice()[b * image..][..image];
        let [h, w] = g.in_size;
        let (mut d, mut half) = (vec![0.0; POSITIONS * ins], vec![0.0; POSITIONS * ins]);
        for (t, dst) in chunk.chunks_exact_mut(POSITIONS * ins).enumerate() {
            let (y0, x0) = tile_origin(t, w);
            // The 6×6 inputs around the output tile: one row and column of padding.
            for (i, row) in d.chunks_exact_mut(ALPHA * ins).enumerate() {
                let y = (y0 + i).checked_sub(1).filter(|&y| y < h);
                for (j, px) in row.chunks_exact_mut(ins).enumerate() {
                    match (y, (x0 + j).checked_sub(1).filter(|&x| x < w)) {
                        (Some(y), Some(x)) => px.copy_from_slice(&src[(y * w + x) * ins..][..ins]),
                        _ => px.fill(0.0),
                    }
                }
            }
            sandwich(&BT, &d, ins, &mut half, dst);
        }
    });
    tiles
}

/// `[C_in, 36, C_out]`: the kernels transformed (`G g Gᵀ`). `weight` is `[C_out, C_in,
/// 3, 3]`, or with `adjoint` the weight of the convolution this one is the input gradient
/// of (`[C_in, C_out, 3, 3]`, read rotated by 180°).
fn kernel_tiles(weight: &[f32], ins: usize, outs: usize, adjoint: bool) -> Scratch<f32> {
    let mut tiles = Scratch::<f32>::new(ins * POSITIONS * outs);
    for_each_chunk(tiles.as_mut_slice(), POSITIONS * outs, threads() > 1, |c, dst| {
        // This input channel's kernels, `[3, 3, C_out]`.
        let mut taps = vec![0.0; 9 * outs];
        for (tap, row) in taps.chunks_exact_mut(outs).enumerate() {
            for (o, v) in row.iter_mut().enumerate() {
                *v = if adjoint { weight[(c * outs + o) * 9 + 8 - tap] } else { weight[(o * ins + c) * 9 + tap] };
            }
        }
        let mut half = vec![0.0; ALPHA * 3 * outs];
        sandwich(&G, &taps, outs, &mut half, dst);
    });
    tiles
}

/// One image's output (`[H, W, C_out]`, `image`) from its tiles' products (`[tiles, 36,
/// C_out]`): `Aᵀ M A`, the tiles' overhang past the edges dropped.
fn output_tiles(products: &[f32], g: &Geometry, outs: usize, image: &mut [f32]) {
    let [h, w] = g.out_size;
    let (mut half, mut tile) = (vec![0.0; OUT_TILE * ALPHA * outs], vec![0.0; OUT_TILE * OUT_TILE * outs]);
    for (t, m) in products.chunks_exact(POSITIONS * outs).enumerate() {
        let (y0, x0) = tile_origin(t, w);
        sandwich(&AT, m, outs, &mut half, &mut tile);
        for i in 0..OUT_TILE.min(h - y0) {
            for j in 0..OUT_TILE.min(w - x0) {
                let (y, x) = (y0 + i, x0 + j);
                image[(y * w + x) * outs..][..outs].copy_from_slice(&tile[(i * OUT_TILE + j) * outs..][..outs]);
            }
        }
    }
}

/// One image's output-gradient tiles (`[tiles, 36, C_out]`, `dst`) from its gradient
/// (`[H, W, C_out]`): `A dY Aᵀ`, zeros past the edges.
fn transform_grad_tiles(grads: &[f32], g: &Geometry, outs: usize, dst: &mut [f32]) {
    let [h, w] = g.out_size;
    let (mut dy, mut half) = (vec![0.0; OUT_TILE * OUT_TILE * outs], vec![0.0; ALPHA * OUT_TILE * outs]);
    for (t, dst) in dst.chunks_exact_mut(POSITIONS * outs).enumerate() {
        let (y0, x0) = tile_origin(t, w);
        for (i, row) in dy.chunks_exact_mut(OUT_TILE * outs).enumerate() {
            let y = y0 + i;
            for (j, px) in row.chunks_exact_mut(outs).enumerate() {
                let x = x0 + j;
                if y < h && x < w {
                    px.copy_from_slice(&grads[(y * w + x) * outs..][..outs]);
                } else {
                    px.fill(0.0);
                }
            }
        }
        sandwich(&A, &dy, outs, &mut half, dst);
    }
}

/// `dst = mat · src · matᵀ` for an `S × S` matrix `src` whose entries are vectors of
/// `lanes` values (`dst`: `R × R` of them), through `half` (`mat · src`, `R × S`).
fn sandwich<const R: usize, const S: usize>(mat: &[[f32; S]; R], src: &[f32], lanes: usize, half: &mut [f32], dst: &mut [f32]) {
    for (r, coefficients) in mat.iter().enumerate() {
        for j in 0..S {
            let out = &mut half[(r * S + j) * lanes..][..lanes];
            combine(out, coefficients, |s| &src[(s * S + j) * lanes..][..lanes]);
        }
    }
    for i in 0..R {
        for (r, coefficients) in mat.iter().enumerate() {
            let out = &mut dst[(i * R + r) * lanes..][..lanes];
            combine(out, coefficients, |s| &half[(i * S + s) * lanes..][..lanes]);
        }
    }
}

/// `out = Σ_s coefficients[s] · input(s)`, skipping the zero coefficients; the first term
/// is written rather than added, so `out` is never zeroed first.
#[inline(always)]
fn combine<'a, const S: usize>(out: &mut [f32], coefficients: &[f32; S], input: impl Fn(usize) -> &'a [f32]) {
    let mut terms = coefficients.iter().enumerate().filter(|(_, a)| **a != 0.0);
    match terms.next() {
        Some((s, &a)) => out.iter_mut().zip(input(s)).for_each(|(o, &x)| *o = a * x),
        None => out.fill(0.0),
    }
    for (s, &a) in terms {
        out.iter_mut().zip(input(s)).for_each(|(o, &x)| *o += a * x);
    }
}

/// `f(ξ)` for the 36 positions, over the threads if `parallel`.
fn over_positions(parallel: bool, f: impl Fn(usize) + Send + Sync) {
    #[cfg(feature = "rayon")]
    if parallel {
        use rayon::prelude::*;
        (0..POSITIONS).into_par_iter().for_each(f);
        return;
    }
    let _ = parallel;
    (0..POSITIONS).for_each(f);
}

/// `dst[m × n] = lhs[m × k] · rhs[k × n]`, `dst` row-major with rows `dst_row_stride`
/// apart, single-threaded.
///
/// # Safety
/// `dst` must hold the `m × n` result at those strides, and the views must describe
/// matrices inside live buffers.
#[allow(clippy::too_many_arguments)]
unsafe fn product(m: usize, n: usize, k: usize, dst: *mut f32, dst_row_stride: usize, lhs: View<f32>, rhs: View<f32>) {
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: per this function's contract.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_row_stride as isize,
            false,
            lhs.ptr,
            lhs.col_stride,
            lhs.row_stride,
            rhs.ptr,
            rhs.col_stride,
            rhs.row_stride,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::{forward_lowered, input_grad_lowered, weight_grad_lowered};
    use super::*;

    fn data(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// The largest difference from `reference`, relative to its largest magnitude.
    fn relative_error(got: &[f32], reference: &[f32]) -> f32 {
        assert_eq!(got.len(), reference.len());
        let scale = reference.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        got.iter().zip(reference).fold(0.0f32, |m, (a, b)| m.max((a - b).abs())) / scale
    }

    fn geometry(batch: usize, ins: usize, [h, w]: [usize; 2], outs: usize) -> Geometry {
        Geometry { batch, in_channels: ins, in_size: [h, w], out_channels: outs, out_size: [h, w], kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 }
    }

    /// All three passes against im2col + GEMM, on maps that are and are not multiples of
    /// the tile (the overhang), with and without bias.
    #[test]
    fn winograd_matches_im2col_in_every_pass() {
        for (g, seed) in [(geometry(3, 33, [8, 8], 40), 1), (geometry(2, 32, [5, 7], 36), 2), (geometry(1, 64, [4, 4], 48), 3), (geometry(2, 40, [9, 3], 32), 4)] {
            assert!(applies(&g));
            let x = data(g.batch * g.in_channels * g.in_plane(), seed);
            let w = data(g.out_channels * g.in_channels * 9, seed + 10);
            let bias = data(g.out_channels, seed + 20);
            let dy = data(g.batch * g.out_channels * g.out_plane(), seed + 30);
            let checks = [
                ("forward", relative_error(&forward(&x, &w, Some(&bias), &g), &forward_lowered(&x, &w, Some(&bias), &g))),
                ("input grad", relative_error(&input_grad(&dy, &w, &g), &input_grad_lowered(&dy, &w, &g))),
                ("weight grad", relative_error(&weight_grad(&x, &dy, &g), &weight_grad_lowered(&x, &dy, &g))),
            ];
            for (pass, error) in checks {
                assert!(error < 2e-5, "{pass} of {g:?}: relative error {error}");
            }
        }
    }

    #[test]
    fn applies_only_to_3x3_stride_1_same_padding_with_enough_channels() {
        let g = geometry(2, 64, [8, 8], 64);
        assert!(applies(&g));
        assert!(!applies(&Geometry { stride: [2, 2], out_size: [4, 4], ..g }));
        assert!(!applies(&Geometry { kernel: [1, 1], padding: [0, 0], ..g }));
        assert!(!applies(&Geometry { out_channels: 16, ..g }));
        assert!(!applies(&Geometry { groups: 2, ..g }));
        assert!(!applies(&Geometry { padding: [0, 0], out_size: [6, 6], ..g }));
        assert!(!applies(&Geometry { batch: 0, ..g }));
    }
}
