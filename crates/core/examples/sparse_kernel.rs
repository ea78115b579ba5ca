//! Times the sparse L2 kernel on SPLADE-like pairs (a topic's 300 terms
//! plus background terms, 20-200 non-zeros): `cargo run --release -p
//! vecstore-core --example sparse_kernel`.
use std::time::Instant;
use vecstore_core::distance::sparse::{l2_squared, Sparse};

fn rows(n: usize, seed: u64) -> Vec<(Vec<i32>, Vec<f32>)> {
    let mut s = seed;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    (0..n)
        .map(|_| {
            let k = 20 + (next() % 181) as usize;
            let topic = (next() % TOPICS) as i32 * 300;
            let mut idx: Vec<i32> = (0..k)
                .map(|_| if next() % 4 == 0 { (next() % 30000) as i32 } else { topic + ((next() % 300) as f64).powf(1.0) as i32 % 300 })
                .collect();
            idx.sort();
            idx.dedup();
            let vals = idx.iter().map(|_| (next() % 1000) as f32 / 1000.0 + 0.01).collect();
            (idx, vals)
        })
        .collect()
}

const TOPICS: u64 = 50;
fn main() {
    let data = rows(4000, 88172645463325252);
    let sp: Vec<Sparse> = data.iter().map(|(i, v)| Sparse { dim: 30000, indices: i, values: v }).collect();
    for round in 0..3 {
        let t = Instant::now();
        let mut acc = 0f64;
        for a in sp.iter().take(400) {
            for b in sp.iter() {
                acc += l2_squared(a, b);
            }
        }
        let dt = t.elapsed().as_secs_f64();
        println!("round {round}: {:.1} ns/distance (checksum {acc:.6e})", dt * 1e9 / (400.0 * sp.len() as f64));
    }
}
