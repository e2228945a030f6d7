//! 2-D convolutions and their gradients as one large GEMM per batch chunk (Patchwork's
//! addition to burn-flex 0.22.1; see `PATCHWORK.md` at the crate root).
//!
//! burn-flex's own `conv2d` multiplies per image (a GEMM with only `out_h · out_w` columns),
//! and burn's default backward passes derive both gradients from other convolutions: the
//! input gradient from a transposed convolution (again one GEMM per image, plus col2im),
//! the weight gradient from a convolution whose "batch" is the input channels and whose
//! kernel is the whole output map — `in_channels` skinny GEMMs of `k_h · k_w` rows. On a
//! small CPU those shapes keep the FMA units idle. Here every pass is the textbook im2col
//! formulation over a chunk of the batch at once:
//!
//! - forward:       `Y[O, N]  = W[O, K] · cols(X)[K, N]`
//! - input grad:    `dcols[K, N] = Wᵀ[K, O] · dY[O, N]`, then col2im into `dX`
//! - weight grad:   `dW[O, K] += dY[O, N] · cols(X)ᵀ[N, K]`
//!
//! with `K = C_in/groups · k_h · k_w` and `N = images · out_h · out_w`, so every product has
//! thousands of columns (or a reduction that long). A transposed convolution is the input
//! gradient of the convolution with the same weight read as `[C_out_conv, C_in_conv/g, kh,
//! kw]`, and the three passes swap roles accordingly (see the `conv_transpose2d_*` fns).

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::{ConvOptions, ConvTransposeOptions};
use burn_std::{Bytes, Shape, f16};

use core::mem::MaybeUninit;

use crate::{FlexTensor, Layout};

use super::conv_common::{convert_bf16_to_f32, convert_f32_to_bf16};

mod winograd;

/// The largest im2col buffer built at once, in elements (4 Mi: 16 MiB of f32, below glibc's
/// largest mmap threshold); larger batches go in chunks of images (the weight gradient
/// accumulates over chunks).
const COLUMNS_LIMIT: usize = 1 << 22;

/// The im2col block one thread builds and multiplies while it is in its cache, in elements
/// (512 KiB of f32: half of a Zen 4 core's L2).
const CACHE_COLUMNS: usize = 1 << 17;

/// One convolution's geometry, in the convolution's own terms: `input` is what the kernel
/// slides over, `output` what it produces.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    batch: usize,
    in_channels: usize,
    in_size: [usize; 2],
    out_channels: usize,
    out_size: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    /// Padding before the first row / column; the end padding is implied by the sizes.
    padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
}

impl Geometry {
    fn in_plane(&self) -> usize {
        self.in_size[0] * self.in_size[1]
    }
    fn out_plane(&self) -> usize {
        self.out_size[0] * self.out_size[1]
    }
    /// Rows of the im2col matrix of one group: input channels of the group × kernel taps.
    fn group_rows(&self) -> usize {
        self.in_channels / self.groups * self.kernel[0] * self.kernel[1]
    }
    fn rows(&self) -> usize {
        self.in_channels * self.kernel[0] * self.kernel[1]
    }
    fn out_channels_per_group(&self) -> usize {
        self.out_channels / self.groups
    }
    /// Images whose im2col matrix holds at most `limit` values (at least one, at most all).
    fn images_within(&self, limit: usize) -> usize {
        let per_image = (self.rows() * self.out_plane()).max(1);
        (limit / per_image).clamp(1, self.batch.max(1))
    }
    /// Images per chunk so that the im2col buffer stays under [`COLUMNS_LIMIT`].
    fn chunk(&self) -> usize {
        self.images_within(COLUMNS_LIMIT)
    }
}

/// Reusable scratch buffers for the im2col matrices and the channel-major copies, per
/// calling thread (at most four kept, the largest). Fresh multi-megabyte buffers cost a page
/// fault per 4 KiB on first touch, which in a first version of these kernels took longer
/// than some of the products they fed.
struct Scratch<T: Element> {
    buffer: Vec<u64>,
    len: usize,
    _element: core::marker::PhantomData<T>,
}

#[cfg(feature = "std")]
std::thread_local! {
    static POOL: core::cell::RefCell<Vec<Vec<u64>>> = const { core::cell::RefCell::new(Vec::new()) };
}

impl<T: Element> Scratch<T> {
    /// A buffer of `len` elements with unspecified contents.
    fn new(len: usize) -> Self {
        let words = (len * core::mem::size_of::<T>()).div_ceil(8);
        #[cfg(feature = "std")]
        let reused = POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            let best = pool.iter().enumerate().filter(|(_, b)| b.capacity() >= words).min_by_key(|(_, b)| b.capacity()).map(|(i, _)| i);
            best.map(|i| pool.swap_remove(i))
        });
        #[cfg(not(feature = "std"))]
        let reused: Option<Vec<u64>> = None;
        let mut buffer = reused.unwrap_or_default();
        // Grow, never shrink: a pooled buffer keeps the length it once had, so only its
        // growth is ever zeroed. (Shrinking it to each request and growing it back zeroed
        // the difference every time: 610 MB of `memset` in a PatchVAE bench of two steps,
        // nearly all of it for `im2col_last`, whose every entry is then overwritten.)
        if buffer.len() < words {
            buffer.resize(words, 0);
        }
        Self { buffer, len, _element: core::marker::PhantomData }
    }

    fn as_slice(&self) -> &[T] {
        &bytemuck::cast_slice(&self.buffer)[..self.len]
    }

    fn as_mut_slice(&mut self) -> &mut [T] {
        &mut bytemuck::cast_slice_mut(&mut self.buffer)[..self.len]
    }
}

impl<T: Element> Drop for Scratch<T> {
    fn drop(&mut self) {
        #[cfg(feature = "std")]
        {
            let buffer = core::mem::take(&mut self.buffer);
            // Keep a few; the largest buffers are what is worth keeping.
            POOL.with(|pool| {
                let mut pool = pool.borrow_mut();
                pool.push(buffer);
                if pool.len() > 4 {
                    let smallest = pool.iter().enumerate().min_by_key(|(_, b)| b.capacity()).map(|(i, _)| i);
                    if let Some(i) = smallest {
                        pool.swap_remove(i);
                    }
                }
            });
        }
    }
}

/// The element types the kernels run natively (gemm has f32, f64 and f16 kernels).
pub(crate) trait Element: bytemuck::Pod + Send + Sync + 'static + core::ops::AddAssign {
    const ZERO: Self;
    const ONE: Self;
}
impl Element for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}
impl Element for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}
impl Element for f16 {
    const ZERO: Self = f16::ZERO;
    const ONE: Self = f16::ONE;
}

/// Calls `f(i, chunk)` for each `chunk_len`-long chunk of `data`, over the threads if
/// `parallel`.
pub(crate) fn for_each_chunk<T: Send>(data: &mut [T], chunk_len: usize, parallel: bool, f: impl Fn(usize, &mut [T]) + Send + Sync) {
    if chunk_len == 0 {
        return;
    }
    // Below this many values, handing the work to other threads costs more than it saves
    // (single-image requests from the explorer's views).
    const PARALLEL_MIN: usize = 1 << 15;
    #[cfg(feature = "rayon")]
    if parallel && data.len() >= PARALLEL_MIN {
        use rayon::prelude::*;
        data.par_chunks_mut(chunk_len).enumerate().for_each(|(i, chunk)| f(i, chunk));
        return;
    }
    let _ = parallel;
    data.chunks_mut(chunk_len).enumerate().for_each(|(i, chunk)| f(i, chunk));
}

