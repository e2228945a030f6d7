//! Element-wise passes over large tensors, split over rayon's threads (a Patchwork patch).
//!
//! Upstream runs every element-wise operation (unary, scalar and same-shape binary) on the
//! calling thread. In a convolutional model's training step those passes — activations and
//! their gradients, loss terms, the optimiser's updates — ran while the other cores waited
//! for the next convolution: ~10 % of PatchVAE's CPU samples, i.e. ~20 % of its wall time
//! on two cores. Below [`PARALLEL_THRESHOLD`] elements one thread still does the work.
//!
//! Each span is processed in order by one thread, with the same per-element arithmetic as
//! a single pass: results do not depend on how the work is split.

use alloc::vec::Vec;

#[cfg(feature = "rayon")]
use crate::ops::PARALLEL_THRESHOLD;

/// Elements per task: enough tasks for rayon to balance two to a few dozen threads, each a
/// whole number of cache lines.
#[cfg(feature = "rayon")]
fn span_len(len: usize) -> usize {
    let tasks = 4 * rayon::current_num_threads();
    len.div_ceil(tasks).next_multiple_of(64).max(1)
}

/// `f` on consecutive spans of `data` (all of it in one call when small).
pub(crate) fn for_each_span<E: Send>(data: &mut [E], f: impl Fn(&mut [E]) + Send + Sync) {
    #[cfg(feature = "rayon")]
    if data.len() >= PARALLEL_THRESHOLD {
        use rayon::prelude::*;
        let span = span_len(data.len());
        data.par_chunks_mut(span).for_each(f);
        return;
    }
    f(data)
}

/// `f` on consecutive spans of `data` and the same spans of `other` (as long as `data`).
pub(crate) fn for_each_span_with<E: Send, R: Sync>(data: &mut [E], other: &[R], f: impl Fn(&mut [E], &[R]) + Send + Sync) {
    assert_eq!(data.len(), other.len(), "for_each_span_with: lengths differ");
    #[cfg(feature = "rayon")]
    if data.len() >= PARALLEL_THRESHOLD {
        use rayon::prelude::*;
        let span = span_len(data.len());
        data.par_chunks_mut(span).zip(other.par_chunks(span)).for_each(|(d, o)| f(d, o));
        return;
    }
    f(data, other)
}

/// `f` of each element of `src`, as a new vector.
pub(crate) fn map<E: Copy + Sync, R: Send>(src: &[E], f: impl Fn(E) -> R + Send + Sync) -> Vec<R> {
    #[cfg(feature = "rayon")]
    if src.len() >= PARALLEL_THRESHOLD {
        use rayon::prelude::*;
        let mut out = Vec::with_capacity(src.len());
        src.par_iter().with_min_len(span_len(src.len())).map(|&x| f(x)).collect_into_vec(&mut out);
        return out;
    }
    src.iter().map(|&x| f(x)).collect()
}

/// `f` of each pair of elements of `a` and `b` (equally long), as a new vector.
pub(crate) fn map2<E: Copy + Sync, R: Send>(a: &[E], b: &[E], f: impl Fn(E, E) -> R + Send + Sync) -> Vec<R> {
    assert_eq!(a.len(), b.len(), "map2: lengths differ");
    #[cfg(feature = "rayon")]
    if a.len() >= PARALLEL_THRESHOLD {
        use rayon::prelude::*;
        let mut out = Vec::with_capacity(a.len());
        a.par_iter().zip(b).with_min_len(span_len(a.len())).map(|(&x, &y)| f(x, y)).collect_into_vec(&mut out);
        return out;
    }
    a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_every_element_once_small_and_large() {
        for len in [0, 7, 1000, PARALLEL_THRESHOLD_FOR_TESTS + 13] {
            let mut data: Vec<u64> = (0..len as u64).collect();
            for_each_span(&mut data, |s| s.iter_mut().for_each(|x| *x = *x * 2 + 1));
            assert!(data.iter().enumerate().all(|(i, &x)| x == 2 * i as u64 + 1));

            let other: Vec<u64> = (0..len as u64).map(|i| i * 3).collect();
            for_each_span_with(&mut data, &other, |d, o| d.iter_mut().zip(o).for_each(|(x, y)| *x += y));
            assert!(data.iter().enumerate().all(|(i, &x)| x == 5 * i as u64 + 1));

            let squared = map(&other, |x| x * x);
            assert!(squared.iter().enumerate().all(|(i, &x)| x == 9 * (i * i) as u64));
            let summed = map2(&data, &other, |x, y| x - y);
            assert!(summed.iter().enumerate().all(|(i, &x)| x == 2 * i as u64 + 1));
        }
    }

    #[cfg(feature = "rayon")]
    const PARALLEL_THRESHOLD_FOR_TESTS: usize = PARALLEL_THRESHOLD;
    #[cfg(not(feature = "rayon"))]
    const PARALLEL_THRESHOLD_FOR_TESTS: usize = 1 << 18;
}
