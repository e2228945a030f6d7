//! gemm throughput (GFLOP/s) on the PatchVAE decoder's matrix shapes, one thread and two.
use std::time::Instant;
fn bench(m: usize, k: usize, n: usize, par: gemm::Parallelism) {
    let a = vec![0.5f32; m * k];
    let b = vec![0.25f32; k * n];
    let mut c = vec![0f32; m * n];
    let reps = (2_000_000_000usize / (2 * m * k * n)).clamp(3, 20000);
    let run = |c: &mut [f32]| unsafe {
        gemm::gemm(m, n, k, c.as_mut_ptr(), 1, n as isize, false, a.as_ptr(), 1, k as isize, b.as_ptr(), 1, n as isize, 0.0, 1.0, false, false, false, par);
    };
    run(&mut c);
    let t = Instant::now();
    for _ in 0..reps { run(&mut c); }
    let s = t.elapsed().as_secs_f64();
    println!("M={m:4} K={k:5} N={n:5} {par:?}: {:6.1} GFLOP/s", 2.0 * (m * k * n * reps) as f64 / s / 1e9);
}
fn main() {
    for (m, k, n) in [(576, 256, 2048), (2304, 128, 1024), (2048, 256, 64), (1024,128,256)] {
        bench(m, k, n, gemm::Parallelism::None);
        bench(m, k, n, gemm::Parallelism::Rayon(2));
    }
}