/// A new `len`-long buffer, filled chunk by chunk over the threads if `parallel`: `f(i,
/// chunk)` for each `chunk_len`-long chunk returns that chunk initialised, which only the
/// writers below can do ([`zeroed`], [`written`], [`batch_major`], [`channels_first`]). So
/// the outputs whose every value is written are never zeroed first (that `memset`, about
/// 1 % of a PatchVAE step's CPU samples, ran partly on the calling thread while the others
/// waited), and the ones that are summed into are zeroed by the thread that fills them, in
/// its core's cache.
pub(crate) fn filled_by_chunk<T: Element>(
    len: usize,
    chunk_len: usize,
    parallel: bool,
    f: impl for<'a> Fn(usize, &'a mut [MaybeUninit<T>]) -> &'a mut [T] + Send + Sync,
) -> Vec<T> {
    let mut buffer: Vec<MaybeUninit<T>> = Vec::with_capacity(len);
    // SAFETY: `MaybeUninit` values need no initialisation; the capacity is `len`.
    unsafe { buffer.set_len(len) };
    for_each_chunk(&mut buffer, chunk_len.max(1), parallel, |i, chunk| {
        let (start, chunk_len) = (chunk.as_ptr() as usize, chunk.len());
        let filled = f(i, chunk);
        // `f` can only have borrowed its result from the chunk; being all of it, it says
        // that every value of the chunk is initialised.
        assert!(filled.as_ptr() as usize == start && filled.len() == chunk_len, "filled_by_chunk: a chunk was not filled whole");
    });
    // SAFETY: the chunks cover the buffer and each was initialised (checked above);
    // pointer, length and capacity come from the same vector, whose element layout is `T`'s.
    let mut buffer = core::mem::ManuallyDrop::new(buffer);
    unsafe { Vec::from_raw_parts(buffer.as_mut_ptr() as *mut T, len, buffer.capacity()) }
}

/// `chunk` once every value of it has been written.
///
/// # Safety
/// Every element of `chunk` must be initialised.
unsafe fn assume_init<T>(chunk: &mut [MaybeUninit<T>]) -> &mut [T] {
    // SAFETY: initialised per the contract; `MaybeUninit<T>` has `T`'s layout.
    unsafe { &mut *(chunk as *mut [MaybeUninit<T>] as *mut [T]) }
}

/// `chunk` set to zeros (for the outputs that are summed into).
pub(crate) fn zeroed<T: Element>(chunk: &mut [MaybeUninit<T>]) -> &mut [T] {
    // SAFETY: all-zero bytes are a valid `T` (`T: Pod`), so after `write_bytes` every
    // element of the chunk is initialised.
    unsafe {
        core::ptr::write_bytes(chunk.as_mut_ptr(), 0, chunk.len());
        assume_init(chunk)
    }
}

/// `chunk` set to `values`, one per element (there must be exactly as many).
pub(crate) fn written<T: Element>(chunk: &mut [MaybeUninit<T>], values: impl IntoIterator<Item = T>) -> &mut [T] {
    let mut count = 0;
    for (dst, value) in chunk.iter_mut().zip(values) {
        dst.write(value);
        count += 1;
    }
    assert_eq!(count, chunk.len(), "written: fewer values than the chunk holds");
    // SAFETY: the first `count` elements were just written, and `count` is the length.
    unsafe { assume_init(chunk) }
}

/// A row-major or transposed view of a matrix for [`gemm`]: element (i, j) at
/// `ptr + i·row_stride + j·col_stride`.
#[derive(Clone, Copy)]
struct View<T> {
    ptr: *const T,
    row_stride: isize,
    col_stride: isize,
}

impl<T> View<T> {
    /// A row-major `rows × cols` matrix starting at `data[offset]`.
    fn rows(data: &[T], offset: usize, cols: usize) -> Self {
        Self { ptr: data[offset..].as_ptr(), row_stride: cols as isize, col_stride: 1 }
    }
    /// The transpose of a row-major matrix with `cols` columns starting at `data[offset]`.
    fn transposed(data: &[T], offset: usize, cols: usize) -> Self {
        Self { ptr: data[offset..].as_ptr(), row_stride: 1, col_stride: cols as isize }
    }
}

/// `dst[m × n] (+)= lhs[m × k] · rhs[k × n]` with `dst` row-major at `dst[offset..]`.
///
/// gemm's own threading splits these shapes poorly (64 × 576 × 8,192: 131–138 GFLOP/s on
/// two threads, 81–86 on one); here the columns (or, for few of them, the rows) are cut
/// into one block per thread, each a single-threaded product: 173 (`scripts/gemm-bench`).
#[allow(clippy::too_many_arguments)]
fn gemm<T: Element>(m: usize, n: usize, k: usize, dst: &mut [T], offset: usize, accumulate: bool, lhs: View<T>, rhs: View<T>, threads: usize) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst.len() >= offset + (m - 1) * n + n, "conv2d_gemm: destination too small");
    // Split along the longer side, each block at least 64 wide and 2^19 multiply-adds
    // (~10 µs): a smaller product is not worth waking another thread for.
    let split_columns = n >= m;
    let long = if split_columns { n } else { m };
    const BLOCK_MIN_WORK: usize = 1 << 19;
    let blocks = threads.min(long / 64).min(m * n * k / BLOCK_MIN_WORK).max(1);
    let block = long.div_ceil(blocks);
    let dst_ptr = SendPtr(dst[offset..].as_mut_ptr());
    let run = |index: usize| {
        // Whole values, not their raw-pointer fields, are what the closure must capture.
        let (lhs, rhs, dst_ptr) = (lhs, rhs, dst_ptr);
        let start = index * block;
        let len = block.min(long - start);
        let (dst_ptr, lhs_ptr, rhs_ptr, rows, cols) = if split_columns {
            (dst_ptr.0.wrapping_add(start), lhs.ptr, rhs.ptr.wrapping_offset(start as isize * rhs.col_stride), m, len)
        } else {
            (dst_ptr.0.wrapping_add(start * n), lhs.ptr.wrapping_offset(start as isize * lhs.row_stride), rhs.ptr, len, n)
        };
        // SAFETY: the views were built from slices covering the m×k and k×n matrices they
        // describe (the callers size every buffer from the same geometry); `dst` holds the
        // m×n result at `offset` (checked above), and the blocks write disjoint columns
        // (rows) of it.
        unsafe {
            gemm::gemm(
                rows,
                cols,
                k,
                dst_ptr,
                1,
                n as isize,
                accumulate,
                lhs_ptr,
                lhs.col_stride,
                lhs.row_stride,
                rhs_ptr,
                rhs.col_stride,
                rhs.row_stride,
                T::ONE,
                T::ONE,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    };
    if blocks == 1 {
        run(0);
        return;
    }
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        (0..blocks).into_par_iter().for_each(run);
    }
    #[cfg(not(feature = "rayon"))]
    (0..blocks).for_each(run);
}

/// A raw pointer the column blocks share; each writes its own part.
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
// SAFETY: only used to hand disjoint parts of one buffer to the blocks of `gemm`.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}
// SAFETY: `View` only reads, from buffers that outlive the call.
unsafe impl<T> Send for View<T> {}
unsafe impl<T> Sync for View<T> {}

fn threads() -> usize {
    #[cfg(feature = "rayon")]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(feature = "rayon"))]
    {
        1
    }
}

/// Input coordinate of output coordinate `o` at kernel tap `t` along one axis, if inside.
#[inline(always)]
fn source(o: usize, t: usize, g: &Geometry, axis: usize) -> Option<usize> {
    let pos = (o * g.stride[axis] + t * g.dilation[axis]).checked_sub(g.padding[axis])?;
    (pos < g.in_size[axis]).then_some(pos)
}

/// A stretch of one output plane at one kernel tap: `len` consecutive output positions from
/// `out` read the input plane from `input` in steps of the stride, or are padding.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Run {
    out: usize,
    len: usize,
    /// `None` for padding (zeros).
    input: Option<usize>,
}

/// For each kernel tap, the runs that cover its output plane. They are the same for every
/// channel and image, so the channels-first im2col and col2im copy blocks with no
/// per-value bounds arithmetic. (Channels-first serves inputs with few channels, the RGB
/// stem above all, where channels-last patches would be runs of three values.)
struct TapTable {
    runs: Vec<Vec<Run>>,
    step: usize,
}

