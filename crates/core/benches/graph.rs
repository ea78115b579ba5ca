//! In-memory HNSW on a texmex dataset: build time and recall@10 / QPS per
//! ef, without Postgres.
//! Run: `cargo bench -p vecstore-core --bench graph -- BASE.fvecs QUERY.fvecs GT.ivecs`
//! (e.g. the minilm sets built by tools/dataset).

use std::time::Instant;
use vecstore_core::distance::Metric;
use vecstore_core::space::f32_bytes;
use vecstore_core::hnsw::{MemGraph, Params, Scratch, MAX_LEVEL};

#[path = "common/texmex.rs"]
mod texmex;

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with("--")).skip(1).collect();
    let (base, query, gt) = match args.as_slice() {
        [b, q, g, ..] => (b.clone(), q.clone(), g.clone()),
        _ => {
            eprintln!("usage: cargo bench -p vecstore-core --bench graph -- BASE.fvecs QUERY.fvecs GT.ivecs");
            std::process::exit(2);
        }
    };
    let (dim, b) = texmex::read_rows(&base);
    let (_, q) = texmex::read_rows(&query);
    let (k_gt, g) = texmex::read_rows(&gt);
    let b: Vec<f32> = b.into_iter().map(f32::from_bits).collect();
    let q: Vec<f32> = q.into_iter().map(f32::from_bits).collect();
    let params = Params { m: 16, ef_construction: 64, metric: Metric::L2, max_level: MAX_LEVEL };
    for threads in [1, 2] {
        let mut graph = MemGraph::from_f32(params, dim, &b, 0x4853_4e57);
        let t = Instant::now();
        graph.build(threads, &mut |_| true).expect("build");
        println!("n={} dim={dim} threads={threads}: build {:.3} s", graph.len(), t.elapsed().as_secs_f64());
        let mut scratch = Scratch::dense(graph.len());
        for ef in [10, 20, 40, 80, 100, 200] {
            let t = Instant::now();
            let mut hits = 0;
            let nq = q.len() / dim;
            for (i, qv) in q.chunks(dim).enumerate() {
                let truth: Vec<u32> = g[i * k_gt..i * k_gt + 10].to_vec();
                let got = graph.search(f32_bytes(qv), 10, ef, &mut scratch);
                hits += got.iter().filter(|c| truth.contains(&(c.id as u32))).count();
            }
            let secs = t.elapsed().as_secs_f64();
            println!("  ef {ef:>4}: recall@10 {:.4}  {:>8.0} QPS", hits as f64 / (nq * 10) as f64, nq as f64 / secs);
        }
    }
}
