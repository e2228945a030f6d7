//! gemm throughput (GFLOP/s) on the PatchVAE decoder's matrix shapes, one thread and two,
//! and on the convolution shapes of its training step (W · im2col, 64 or 128 output
//! channels × thousands of columns) three ways: one thread, gemm's own two-thread split,
//! and the columns cut in two halves, each a single-threaded product on its own thread
//! (what `vendor/burn-flex/src/ops/conv2d_gemm.rs` does).
use std::time::Instant;

/// `c[m×n] = a[m×k] · b[k×n]`, all row-major.
fn product(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32], par: gemm::Parallelism) {
    // SAFETY: a, b and c hold m×k, k×n and m×n values (the callers size them so).
    unsafe {
        gemm::gemm(m, n, k, c.as_mut_ptr(), 1, n as isize, false, a.as_ptr(), 1, k as isize, b.as_ptr(), 1, n as isize, 0.0, 1.0, false, false, false, par);
    }
}

/// The columns in two halves, one single-threaded product per half, side by side.
fn halves(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    let h = n / 2;
    // Row-major halves are not contiguous; each half is a strided view of b and c.
    let (cp, bp) = (c.as_mut_ptr() as usize, b.as_ptr() as usize);
    let half = |start: usize, cols: usize| unsafe {
        // SAFETY: the two halves write disjoint columns of c and read within b.
        gemm::gemm(m, cols, k, (cp as *mut f32).add(start), 1, n as isize, false, a.as_ptr(), 1, k as isize, (bp as *const f32).add(start), 1, n as isize, 0.0, 1.0, false, false, false, gemm::Parallelism::None);
    };
    rayon::join(|| half(0, h), || half(h, n - h));
}

fn rate(m: usize, k: usize, n: usize, mut f: impl FnMut()) -> f64 {
    let reps = (2_000_000_000usize / (2 * m * k * n)).clamp(3, 20000);
    f();
    let t = Instant::now();
    for _ in 0..reps {
        f();
    }
    2.0 * (m * k * n * reps) as f64 / t.elapsed().as_secs_f64() / 1e9
}

fn main() {
    rayon::ThreadPoolBuilder::new().num_threads(2).build_global().expect("a rayon pool");
    println!("PatchVAE decoder shapes");
    for (m, k, n) in [(576, 256, 2048), (2304, 128, 1024), (2048, 256, 64), (1024, 128, 256)] {
        let (a, b, mut c) = (vec![0.5f32; m * k], vec![0.25f32; k * n], vec![0f32; m * n]);
        for par in [gemm::Parallelism::None, gemm::Parallelism::Rayon(2)] {
            println!("M={m:4} K={k:5} N={n:5} {par:?}: {:6.1} GFLOP/s", rate(m, k, n, || product(m, k, n, &a, &b, &mut c, par)));
        }
    }
    println!("convolution shapes: one thread | gemm's two threads | two single-threaded halves");
    for (m, k, n) in [(64, 147, 32768), (64, 576, 8192), (128, 1152, 2048), (96, 1152, 2048), (128, 1024, 8192)] {
        let (a, b, mut c) = (vec![0.5f32; m * k], vec![0.25f32; k * n], vec![0f32; m * n]);
        let one = rate(m, k, n, || product(m, k, n, &a, &b, &mut c, gemm::Parallelism::None));
        let two = rate(m, k, n, || product(m, k, n, &a, &b, &mut c, gemm::Parallelism::Rayon(2)));
        let split = rate(m, k, n, || halves(m, k, n, &a, &b, &mut c));
        println!("M={m:4} K={k:5} N={n:5}: {one:6.1} | {two:6.1} | {split:6.1} GFLOP/s");
    }
}