impl TapTable {
    fn new(g: &Geometry) -> Self {
        let [out_h, out_w] = g.out_size;
        let step = g.stride[1];
        let mut runs = Vec::with_capacity(g.kernel[0] * g.kernel[1]);
        for ti in 0..g.kernel[0] {
            for tj in 0..g.kernel[1] {
                let mut tap: Vec<Run> = Vec::new();
                let mut push = |run: Run| {
                    if run.len == 0 {
                        return;
                    }
                    if let Some(last) = tap.last_mut() {
                        let joins = match (last.input, run.input) {
                            (None, None) => true,
                            // Copies join when the input continues where the last one ended.
                            (Some(a), Some(b)) => step == 1 && a + last.len == b,
                            _ => false,
                        };
                        if joins {
                            last.len += run.len;
                            return;
                        }
                    }
                    tap.push(run);
                };
                for oh in 0..out_h {
                    let row = oh * out_w;
                    let valid = source(oh, ti, g, 0).map(|ih| {
                        let lo = (0..out_w).find(|&ow| source(ow, tj, g, 1).is_some());
                        let hi = (0..out_w).rev().find(|&ow| source(ow, tj, g, 1).is_some()).map(|ow| ow + 1);
                        (ih, lo.zip(hi))
                    });
                    match valid {
                        Some((ih, Some((lo, hi)))) => {
                            let iw = source(lo, tj, g, 1).unwrap_or_default();
                            push(Run { out: row, len: lo, input: None });
                            push(Run { out: row + lo, len: hi - lo, input: Some(ih * g.in_size[1] + iw) });
                            push(Run { out: row + hi, len: out_w - hi, input: None });
                        }
                        _ => push(Run { out: row, len: out_w, input: None }),
                    }
                }
                runs.push(tap);
            }
        }
        Self { runs, step }
    }
}

/// im2col of images `first..first + count` of `input` (`[B, C, H, W]`, contiguous): a
/// `[C·kh·kw, count·out_h·out_w]` matrix; every entry written (zeros in the padding).
fn im2col<T: Element>(input: &[T], g: &Geometry, taps: &TapTable, first: usize, count: usize, parallel: bool) -> Scratch<T> {
    let plane = g.out_plane();
    let in_plane = g.in_plane();
    let n = count * plane;
    let kernel = g.kernel[0] * g.kernel[1];
    let step = taps.step;
    let mut cols = Scratch::new(g.rows() * n);
    for_each_chunk(cols.as_mut_slice(), n, parallel, |row, dst| {
        let (channel, runs) = (row / kernel, &taps.runs[row % kernel]);
        for (b, dst) in dst.chunks_exact_mut(plane).enumerate() {
            let src = &input[((first + b) * g.in_channels + channel) * in_plane..][..in_plane];
            for run in runs {
                let dst = &mut dst[run.out..run.out + run.len];
                match run.input {
                    None => dst.iter_mut().for_each(|v| *v = T::ZERO),
                    Some(start) if step == 1 => dst.iter_mut().zip(&src[start..start + run.len]).for_each(|(d, &v)| *d = v),
                    Some(start) => dst.iter_mut().zip(src[start..].iter().step_by(step)).for_each(|(d, &v)| *d = v),
                }
            }
        }
    });
    cols
}

/// The adjoint of [`im2col`]: adds each column entry back to the input position it was
/// read from, into `grad` = images `first..first + count` of `[B, C, H, W]`.
fn col2im<T: Element>(cols: &[T], g: &Geometry, taps: &TapTable, count: usize, grad: &mut [T], parallel: bool) {
    let plane = g.out_plane();
    let n = count * plane;
    let kernel = g.kernel[0] * g.kernel[1];
    let step = taps.step;
    for_each_chunk(grad, g.in_plane(), parallel, |index, dst| {
        let (b, channel) = (index / g.in_channels, index % g.in_channels);
        for (tap, runs) in taps.runs.iter().enumerate() {
            let src = &cols[(channel * kernel + tap) * n + b * plane..][..plane];
            for run in runs {
                let Some(start) = run.input else { continue };
                let src = &src[run.out..run.out + run.len];
                if step == 1 {
                    dst[start..start + run.len].iter_mut().zip(src).for_each(|(d, &v)| *d += v);
                } else {
                    dst[start..].iter_mut().step_by(step).zip(src).for_each(|(d, &v)| *d += v);
                }
            }
        }
    });
}

/// `[count, C, P]` (images `first..` of a contiguous `[B, C, P]`) → `[C, count·P]`.
fn channel_major<T: Element>(data: &[T], channels: usize, plane: usize, first: usize, count: usize, parallel: bool) -> Scratch<T> {
    let mut out = Scratch::new(channels * count * plane);
    for_each_chunk(out.as_mut_slice(), count * plane, parallel, |c, dst| {
        for b in 0..count {
            dst[b * plane..][..plane].copy_from_slice(&data[((first + b) * channels + c) * plane..][..plane]);
        }
    });
    out
}

/// `[C, count·P]` → images `first..first + count` of `[B, C, P]` in `out`, plus a bias per
/// channel; returns `out`, every value written.
fn batch_major<'a, T: Element>(data: &[T], channels: usize, plane: usize, count: usize, bias: Option<&[T]>, out: &'a mut [MaybeUninit<T>], parallel: bool) -> &'a mut [T] {
    assert_eq!(out.len(), count * channels * plane, "batch_major: output of another size");
    for_each_chunk(out, channels * plane, parallel, |b, dst| {
        for c in 0..channels {
            let src = &data[c * count * plane + b * plane..][..plane];
            let dst = &mut dst[c * plane..][..plane];
            match bias {
                Some(bias) => written(dst, src.iter().map(|&v| {
                    let mut v = v;
                    v += bias[c];
                    v
                })),
                None => written(dst, src.iter().copied()),
            };
        }
    });
    // SAFETY: the chunks cover `out` (its length checked above), and each wrote all of its
    // channels' planes.
    unsafe { assume_init(out) }
}

/// How a pass walks the batch: `chunk` images at a time, the chunks spread over the threads
/// (each chunk's im2col and product single-threaded, in that thread's cache), or — with too
/// few chunks for that — one chunk after another with the product split over the threads.
struct Plan {
    chunk: usize,
    parallel_chunks: bool,
}

impl Geometry {
    fn plan(&self) -> Plan {
        let threads = threads();
        let cached = self.images_within(CACHE_COLUMNS);
        if threads > 1 && self.batch.div_ceil(cached) >= 2 * threads {
            Plan { chunk: cached, parallel_chunks: true }
        } else {
            Plan { chunk: self.chunk(), parallel_chunks: false }
        }
    }
}

/// How the input patches are laid out for the products.
enum Lowering {
    /// `[C·kh·kw, N]` from the `[B, C, H, W]` planes (rows of `out_w` values): for few
    /// channels (an RGB input layer) or grouped convolutions.
    ChannelsFirst(TapTable),
    /// `[N, kh·kw·C]` from a channels-last copy of the input, the weight reordered to
    /// `[C_out, kh, kw, C]`: each patch row is `kh·kw` copies of `C` contiguous values, where
    /// the planes of these small maps (4×4, 8×8) would give runs of 4 or 8.
    ChannelsLast,
}

impl Geometry {
    fn lowering(&self) -> Lowering {
        #[cfg(test)]
        match timing::FORCE_LOWERING.load(core::sync::atomic::Ordering::Relaxed) {
            1 => return Lowering::ChannelsFirst(TapTable::new(self)),
            2 if self.groups == 1 => return Lowering::ChannelsLast,
            _ => {}
        }
        // Channels-last pays for reordering the weight on every call: worth it when the
        // patches outnumber the weight's rows several times (training batches), not for
        // one image (the explorer's requests).
        let patches = self.batch * self.out_plane();
        if self.groups == 1 && self.in_channels >= 16 && self.in_channels >= self.out_size[1] && patches >= 4 * self.out_channels {
            Lowering::ChannelsLast
        } else {
            Lowering::ChannelsFirst(TapTable::new(self))
        }
    }

