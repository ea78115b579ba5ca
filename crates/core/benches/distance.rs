//! Kernel micro-benchmark: ns per distance at d=384 and d=1536, simsimd
//! (runtime-dispatched SIMD) against the scalar reference.
//! Run: `cargo bench --bench distance`.

use std::hint::black_box;
use std::time::Instant;
use vecstore_core::distance::{self, scalar};
use vecstore_core::rng::Rng;

type Kernel = fn(&[f32], &[f32]) -> f64;

/// Median over 7 runs of the mean ns per call across a pool of vectors.
fn ns_per_call(kernel: Kernel, pool: &[Vec<f32>], q: &[f32]) -> f64 {
    let iters = (50_000_000 / q.len()).max(1000);
    let mut runs = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        let mut acc = 0.0;
        for i in 0..iters {
            acc += kernel(black_box(q), black_box(&pool[i % pool.len()]));
        }
        black_box(acc);
        runs.push(start.elapsed().as_nanos() as f64 / iters as f64);
    }
    runs.sort_by(f64::total_cmp);
    runs[3]
}

fn main() {
    println!("simsimd back-ends on this CPU: {:?}", distance::simd_capabilities());
    println!("{:>6} {:>14} {:>12} {:>12} {:>8}", "dim", "kernel", "simd ns", "scalar ns", "speedup");
    let mut rng = Rng::new(42);
    for dim in [384usize, 1536] {
        let pool: Vec<Vec<f32>> = (0..256).map(|_| (0..dim).map(|_| rng.normal() as f32).collect()).collect();
        let q: Vec<f32> = (0..dim).map(|_| rng.normal() as f32).collect();
        let kernels: [(&str, Kernel, Kernel); 4] = [
            ("l2_squared", distance::l2_squared, scalar::l2_squared),
            ("inner_product", distance::inner_product, scalar::inner_product),
            ("cosine", distance::cosine_distance, scalar::cosine_distance),
            ("l1", distance::l1_distance, scalar::l1_distance),
        ];
        for (name, simd, reference) in kernels {
            let a = ns_per_call(simd, &pool, &q);
            let b = ns_per_call(reference, &pool, &q);
            println!("{dim:>6} {name:>14} {a:>12.1} {b:>12.1} {:>7.1}x", b / a);
        }
    }
}
