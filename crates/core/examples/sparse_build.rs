//! The in-memory HNSW build over sparse vectors without Postgres (what
//! `CREATE INDEX ... (v sparsevec_*_ops)` spends its linking phase on):
//! generated rows like benches/sparse_build.py's (NNZ_MIN..=NNZ_MAX distinct
//! random indices of DIM, values uniform in (0, 1)), build time per thread
//! count, and recall@10 and queries per second at a few ef_search against
//! brute force. For profiling (`perf record`) and quick before/after checks.
//! With TOPICS > 0 rows are SPLADE-like instead (mostly terms of one or two
//! of TOPICS topics of 300 terms, Zipf-weighted, as benches/sparse_build.py
//! --topics): rows then share terms.
//!
//! cargo run -p vecstore-core --release --example sparse_build -- \
//!     [N=20000] [NNZ_MIN,NNZ_MAX=20,200] [DIM=30000] [METRIC=ip|l2|cosine|l1] [THREADS=1,2] [TOPICS=0] [SEED]

use std::time::Instant;
use vecstore_core::distance::sparse::{encode, normalize};
use vecstore_core::distance::Metric;
use vecstore_core::hnsw::dedup::Values;
use vecstore_core::hnsw::{MemGraph, Params, Scratch, MAX_LEVEL};
use vecstore_core::rng::Rng;
use vecstore_core::space::{f32_bytes, Space};

/// `n` encoded rows of `lo..=hi` distinct ascending indices below `dim`
/// (with `topics`, 90% of them drawn from one or two topics' terms).
fn rows(n: usize, dim: usize, lo: usize, hi: usize, seed: u64, metric: Metric, topics: usize) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed);
    let mut terms = Rng::new(7);
    let topic_terms: Vec<Vec<i32>> = (0..topics).map(|_| (0..300).map(|_| terms.below(dim as u64) as i32).collect()).collect();
    // Zipf over a topic's 300 terms: term r drawn with weight 1/(r+1)
    let zipf: Vec<f64> = (1..=300).map(|r| 1.0 / r as f64).scan(0.0, |s, w| { *s += w; Some(*s) }).collect();
    (0..n)
        .map(|_| {
            let k = lo + rng.below((hi - lo + 1) as u64) as usize;
            let mut idx: Vec<i32> = Vec::with_capacity(k);
            if topics > 0 {
                let picked: Vec<usize> = (0..1 + rng.below(2)).map(|_| rng.below(topics as u64) as usize).collect();
                for _ in 0..2 * k {
                    if idx.len() >= k * 9 / 10 {
                        break;
                    }
                    let t = &topic_terms[picked[rng.below(picked.len() as u64) as usize]];
                    let u = rng.uniform() * zipf[299];
                    let i = t[zipf.partition_point(|&c| c < u).min(299)];
                    if !idx.contains(&i) {
                        idx.push(i);
                    }
                }
            }
            while idx.len() < k {
                let i = rng.below(dim as u64) as i32;
                if !idx.contains(&i) {
                    idx.push(i);
                }
            }
            idx.sort_unstable();
            let val: Vec<f32> = (0..k).map(|_| rng.uniform() as f32 + 1e-3).collect();
            let (idx, val) = match metric {
                Metric::Cosine => normalize(&idx, &val).expect("finite"),
                _ => (idx, val),
            };
            encode(dim as i32, &idx, &val)
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with("--")).skip(1).collect();
    let arg = |i: usize, d: &str| args.get(i).cloned().unwrap_or_else(|| d.to_string());
    let n: usize = arg(0, "20000").parse().expect("N");
    let nnz = arg(1, "20,200");
    let (lo, hi) = nnz.split_once(',').map(|(a, b)| (a.parse().expect("NNZ_MIN"), b.parse().expect("NNZ_MAX"))).expect("NNZ_MIN,NNZ_MAX");
    let dim: usize = arg(2, "30000").parse().expect("DIM");
    let metric = match arg(3, "ip").as_str() {
        "l2" => Metric::L2,
        "cosine" => Metric::Cosine,
        "l1" => Metric::L1,
        _ => Metric::InnerProduct,
    };
    let threads: Vec<usize> = arg(4, "1,2").split(',').map(|t| t.parse().expect("THREADS")).collect();
    let topics: usize = arg(5, "0").parse().expect("TOPICS");
    // the graph's level seed (the build's own by default)
    let seed: u64 = arg(6, "1213419095").parse().expect("SEED");
    let base = rows(n, dim, lo, hi, 1, metric, topics);
    let queries = rows(200, dim, lo, hi, 2, metric, topics);
    let space = Space::Sparse { metric, cap: hi };
    let params = Params { m: 16, ef_construction: 64, metric, max_level: MAX_LEVEL };
    let truth: Vec<Vec<u32>> = queries
        .iter()
        .map(|q| {
            let qb = space.query(q);
            let mut d: Vec<(f64, u32)> = base.iter().enumerate().map(|(i, r)| (space.distance(&qb, f32_bytes(r)), i as u32)).collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            d.iter().take(10).map(|x| x.1).collect()
        })
        .collect();
    for &t in &threads {
        let mut values = Values::variable();
        for r in &base {
            values.push(f32_bytes(r));
        }
        let mut g = MemGraph::new(params, space, values, seed);
        let started = Instant::now();
        g.build(t, &mut |_| true).expect("build");
        println!("n={n} nnz={lo}..{hi} dim={dim} {metric:?} threads={t}: build {:.3} s", started.elapsed().as_secs_f64());
        let mut scratch = Scratch::dense(g.len());
        for ef in [40, 100] {
            let started = Instant::now();
            let mut hits = 0;
            for (q, want) in queries.iter().zip(&truth) {
                let got = g.search(&space.query(q), 10, ef, &mut scratch);
                // ties at the 10th distance count as hits (random sparse
                // rows often share no index with the query)
                let qb = space.query(q);
                let tenth = space.distance(&qb, f32_bytes(&base[want[want.len() - 1] as usize]));
                hits += got.iter().filter(|c| want.contains(&(c.id as u32)) || c.dist <= tenth).count();
            }
            let secs = started.elapsed().as_secs_f64();
            println!("  ef {ef}: recall@10 {:.4}, {:.0} QPS", hits as f64 / (10 * queries.len()) as f64, queries.len() as f64 / secs);
        }
    }
}