    /// `weight` in the order the lowering multiplies it by.
    fn lowered_weight<'a, T: Element>(&self, lowering: &Lowering, weight: &'a [T]) -> alloc::borrow::Cow<'a, [T]> {
        match lowering {
            Lowering::ChannelsFirst(_) => alloc::borrow::Cow::Borrowed(weight),
            Lowering::ChannelsLast => alloc::borrow::Cow::Owned(self.move_taps(weight, true)),
        }
    }

    /// The inverse of [`Self::lowered_weight`], for the weight gradient.
    fn unlowered_weight<T: Element>(&self, lowering: &Lowering, weight: Vec<T>) -> Vec<T> {
        match lowering {
            Lowering::ChannelsFirst(_) => weight,
            Lowering::ChannelsLast => self.move_taps(&weight, false),
        }
    }

    /// `[C_out, C, kh, kw]` → `[C_out, kh, kw, C]` (`last`), or back.
    fn move_taps<T: Element>(&self, weight: &[T], last: bool) -> Vec<T> {
        let (channels, taps) = (self.in_channels, self.kernel[0] * self.kernel[1]);
        let row = channels * taps;
        filled_by_chunk(weight.len(), row, true, |o, dst| {
            let src = &weight[o * row..][..row];
            // Destination index `i` in the new order reads the source at the old one.
            let from = |i: usize| if last { (i % channels) * taps + i / channels } else { (i % taps) * channels + i / taps };
            written(dst, (0..row).map(|i| src[from(i)]))
        })
    }
}

/// Images `first..first + count` of `input` (`[B, C, H, W]`) as `[count, H, W, C]`.
fn channels_last<T: Element>(input: &[T], g: &Geometry, first: usize, count: usize, parallel: bool) -> Scratch<T> {
    let (channels, plane) = (g.in_channels, g.in_plane());
    let mut out = Scratch::new(count * plane * channels);
    for_each_chunk(out.as_mut_slice(), plane * channels, parallel, |b, dst| {
        let src = &input[(first + b) * channels * plane..][..channels * plane];
        for (c, src) in src.chunks_exact(plane).enumerate() {
            for (p, &v) in src.iter().enumerate() {
                dst[p * channels + c] = v;
            }
        }
    });
    out
}

/// The channels-last patches of `count` images (`[count, H, W, C]`): `[count·P, kh·kw·C]`.
fn im2col_last<T: Element>(input: &[T], g: &Geometry, count: usize, parallel: bool) -> Scratch<T> {
    let (channels, [out_h, out_w], [kh, kw]) = (g.in_channels, g.out_size, g.kernel);
    let row = kh * kw * channels;
    let image = g.in_plane() * channels;
    let mut cols = Scratch::new(count * out_h * out_w * row);
    for_each_chunk(cols.as_mut_slice(), out_h * out_w * row, parallel, |b, dst| {
        let src = &input[b * image..][..image];
        for (position, dst) in dst.chunks_exact_mut(row).enumerate() {
            let (oh, ow) = (position / out_w, position % out_w);
            for (tap, dst) in dst.chunks_exact_mut(channels).enumerate() {
                match (source(oh, tap / kw, g, 0), source(ow, tap % kw, g, 1)) {
                    (Some(ih), Some(iw)) => dst.copy_from_slice(&src[(ih * g.in_size[1] + iw) * channels..][..channels]),
                    _ => dst.iter_mut().for_each(|v| *v = T::ZERO),
                }
            }
        }
    });
    cols
}

/// The adjoint of [`im2col_last`], into `grad` (`[count, H, W, C]`, zeroed by the caller).
fn col2im_last<T: Element>(cols: &[T], g: &Geometry, grad: &mut [T], parallel: bool) {
    let (channels, [out_h, out_w], [kh, kw]) = (g.in_channels, g.out_size, g.kernel);
    let row = kh * kw * channels;
    let image = g.in_plane() * channels;
    for_each_chunk(grad, image, parallel, |b, dst| {
        let src = &cols[b * out_h * out_w * row..][..out_h * out_w * row];
        for (position, src) in src.chunks_exact(row).enumerate() {
            let (oh, ow) = (position / out_w, position % out_w);
            for (tap, src) in src.chunks_exact(channels).enumerate() {
                if let (Some(ih), Some(iw)) = (source(oh, tap / kw, g, 0), source(ow, tap % kw, g, 1)) {
                    let dst = &mut dst[(ih * g.in_size[1] + iw) * channels..][..channels];
                    dst.iter_mut().zip(src).for_each(|(d, &v)| *d += v);
                }
            }
        }
    });
}

/// `[count, H, W, C]` back to `[count, C, H, W]` in `out`; returns `out`, every value
/// written.
fn channels_first<'a, T: Element>(data: &[T], channels: usize, plane: usize, out: &'a mut [MaybeUninit<T>], parallel: bool) -> &'a mut [T] {
    assert_eq!(out.len(), data.len(), "channels_first: output of another size");
    for_each_chunk(out, plane * channels, parallel, |b, dst| {
        let src = &data[b * plane * channels..][..plane * channels];
        for (c, dst) in dst.chunks_exact_mut(plane).enumerate() {
            for (p, d) in dst.iter_mut().enumerate() {
                d.write(src[p * channels + c]);
            }
        }
    });
    // SAFETY: every chunk was `plane · channels` long (a shorter last one would have
    // panicked slicing `data`, which is as long as `out`), and each wrote every position of
    // every channel of it.
    unsafe { assume_init(out) }
}

/// Images `first..first + count` of the convolution, into `dst` (those images of the
/// output), which it returns filled.
#[allow(clippy::too_many_arguments)]
fn forward_chunk<'a, T: Element>(
    input: &[T],
    weight: &[T],
    bias: Option<&[T]>,
    g: &Geometry,
    lowering: &Lowering,
    first: usize,
    dst: &'a mut [MaybeUninit<T>],
    threads: usize,
) -> &'a mut [T] {
    let (plane, k, og) = (g.out_plane(), g.group_rows(), g.out_channels_per_group());
    let count = dst.len() / (g.out_channels * plane);
    let n = count * plane;
    let parallel = threads > 1;
    let mut product = Scratch::new(g.out_channels * n);
    match lowering {
        Lowering::ChannelsFirst(taps) => {
            let cols = im2col(input, g, taps, first, count, parallel);
            for group in 0..g.groups {
                let lhs = View::rows(weight, group * og * k, k);
                let rhs = View::rows(cols.as_slice(), group * k * n, n);
                gemm(og, n, k, product.as_mut_slice(), group * og * n, false, lhs, rhs, threads);
            }
        }
        Lowering::ChannelsLast => {
            let x = channels_last(input, g, first, count, parallel);
            let cols = im2col_last(x.as_slice(), g, count, parallel);
            if g.out_channels <= NARROW_OUTPUT {
                // Yᵀ[N, O] = cols[N, K] · Wᵀ[K, O]: in this orientation gemm reads the patch
                // matrix where it lies; in the other it first packs all of it, which costs
                // about as much as a product with this few output channels.
                let (lhs, rhs) = (View::rows(cols.as_slice(), 0, k), View::transposed(weight, 0, k));
                gemm(n, g.out_channels, k, product.as_mut_slice(), 0, false, lhs, rhs, threads);
                let dst = channels_first(product.as_slice(), g.out_channels, plane, dst, parallel);
                if let Some(bias) = bias {
                    add_bias(dst, bias, plane, parallel);
                }
                return dst;
            }
            let (lhs, rhs) = (View::rows(weight, 0, k), View::transposed(cols.as_slice(), 0, k));
            gemm(g.out_channels, n, k, product.as_mut_slice(), 0, false, lhs, rhs, threads);
        }
    }
    batch_major(product.as_slice(), g.out_channels, plane, count, bias, dst, parallel)
}

/// Up to this many output channels (per group) a channels-last forward pass and a
/// channels-first weight gradient compute the transposed product (see [`forward_chunk`]):
/// the dense blocks' 16-channel layers, the occurrence head.
const NARROW_OUTPUT: usize = 32;

/// The convolution of `input` (`[B, C_in, H, W]`) with `weight` (`[C_out, C_in/g, kh, kw]`).
fn forward<T: Element>(input: &[T], weight: &[T], bias: Option<&[T]>, g: &Geometry) -> Vec<T> {
    if winograd::applies(g)
        && let (Some(x), Some(w)) = (winograd::as_f32(input), winograd::as_f32(weight))
    {
        return winograd::from_f32(winograd::forward(x, w, bias.and_then(winograd::as_f32), g));
    }
    forward_lowered(input, weight, bias, g)
}

