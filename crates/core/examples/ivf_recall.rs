//! IVF list quality without Postgres: k-means on a sample of a texmex
//! `.fvecs` file, every row assigned to its nearest list, and per probes the
//! recall@10 of reading the nearest lists (the share of each query's true
//! ten nearest rows that lie in those lists: what an ivfflat scan returns,
//! as it ranks the rows it reads exactly), the rows read per query, the
//! k-means inertia and the list sizes (max/mean, Gini).
//!
//! cargo run -p vecstore-core --release --example ivf_recall -- \
//!     BASE.fvecs QUERY.fvecs GT.ivecs LISTS [SEEDS=1,2,3] [SAMPLE=50] [TRIALS=1] [KIND=e|s]
//!
//! SAMPLE is rows per list (pgvector: 50, at least 10000 rows in all;
//! 0: every row).

use rayon::prelude::*;
use vecstore_core::distance::Metric;
use vecstore_core::ivf::assign_fast::assign_fast;
use vecstore_core::ivf::kmeans::{kmeans_with, Kind};
use vecstore_core::ivf::probe_order;
use vecstore_core::ivf::samples::Samples;
use vecstore_core::rng::Rng;
use vecstore_core::space::{Bytes, Space};

#[path = "../benches/common/texmex.rs"]
mod texmex;

fn gini(sizes: &[usize]) -> f64 {
    let mut s: Vec<f64> = sizes.iter().map(|&x| x as f64).collect();
    s.sort_by(f64::total_cmp);
    let n = s.len() as f64;
    let total: f64 = s.iter().sum();
    let weighted: f64 = s.iter().enumerate().map(|(i, x)| (i as f64 + 1.0) * x).sum();
    (2.0 * weighted) / (n * total) - (n + 1.0) / n
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: ivf_recall BASE.fvecs QUERY.fvecs GT.ivecs LISTS [SEEDS=1,2,3] [SAMPLE=50] [TRIALS=1] [KIND=e|s]");
        std::process::exit(2);
    }
    let k: usize = args[4].parse().unwrap();
    let seeds: Vec<u64> = args.get(5).map_or("1,2,3", |s| s).split(',').map(|s| s.parse().unwrap()).collect();
    let per_list: usize = args.get(6).map_or(50, |s| s.parse().unwrap());
    let trials: usize = args.get(7).map_or(1, |s| s.parse().unwrap());
    // KIND: e (Euclidean k-means, as the L2 opclass) or s (spherical
    // k-means on normalised samples, unit centers; an experiment)
    let kind = if args.get(8).is_some_and(|s| s == "s") { Kind::Spherical } else { Kind::Euclidean };
    let (dims, b) = texmex::read_rows(&args[1]);
    let data: Vec<f32> = b.into_iter().map(f32::from_bits).collect();
    let (_, q) = texmex::read_rows(&args[2]);
    let queries: Vec<f32> = q.into_iter().map(f32::from_bits).collect();
    let (gk, g) = texmex::read_rows(&args[3]);
    let truth: Vec<&[u32]> = g.chunks(gk).map(|r| &r[..10]).collect();
    let n = data.len() / dims;
    let target = if per_list == 0 { n } else { (k * per_list).max(10000).min(n) };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let space = Space::F32 { metric: Metric::L2, dims };
    let values: Vec<Bytes> = data.chunks(dims).map(Bytes::from_f32).collect();
    let refs: Vec<&[u8]> = values.iter().map(|v| &v[..]).collect();
    let probes_all = [1usize, 2, 4, 8, 16, 32, 64];
    println!("n {n} dims {dims} lists {k} sample {target} trials {trials} kind {kind:?} queries {}", truth.len());
    for seed in seeds {
        let mut rng = Rng::new(seed);
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..target {
            let j = i + rng.below((n - i) as u64) as usize;
            idx.swap(i, j);
        }
        let mut sample: Vec<f32> = idx[..target].iter().flat_map(|&i| data[i * dims..(i + 1) * dims].to_vec()).collect();
        if kind == Kind::Spherical {
            sample.chunks_mut(dims).for_each(vecstore_core::ivf::kmeans::normalize);
        }
        let t = std::time::Instant::now();
        let (centers, report) = kmeans_with(Samples::F32 { data: &sample, dims }, k, kind, seed, trials, &pool, &mut || {});
        let secs = t.elapsed().as_secs_f64();
        let cs: Vec<Bytes> = centers.chunks(dims).map(Bytes::from_f32).collect();
        let lists = assign_fast(&space, &cs, &refs, &pool).unwrap();
        let mut sizes = vec![0usize; k];
        lists.iter().for_each(|&l| sizes[l as usize] += 1);
        let inertia: f64 = pool.install(|| {
            (0..n).into_par_iter().map(|i| space.distance(refs[i], &cs[lists[i] as usize]).powi(2)).sum::<f64>()
        }) / n as f64;
        let max = *sizes.iter().max().unwrap() as f64 / (n as f64 / k as f64);
        let empty = sizes.iter().filter(|&&s| s == 0).count();
        let mut line = format!(
            "seed {seed}: {secs:.2} s (seed {:.2} s, lloyd {:.2} s) {} it conv {} | inertia {inertia:.5} max/mean {max:.2} gini {:.3} empty {empty} |",
            report.seed_seconds,
            report.lloyd_seconds,
            report.iterations,
            report.converged,
            gini(&sizes)
        );
        let orders: Vec<Vec<u32>> = queries.chunks(dims).map(|qv| probe_order(&space, &cs, Some(&Bytes::from_f32(qv)))).collect();
        for &p in probes_all.iter().filter(|&&p| p <= k) {
            let mut hit = 0;
            let mut read = 0usize;
            for (order, tr) in orders.iter().zip(&truth) {
                let probed = &order[..p];
                hit += tr.iter().filter(|&&t| probed.contains(&lists[t as usize])).count();
                read += probed.iter().map(|&l| sizes[l as usize]).sum::<usize>();
            }
            line += &format!(" p{p} {:.4}/{}", hit as f64 / (10 * truth.len()) as f64, read / truth.len());
        }
        println!("{line}");
    }
}
