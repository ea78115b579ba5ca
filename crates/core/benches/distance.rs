//! Kernel micro-benchmark: ns per distance at d=384 and d=1536, simsimd
//! (runtime-dispatched SIMD) against the scalar reference; and the sparse
//! L2 / L1 merge on SPLADE-like pairs.
//! Run: `cargo bench --bench distance`.

use std::hint::black_box;
use std::time::Instant;
use vecstore_core::distance::sparse::{self, Sparse};
use vecstore_core::distance::{self, scalar};
use vecstore_core::rng::Rng;

type Kernel = fn(&[f32], &[f32]) -> f64;

/// Median over 7 runs of the mean ns per call across a pool of vectors.
fn ns_per_call(kernel: Kernel, pool: &[Vec<f32>], q: &[f32]) -> f64 {
    median_ns((50_000_000 / q.len()).max(1000), |i| {
        kernel(black_box(q), black_box(&pool[i % pool.len()]))
    })
}

/// Median over 7 runs of the mean ns of `iters` calls of `call(i)`.
fn median_ns(iters: usize, mut call: impl FnMut(usize) -> f64) -> f64 {
    let mut runs = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        let mut acc = 0.0;
        for i in 0..iters {
            acc += call(i);
        }
        black_box(acc);
        runs.push(start.elapsed().as_nanos() as f64 / iters as f64);
    }
    runs.sort_by(f64::total_cmp);
    runs[3]
}

/// SPLADE-like sparse rows: 20-200 non-zeros in 30,000 dimensions, nine in
/// ten from one of `topics` topics' 300 terms (rows of a topic share terms).
fn sparse_rows(rng: &mut Rng, topics: u64) -> Vec<(Vec<i32>, Vec<f32>)> {
    (0..256)
        .map(|_| {
            let k = 20 + rng.below(181) as usize;
            let topic = rng.below(topics) as i32 * 300;
            let mut idx: Vec<i32> = (0..k)
                .map(|j| {
                    if j % 10 == 0 {
                        rng.below(30_000) as i32
                    } else {
                        topic + rng.below(300) as i32
                    }
                })
                .collect();
            idx.sort_unstable();
            idx.dedup();
            let val = idx.iter().map(|_| rng.uniform() as f32 + 1e-3).collect();
            (idx, val)
        })
        .collect()
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
    println!("{:>6} {:>14} {:>12}", "topics", "sparse kernel", "ns");
    for topics in [50u64, 2] {
        let rows = sparse_rows(&mut rng, topics);
        let v: Vec<Sparse> = rows.iter().map(|(i, x)| Sparse { dim: 30_000, indices: i, values: x }).collect();
        let pairs = |i: usize| (black_box(&v[i % 256]), black_box(&v[(i * 7 + 1) % 256]));
        let l2 = median_ns(1_000_000, |i| {
            let (a, b) = pairs(i);
            sparse::l2_squared(a, b)
        });
        let l1 = median_ns(1_000_000, |i| {
            let (a, b) = pairs(i);
            sparse::l1_distance(a, b)
        });
        println!(
            "{topics:>6} {:>14} {l2:>12.1}\n{topics:>6} {:>14} {l1:>12.1}",
            "l2_squared", "l1"
        );
    }
}