/// [`forward`] as im2col + GEMM.
fn forward_lowered<T: Element>(input: &[T], weight: &[T], bias: Option<&[T]>, g: &Geometry) -> Vec<T> {
    let (plan, lowering) = (g.plan(), g.lowering());
    let weight = g.lowered_weight(&lowering, weight);
    let image = g.out_channels * g.out_plane();
    // Chunks in parallel, each product single-threaded; or one chunk after another, each
    // product over the threads.
    let threads = if plan.parallel_chunks { 1 } else { threads() };
    filled_by_chunk(g.batch * image, plan.chunk * image, plan.parallel_chunks, |i, dst| {
        forward_chunk(input, &weight, bias, g, &lowering, i * plan.chunk, dst, threads)
    })
}

/// Images `first..` of the input gradient, into `dst` (those images of it), which it
/// returns filled.
#[allow(clippy::too_many_arguments)]
fn input_grad_chunk<'a, T: Element>(
    output_grad: &[T],
    weight: &[T],
    g: &Geometry,
    lowering: &Lowering,
    first: usize,
    dst: &'a mut [MaybeUninit<T>],
    threads: usize,
) -> &'a mut [T] {
    let (plane, k, og) = (g.out_plane(), g.group_rows(), g.out_channels_per_group());
    let count = dst.len() / (g.in_channels * g.in_plane());
    let n = count * plane;
    let parallel = threads > 1;
    let dy = channel_major(output_grad, g.out_channels, plane, first, count, parallel);
    let mut cols = Scratch::new(g.rows() * n);
    match lowering {
        Lowering::ChannelsFirst(taps) => {
            for group in 0..g.groups {
                let lhs = View::transposed(weight, group * og * k, k);
                let rhs = View::rows(dy.as_slice(), group * og * n, n);
                gemm(k, n, og, cols.as_mut_slice(), group * k * n, false, lhs, rhs, threads);
            }
            let dst = zeroed(dst);
            col2im(cols.as_slice(), g, taps, count, dst, parallel);
            dst
        }
        Lowering::ChannelsLast => {
            let (lhs, rhs) = (View::transposed(dy.as_slice(), 0, n), View::rows(weight, 0, k));
            gemm(n, k, g.out_channels, cols.as_mut_slice(), 0, false, lhs, rhs, threads);
            let mut grad = Scratch::new(dst.len());
            grad.as_mut_slice().iter_mut().for_each(|v| *v = T::ZERO);
            col2im_last(cols.as_slice(), g, grad.as_mut_slice(), parallel);
            channels_first(grad.as_slice(), g.in_channels, g.in_plane(), dst, parallel)
        }
    }
}

/// The gradient of [`forward`] with respect to its input, from `output_grad`
/// (`[B, C_out, out_h, out_w]`).
fn input_grad<T: Element>(output_grad: &[T], weight: &[T], g: &Geometry) -> Vec<T> {
    if winograd::applies(g)
        && let (Some(dy), Some(w)) = (winograd::as_f32(output_grad), winograd::as_f32(weight))
    {
        return winograd::from_f32(winograd::input_grad(dy, w, g));
    }
    input_grad_lowered(output_grad, weight, g)
}

/// [`input_grad`] as GEMM + col2im.
fn input_grad_lowered<T: Element>(output_grad: &[T], weight: &[T], g: &Geometry) -> Vec<T> {
    let (plan, lowering) = (g.plan(), g.lowering());
    let weight = g.lowered_weight(&lowering, weight);
    let image = g.in_channels * g.in_plane();
    let threads = if plan.parallel_chunks { 1 } else { threads() };
    filled_by_chunk(g.batch * image, plan.chunk * image, plan.parallel_chunks, |i, dst| {
        input_grad_chunk(output_grad, &weight, g, &lowering, i * plan.chunk, dst, threads)
    })
}

/// Adds images `first..first + count`'s share of the weight gradient to `grad` (in the
/// lowering's order).
#[allow(clippy::too_many_arguments)]
fn weight_grad_chunk<T: Element>(input: &[T], output_grad: &[T], g: &Geometry, lowering: &Lowering, first: usize, count: usize, grad: &mut [T], threads: usize) {
    let (plane, k, og) = (g.out_plane(), g.group_rows(), g.out_channels_per_group());
    let n = count * plane;
    let parallel = threads > 1;
    let dy = channel_major(output_grad, g.out_channels, plane, first, count, parallel);
    match lowering {
        Lowering::ChannelsFirst(taps) => {
            let cols = im2col(input, g, taps, first, count, parallel);
            for group in 0..g.groups {
                if og <= NARROW_OUTPUT {
                    // dWᵀ[K, O] = cols[K, N] · dYᵀ[N, O], added transposed: as in
                    // `forward_chunk`, this orientation spares gemm packing the patch matrix.
                    let mut transposed = Scratch::new(k * og);
                    let lhs = View::rows(cols.as_slice(), group * k * n, n);
                    let rhs = View::transposed(dy.as_slice(), group * og * n, n);
                    gemm(k, og, n, transposed.as_mut_slice(), 0, false, lhs, rhs, threads);
                    let dst = &mut grad[group * og * k..][..og * k];
                    for (tap, row) in transposed.as_slice().chunks_exact(og).enumerate() {
                        for (o, &v) in row.iter().enumerate() {
                            dst[o * k + tap] += v;
                        }
                    }
                    continue;
                }
                let lhs = View::rows(dy.as_slice(), group * og * n, n);
                let rhs = View::transposed(cols.as_slice(), group * k * n, n);
                gemm(og, k, n, grad, group * og * k, true, lhs, rhs, threads);
            }
        }
        Lowering::ChannelsLast => {
            let x = channels_last(input, g, first, count, parallel);
            let cols = im2col_last(x.as_slice(), g, count, parallel);
            let (lhs, rhs) = (View::rows(dy.as_slice(), 0, n), View::rows(cols.as_slice(), 0, k));
            gemm(g.out_channels, k, n, grad, 0, true, lhs, rhs, threads);
        }
    }
}

/// The gradient of [`forward`] with respect to its weight (`[C_out, C_in/g, kh, kw]`).
fn weight_grad<T: Element>(input: &[T], output_grad: &[T], g: &Geometry) -> Vec<T> {
    if winograd::applies(g)
        && let (Some(x), Some(dy)) = (winograd::as_f32(input), winograd::as_f32(output_grad))
    {
        return winograd::from_f32(winograd::weight_grad(x, dy, g));
    }
    weight_grad_lowered(input, output_grad, g)
}

/// [`weight_grad`] as im2col + GEMM.
fn weight_grad_lowered<T: Element>(input: &[T], output_grad: &[T], g: &Geometry) -> Vec<T> {
    let len = g.out_channels * g.group_rows();
    let (plan, lowering) = (g.plan(), g.lowering());
    let starts = (0..g.batch).step_by(plan.chunk.max(1));
    let count = |first: usize| plan.chunk.min(g.batch - first);
    #[cfg(feature = "rayon")]
    if plan.parallel_chunks {
        use rayon::prelude::*;
        // One partial sum per thread over a fixed, contiguous group of chunks, added up in
        // order: the same sum every run (a work-stealing fold would group the chunks
        // differently from run to run, and training would stop being reproducible).
        let starts: Vec<usize> = starts.collect();
        let per_group = starts.len().div_ceil(threads().max(1));
        let partials: Vec<Vec<T>> = starts
            .par_chunks(per_group.max(1))
            .map(|group| {
                let mut partial = vec![T::ZERO; len];
                for &first in group {
                    weight_grad_chunk(input, output_grad, g, &lowering, first, count(first), &mut partial, 1);
                }
                partial
            })
            .collect();
        let mut grad = vec![T::ZERO; len];
        for partial in &partials {
            grad.iter_mut().zip(partial).for_each(|(x, y)| *x += *y);
        }
        return g.unlowered_weight(&lowering, grad);
    }
    let mut grad = vec![T::ZERO; len];
    for first in starts {
        weight_grad_chunk(input, output_grad, g, &lowering, first, count(first), &mut grad, threads());
    }
    g.unlowered_weight(&lowering, grad)
}

fn dims4(t: &FlexTensor) -> [usize; 4] {
    let s = t.layout().shape();
    assert_eq!(s.num_dims(), 4, "conv2d_gemm: expected a 4-D tensor, got {s:?}");
    [s[0], s[1], s[2], s[3]]
}

fn make<T: Element>(data: Vec<T>, shape: [usize; 4], dtype: DType) -> FlexTensor {
    FlexTensor::new(Bytes::from_elems(data), Layout::contiguous(Shape::from(shape.to_vec())), dtype)
}

/// Runs `f` on the tensors' data in their own element type (bf16 through f32).
fn dispatch(
    tensors: Vec<FlexTensor>,
    shape: [usize; 4],
    f32_fn: impl FnOnce(&[&[f32]]) -> Vec<f32>,
    f64_fn: impl FnOnce(&[&[f64]]) -> Vec<f64>,
    f16_fn: impl FnOnce(&[&[f16]]) -> Vec<f16>,
) -> FlexTensor {
    let dtype = tensors[0].dtype();
    match dtype {
        DType::F32 | DType::BF16 => {
            let tensors: Vec<FlexTensor> = tensors
                .into_iter()
                .map(|t| if t.dtype() == DType::BF16 { convert_bf16_to_f32(&t) } else { t })
                .map(FlexTensor::into_contiguous)
                .collect();
            let slices: Vec<&[f32]> = tensors.iter().map(|t| t.storage::<f32>()).collect();
            let out = make(f32_fn(&slices), shape, DType::F32);
            if dtype == DType::BF16 { convert_f32_to_bf16(&out) } else { out }
        }
        DType::F64 => {
            let tensors: Vec<FlexTensor> = tensors.into_iter().map(FlexTensor::into_contiguous).collect();
            let slices: Vec<&[f64]> = tensors.iter().map(|t| t.storage::<f64>()).collect();
            make(f64_fn(&slices), shape, DType::F64)
        }
        DType::F16 => {
            let tensors: Vec<FlexTensor> = tensors.into_iter().map(FlexTensor::into_contiguous).collect();
            let slices: Vec<&[f16]> = tensors.iter().map(|t| t.storage::<f16>()).collect();
            make(f16_fn(&slices), shape, DType::F16)
        }
        dtype => panic!("conv2d: unsupported dtype {dtype:?}"),
    }
}

/// Calls one generic kernel for each float element type.
macro_rules! dispatch {
    ($tensors:expr, $shape:expr, |$s:ident| $body:expr) => {
        dispatch($tensors, $shape, |$s: &[&[f32]]| $body, |$s: &[&[f64]]| $body, |$s: &[&[f16]]| $body)
    };
}

fn conv_geometry(x: [usize; 4], w: [usize; 4], out_size: [usize; 2], options: &ConvOptions<2>) -> Geometry {
    Geometry {
        batch: x[0],
        in_channels: x[1],
        in_size: [x[2], x[3]],
        out_channels: w[0],
        out_size,
        kernel: [w[2], w[3]],
        stride: options.stride,
        padding: options.padding_begin(),
        dilation: options.dilation,
        groups: options.groups,
    }
}

/// `conv2d` forward.
pub fn conv2d(x: FlexTensor, weight: FlexTensor, bias: Option<FlexTensor>, options: &ConvOptions<2>) -> FlexTensor {
    let (xd, wd) = (dims4(&x), dims4(&weight));
    let out_size = core::array::from_fn(|a| {
        let (begin, end) = options.padding[a];
        let span = xd[2 + a] + begin + end;
        let reach = options.dilation[a] * (wd[2 + a] - 1) + 1;
        if span < reach { 0 } else { (span - reach) / options.stride[a] + 1 }
    });
    let g = conv_geometry(xd, wd, out_size, options);
    let shape = [g.batch, g.out_channels, out_size[0], out_size[1]];
    let mut tensors = vec![x, weight];
    tensors.extend(bias);
    let has_bias = tensors.len() == 3;
    dispatch!(tensors, shape, |s| forward(s[0], s[1], has_bias.then(|| s[2]), &g))
}

/// `conv2d`'s input gradient.
pub fn conv2d_x_backward(x: FlexTensor, weight: FlexTensor, output_grad: FlexTensor, options: &ConvOptions<2>) -> FlexTensor {
    let (xd, wd, yd) = (dims4(&x), dims4(&weight), dims4(&output_grad));
    let g = conv_geometry(xd, wd, [yd[2], yd[3]], options);
    dispatch!(vec![output_grad, weight], xd, |s| input_grad(s[0], s[1], &g))
}

/// `conv2d`'s weight gradient.
pub fn conv2d_weight_backward(x: FlexTensor, weight: FlexTensor, output_grad: FlexTensor, options: &ConvOptions<2>) -> FlexTensor {
    let (xd, wd, yd) = (dims4(&x), dims4(&weight), dims4(&output_grad));
    let g = conv_geometry(xd, wd, [yd[2], yd[3]], options);
    dispatch!(vec![x, output_grad], wd, |s| weight_grad(s[0], s[1], &g))
}

/// The convolution whose input gradient a transposed convolution is: its input is the
/// transposed convolution's output (`out`: `[B, C_out·g… ]`), its output the transposed
/// convolution's input `x`, and its weight the same tensor.
fn transpose_geometry(x: [usize; 4], w: [usize; 4], out_size: [usize; 2], options: &ConvTransposeOptions<2>) -> Geometry {
    Geometry {
        batch: x[0],
        in_channels: w[1] * options.groups,
        in_size: out_size,
        out_channels: x[1],
        out_size: [x[2], x[3]],
        kernel: [w[2], w[3]],
        stride: options.stride,
        padding: options.padding,
        dilation: options.dilation,
        groups: options.groups,
    }
}

fn transpose_output_size(x: [usize; 4], w: [usize; 4], options: &ConvTransposeOptions<2>) -> [usize; 2] {
    core::array::from_fn(|a| {
        ((x[2 + a] - 1) * options.stride[a] + options.dilation[a] * (w[2 + a] - 1) + options.padding_out[a] + 1)
            .saturating_sub(2 * options.padding[a])
    })
}

/// `conv_transpose2d` forward: the input gradient of the equivalent convolution.
pub fn conv_transpose2d(x: FlexTensor, weight: FlexTensor, bias: Option<FlexTensor>, options: &ConvTransposeOptions<2>) -> FlexTensor {
    let (xd, wd) = (dims4(&x), dims4(&weight));
    let out_size = transpose_output_size(xd, wd, options);
    let g = transpose_geometry(xd, wd, out_size, options);
    let shape = [g.batch, g.in_channels, out_size[0], out_size[1]];
    let mut tensors = vec![x, weight];
    tensors.extend(bias);
    let has_bias = tensors.len() == 3;
    dispatch!(tensors, shape, |s| {
        let mut out = input_grad(s[0], s[1], &g);
        if has_bias {
            add_bias(&mut out, s[2], g.in_plane(), true);
        }
        out
    })
}

/// Adds `bias[c]` to every value of channel `c` of `data` (`[B, C, plane]`).
fn add_bias<T: Element>(data: &mut [T], bias: &[T], plane: usize, parallel: bool) {
    let channels = bias.len();
    for_each_chunk(data, plane, parallel, |i, row| row.iter_mut().for_each(|v| *v += bias[i % channels]));
}

/// The bias gradient of `conv2d` and `conv_transpose2d` alike: the output gradient summed
/// per channel over the batch and the plane. burn's default first copies the whole gradient
/// transposed to `[C, B·H·W]`; this reads it once where it lies.
pub fn bias_backward(bias: FlexTensor, output_grad: FlexTensor) -> FlexTensor {
    let [batch, channels, h, w] = dims4(&output_grad);
    let bias_shape = bias.layout().shape().clone();
    dispatch!(vec![output_grad], [channels, 1, 1, 1], |s| channel_sums(s[0], batch, channels, h * w)).reshape(bias_shape)
}

/// Per-channel sums of `[batch, channels, plane]` data: each plane by [`lane_sum`], then the
/// planes added in batch order, so the result is the same on every run.
fn channel_sums<T: Element>(data: &[T], batch: usize, channels: usize, plane: usize) -> Vec<T> {
    let mut sums = vec![T::ZERO; channels];
    for (row, values) in data[..batch * channels * plane].chunks_exact(plane).enumerate() {
        sums[row % channels] += lane_sum(plane, |i| values[i]);
    }
    sums
}

/// `f(0) + … + f(n − 1)` in 16 interleaved partial sums, so the loop vectorises without
/// reordering float additions behind the compiler's back.
#[inline(always)]
pub(crate) fn lane_sum<T: Element>(n: usize, f: impl Fn(usize) -> T) -> T {
    const LANES: usize = 16;
    let mut lanes = [T::ZERO; LANES];
    let whole = n / LANES * LANES;
    for start in (0..whole).step_by(LANES) {
        for (j, lane) in lanes.iter_mut().enumerate() {
            *lane += f(start + j);
        }
    }
    let mut sum = T::ZERO;
    for v in lanes.into_iter().chain((whole..n).map(f)) {
        sum += v;
    }
    sum
}

/// `conv_transpose2d`'s input gradient: the equivalent convolution's forward pass.
pub fn conv_transpose2d_x_backward(weight: FlexTensor, output_grad: FlexTensor, options: &ConvTransposeOptions<2>) -> FlexTensor {
    let (wd, yd) = (dims4(&weight), dims4(&output_grad));
    // Invert out = (x − 1)·s + d·(k − 1) + padding_out + 1 − 2p for x.
    let x_size: [usize; 2] = core::array::from_fn(|a| {
        (yd[2 + a] + 2 * options.padding[a] - options.dilation[a] * (wd[2 + a] - 1) - options.padding_out[a] - 1) / options.stride[a] + 1
    });
    let xd = [yd[0], wd[0], x_size[0], x_size[1]];
    let g = transpose_geometry(xd, wd, [yd[2], yd[3]], options);
    dispatch!(vec![output_grad, weight], xd, |s| forward(s[0], s[1], None, &g))
}

/// `conv_transpose2d`'s weight gradient: the equivalent convolution's weight gradient with
/// the transposed convolution's output gradient as its input and `x` as its output gradient.
pub fn conv_transpose2d_weight_backward(x: FlexTensor, weight: FlexTensor, output_grad: FlexTensor, options: &ConvTransposeOptions<2>) -> FlexTensor {
    let (xd, wd, yd) = (dims4(&x), dims4(&weight), dims4(&output_grad));
    let g = transpose_geometry(xd, wd, [yd[2], yd[3]], options);
    dispatch!(vec![output_grad, x], wd, |s| weight_grad(s[0], s[1], &g))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct seven-loop convolution, the reference.
    fn naive_conv(x: &[f64], w: &[f64], g: &Geometry) -> Vec<f64> {
        let (cg, og) = (g.in_channels / g.groups, g.out_channels_per_group());
        let mut y = vec![0.0; g.batch * g.out_channels * g.out_plane()];
        for b in 0..g.batch {
            for o in 0..g.out_channels {
                let group = o / og;
                for oh in 0..g.out_size[0] {
                    for ow in 0..g.out_size[1] {
                        let mut sum = 0.0;
                        for c in 0..cg {
                            for i in 0..g.kernel[0] {
                                for j in 0..g.kernel[1] {
                                    let (Some(ih), Some(iw)) = (source(oh, i, g, 0), source(ow, j, g, 1)) else { continue };
                                    let ci = group * cg + c;
                                    sum += x[((b * g.in_channels + ci) * g.in_size[0] + ih) * g.in_size[1] + iw]
                                        * w[((o * cg + c) * g.kernel[0] + i) * g.kernel[1] + j];
                                }
                            }
                        }
                        y[((b * g.out_channels + o) * g.out_size[0] + oh) * g.out_size[1] + ow] = sum;
                    }
                }
            }
        }
        y
    }

    fn data(n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5
            })
            .collect()
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn geometries() -> Vec<Geometry> {
        let g = |batch, cin, in_size: [usize; 2], cout, kernel: [usize; 2], stride, padding, dilation, groups| {
            let out_size = core::array::from_fn(|a| {
                let reach = dilation * (kernel[a] - 1) + 1;
                (in_size[a] + 2 * padding - reach) / stride + 1
            });
            Geometry { batch, in_channels: cin, in_size, out_channels: cout, out_size, kernel, stride: [stride; 2], padding: [padding; 2], dilation: [dilation; 2], groups }
        };
        vec![
            g(3, 4, [7, 6], 5, [3, 3], 1, 1, 1, 1),
            g(2, 3, [9, 8], 4, [4, 4], 2, 1, 1, 1),
            g(2, 3, [11, 10], 2, [7, 7], 2, 3, 1, 1),
            g(2, 4, [6, 7], 6, [3, 2], 2, 0, 2, 2),
            g(1, 2, [5, 5], 3, [1, 1], 1, 0, 1, 1),
            g(2, 6, [8, 8], 6, [3, 3], 3, 2, 1, 3),
            // Enough images for the chunks-over-threads plan; channels-last patches.
            g(12, 16, [16, 16], 4, [3, 3], 1, 1, 1, 1),
            g(9, 24, [9, 9], 5, [4, 3], 2, 1, 1, 1),
            g(3, 20, [6, 7], 4, [3, 3], 1, 2, 2, 1),
            g(16, 16, [15, 15], 6, [4, 4], 2, 1, 1, 2),
            // Channels-last with more than NARROW_OUTPUT output channels (the others have
            // fewer): the product in its untransposed orientation.
            g(8, 32, [6, 6], 40, [3, 3], 1, 1, 1, 1),
            // Channels-first with more than NARROW_OUTPUT output channels.
            g(2, 3, [8, 8], 36, [3, 3], 1, 1, 1, 1),
        ]
    }

    #[test]
    fn forward_matches_the_direct_convolution() {
        if threads() > 1 {
            assert!(geometries().iter().any(|g| g.plan().parallel_chunks));
        }
        assert!(geometries().iter().any(|g| matches!(g.lowering(), Lowering::ChannelsLast)));
        assert!(geometries().iter().any(|g| matches!(g.lowering(), Lowering::ChannelsFirst(_))));
        for narrow in [true, false] {
            assert!(geometries().iter().any(|g| matches!(g.lowering(), Lowering::ChannelsLast) && (g.out_channels <= NARROW_OUTPUT) == narrow));
            assert!(geometries().iter().any(|g| matches!(g.lowering(), Lowering::ChannelsFirst(_)) && (g.out_channels_per_group() <= NARROW_OUTPUT) == narrow));
        }
        for g in geometries() {
            let x = data(g.batch * g.in_channels * g.in_plane(), 1);
            let w = data(g.out_channels * g.group_rows(), 2);
            let (got, want) = (forward(&x, &w, None, &g), naive_conv(&x, &w, &g));
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() < 1e-12, "{g:?}: {a} vs {b}");
            }
        }
    }

    /// ⟨conv(x, w), dy⟩ is bilinear, so the gradients are the adjoints:
    /// ⟨input_grad(dy), x⟩ = ⟨dy, conv(x)⟩ = ⟨weight_grad(x, dy), w⟩.
    #[test]
    fn gradients_are_the_adjoints_of_the_forward_pass() {
        for g in geometries() {
            let x = data(g.batch * g.in_channels * g.in_plane(), 3);
            let w = data(g.out_channels * g.group_rows(), 4);
            let dy = data(g.batch * g.out_channels * g.out_plane(), 5);
            let y = naive_conv(&x, &w, &g);
            let expected = dot(&y, &dy);
            let via_input = dot(&input_grad(&dy, &w, &g), &x);
            let via_weight = dot(&weight_grad(&x, &dy, &g), &w);
            assert!((via_input - expected).abs() < 1e-9, "{g:?}: {via_input} vs {expected}");
            assert!((via_weight - expected).abs() < 1e-9, "{g:?}: {via_weight} vs {expected}");
            // And each entry, not only the sum: perturb one input and one weight.
            let gx = input_grad(&dy, &w, &g);
            let gw = weight_grad(&x, &dy, &g);
            for (index, grad) in [(x.len() / 2, gx[x.len() / 2]), (x.len() - 1, gx[x.len() - 1])] {
                let mut x2 = x.clone();
                x2[index] += 1.0;
                let delta = dot(&naive_conv(&x2, &w, &g), &dy) - expected;
                assert!((delta - grad).abs() < 1e-9, "{g:?} x[{index}]: {delta} vs {grad}");
            }
            for index in [0, w.len() / 3, w.len() - 1] {
                let mut w2 = w.clone();
                w2[index] += 1.0;
                let delta = dot(&naive_conv(&x, &w2, &g), &dy) - expected;
                assert!((delta - gw[index]).abs() < 1e-9, "{g:?} w[{index}]: {delta} vs {}", gw[index]);
            }
        }
    }

    #[test]
    fn weight_gradients_are_the_same_every_run() {
        if threads() < 2 {
            return; // one thread: a single chunk order, nothing to check
        }
        let g = geometries().into_iter().find(|g| g.plan().parallel_chunks && g.batch.div_ceil(g.plan().chunk) > 2).expect("a many-chunk geometry");
        let x: Vec<f32> = data(g.batch * g.in_channels * g.in_plane(), 8).iter().map(|&v| v as f32).collect();
        let dy: Vec<f32> = data(g.batch * g.out_channels * g.out_plane(), 9).iter().map(|&v| v as f32).collect();
        let first = weight_grad(&x, &dy, &g);
        for _ in 0..20 {
            assert!(weight_grad(&x, &dy, &g).iter().zip(&first).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }

    #[test]
    fn chunked_batches_give_the_same_gradients() {
        // A geometry big enough that COLUMNS_LIMIT splits the batch.
        let cin = 64;
        let g = Geometry { batch: 5, in_channels: cin, in_size: [130, 130], out_channels: 2, out_size: [128, 128], kernel: [3, 3], stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 };
        assert!(g.chunk() < g.batch, "chunk {}", g.chunk());
        let x: Vec<f32> = data(g.batch * cin * g.in_plane(), 6).iter().map(|&v| v as f32).collect();
        let dy: Vec<f32> = data(g.batch * 2 * g.out_plane(), 7).iter().map(|&v| v as f32).collect();
        let whole = Geometry { batch: 1, ..g };
        let mut summed = vec![0f32; 2 * g.rows()];
        for b in 0..g.batch {
            let xb = &x[b * cin * g.in_plane()..][..cin * g.in_plane()];
            let dyb = &dy[b * 2 * g.out_plane()..][..2 * g.out_plane()];
            for (s, v) in summed.iter_mut().zip(weight_grad(xb, dyb, &whole)) {
                *s += v;
            }
        }
        let chunked = weight_grad(&x, &dy, &g);
        for (a, b) in chunked.iter().zip(&summed) {
            assert!((a - b).abs() < 1e-2 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }

    #[test]
    fn bias_gradient_sums_each_channel_over_batch_and_plane() {
        // Planes shorter and longer than the 16 lanes, with a remainder.
        for [batch, channels, h, w] in [[3, 5, 7, 3], [2, 4, 1, 1], [4, 3, 9, 5]] {
            let dy = data(batch * channels * h * w, 11);
            let sums = channel_sums(&dy, batch, channels, h * w);
            for c in 0..channels {
                let expected: f64 = (0..batch).flat_map(|b| dy[(b * channels + c) * h * w..][..h * w].iter()).sum();
                assert!((sums[c] - expected).abs() < 1e-12, "channel {c}: {} vs {expected}", sums[c]);
            }
            // Through the tensor entry point, in f32, to the bias's own shape.
            let tensor = |values: Vec<f32>, shape: Vec<usize>| FlexTensor::new(Bytes::from_elems(values), Layout::contiguous(Shape::from(shape)), DType::F32);
            let grad = bias_backward(tensor(vec![0.0; channels], vec![channels]), tensor(dy.iter().map(|&v| v as f32).collect(), vec![batch, channels, h, w]));
            assert_eq!(grad.layout().shape().to_vec(), vec![channels]);
            for (a, b) in grad.storage::<f32>().iter().zip(&sums) {
                assert!((*a as f64 - b).abs() < 1e-5, "{a} vs {b}");
            }
        }
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    extern crate std;
    use std::println;
    use std::time::Instant;

    /// 0: automatic, 1: channels-first, 2: channels-last (timing only).
    pub(super) static FORCE_LOWERING: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

    /// The shortest of five runs of `f`, in seconds.
    fn best_of_five(f: &dyn Fn()) -> f64 {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::MAX, f64::min)
    }

    /// The PatchVAE training step's convolutions (batch 128, 32×32), each lowering, the
    /// best of five rounds: `cargo test -p burn-flex --lib conv2d_gemm::timing -- --ignored
    /// --nocapture --test-threads=1`.
    #[test]
    #[ignore]
    fn patchvae_step() {
        let conv = |cin, size: usize, cout, k: usize, s: usize, p: usize| {
            let out = (size + 2 * p - k) / s + 1;
            Geometry { batch: 128, in_channels: cin, in_size: [size; 2], out_channels: cout, out_size: [out; 2], kernel: [k; 2], stride: [s; 2], padding: [p; 2], dilation: [1; 2], groups: 1 }
        };
        // (geometry, how many in the model, whether its input gradient is needed, whether
        // it is a transposed convolution: forward = input gradient, dx = forward)
        let layers = [
            (conv(3, 32, 64, 7, 2, 3), 1, false, false),
            (conv(64, 8, 64, 3, 1, 1), 4, true, false),
            (conv(64, 8, 128, 3, 2, 1), 1, true, false),
            (conv(64, 8, 128, 1, 2, 0), 1, true, false),
            (conv(128, 4, 128, 3, 1, 1), 3, true, false),
            (conv(128, 4, 96, 3, 1, 1), 2, true, false),
            (conv(128, 4, 16, 3, 1, 1), 1, true, false),
            (conv(256, 4, 96, 1, 1, 0), 1, true, true),
            (conv(128, 8, 256, 4, 2, 1), 1, true, true),
            (conv(64, 16, 128, 4, 2, 1), 1, true, true),
            (conv(3, 32, 64, 4, 2, 1), 1, true, true),
        ];
        let data: Vec<_> = layers
            .iter()
            .map(|(g, ..)| {
                (vec![0.5f32; g.batch * g.in_channels * g.in_plane()], vec![0.25f32; g.out_channels * g.group_rows()], vec![0.1f32; g.batch * g.out_channels * g.out_plane()])
            })
            .collect();
        for (force, name) in [(0, "automatic"), (1, "channels-first"), (2, "channels-last"), (0, "automatic")] {
            FORCE_LOWERING.store(force, core::sync::atomic::Ordering::Relaxed);
            let best = best_of_five(&|| {
                for ((g, times, needs_dx, transposed), (x, w, dy)) in layers.iter().zip(&data) {
                    for _ in 0..*times {
                        if *transposed {
                            std::hint::black_box(input_grad(dy, w, g));
                            std::hint::black_box(forward(x, w, None, g));
                        } else {
                            std::hint::black_box(forward(x, w, None, g));
                            if *needs_dx {
                                std::hint::black_box(input_grad(dy, w, g));
                            }
                        }
                        std::hint::black_box(weight_grad(x, dy, g));
                    }
                }
            });
            println!("{name:15} {:7.1} ms per step", best * 1e3);
        }
        FORCE_LOWERING.store(0, core::sync::atomic::Ordering::Relaxed);
        // Per layer and pass (automatic lowering): where the step's convolution time goes.
        println!("{:34} {:>5} {:>16} {:>16} {:>16}", "layer (C_in, size, C_out, k, s)", "times", "forward ms GF/s", "dx ms GF/s", "dw ms GF/s");
        for ((g, times, needs_dx, transposed), (x, w, dy)) in layers.iter().zip(&data) {
            let flop = 2.0 * (g.batch * g.out_plane() * g.out_channels * g.group_rows()) as f64;
            let fwd = best_of_five(&|| {
                std::hint::black_box(forward(x, w, None, g));
            });
            let dx = best_of_five(&|| {
                std::hint::black_box(input_grad(dy, w, g));
            });
            let dw = best_of_five(&|| {
                std::hint::black_box(weight_grad(x, dy, g));
            });
            let cell = |t: f64| std::format!("{:7.2} {:6.1}", t * 1e3, flop / t / 1e9);
            let name = std::format!("{}{:?}", if *transposed { "T " } else { "" }, (g.in_channels, g.in_size[0], g.out_channels, g.kernel[0], g.stride[0]));
            println!("{name:34} {times:>5} {:>16} {:>16} {:>16}{}", cell(fwd), cell(dx), cell(dw), if *needs_dx { "" } else { "  (dx unused)" });
        }
    }
}
