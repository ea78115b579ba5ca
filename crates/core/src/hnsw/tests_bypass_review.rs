//! Adversarial review of the on-disk insert's pruning (`bypass.rs`,
//! `insert.rs`'s rescue): data built to make prunings hard to prove (ties,
//! piles of identical vectors, 1-d and 2-d grids, m = 4, inner product),
//! inserted late (`insert_late`) from a one-element build, then checked:
//! every element must stay reachable on layer 0 from the entry.

use super::dedup::Values;
use super::tests::{reachable_at_layer0, recall};
use super::*;
use crate::distance::Metric;
use crate::rng::Rng;
use crate::space::Space;

/// Builds `base` members on one thread, inserts the rest late one by one
/// (on `threads` threads, each taking every `threads`-th row); returns
/// the graph and how many elements are unreachable.
fn late(p: Params, dim: usize, flat: &[f32], base: usize, seed: u64, threads: usize) -> (MemGraph, usize) {
    let n = flat.len() / dim;
    let mut g = MemGraph::with_members(p, Space::F32 { metric: p.metric, dims: dim }, Values::from_f32(dim, flat), seed, (0..base as u32).collect());
    g.build(1, &mut |_| true).unwrap();
    let built = reachable_at_layer0(&g).iter().take(base).filter(|s| !**s).count();
    if built > 0 {
        println!("  ({built} of the {base} built unreachable before any late insert)");
    }
    if threads <= 1 {
        let mut scratch = Scratch::dense(n);
        for q in base..n {
            g.insert_late(q, &mut scratch);
        }
    } else {
        std::thread::scope(|s| {
            for t in 0..threads {
                let g = &g;
                s.spawn(move || {
                    let mut scratch = Scratch::dense(n);
                    for q in (base + t..n).step_by(threads) {
                        g.insert_late(q, &mut scratch);
                    }
                });
            }
        });
    }
    let lost = reachable_at_layer0(&g).iter().filter(|s| !**s).count();
    (g, lost)
}

fn p(m: usize, ef: usize, metric: Metric) -> Params {
    Params { m, ef_construction: ef, metric, max_level: MAX_LEVEL }
}

/// Runs `data` (dim) for m 4 and 16 over three level seeds; returns the
/// total unreachable and prints each.
fn sweep(name: &str, metric: Metric, dim: usize, data: &[f32], base: usize, threads: usize) -> usize {
    let mut total = 0;
    for m in [4, 16] {
        for seed in [1u64, 2, 3] {
            let (_, lost) = late(p(m, 2 * m.max(8), metric), dim, data, base, seed, threads);
            println!("{name} {metric:?} m={m} seed {seed} threads {threads}: {lost} of {} unreachable", data.len() / dim);
            total += lost;
        }
    }
    total
}

/// 1-d integer values 0..10: every distance is one of ten, every list
/// full of ties.
fn one_d_ties(n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n).map(|_| rng.below(10) as f32).collect()
}

/// 2-d integer grid points 0..8 x 0..8 drawn with repetition.
fn grid_2d(n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..2 * n).map(|_| rng.below(8) as f32).collect()
}

/// `piles` distinct random 8-d vectors, each repeated `k` times, in
/// random order.
fn piles(piles: usize, k: usize, rng: &mut Rng) -> Vec<f32> {
    let distinct: Vec<Vec<f32>> = (0..piles).map(|_| (0..8).map(|_| rng.normal() as f32).collect()).collect();
    let mut order: Vec<usize> = (0..piles * k).map(|i| i % piles).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    order.iter().flat_map(|&i| distinct[i].clone()).collect()
}

#[test]
fn review_late_inserts_of_ties_stay_reachable() {
    let mut rng = Rng::new(77);
    let mut total = 0;
    let d1 = one_d_ties(2000, &mut rng);
    let d2 = grid_2d(2000, &mut rng);
    let pl = piles(20, 100, &mut rng);
    for metric in [Metric::L2, Metric::L1] {
        total += sweep("1-d ties", metric, 1, &d1, 1, 1);
        total += sweep("2-d grid", metric, 2, &d2, 1, 1);
    }
    total += sweep("piles 20x100", Metric::L2, 8, &pl, 1, 1);
    total += sweep("piles 20x100", Metric::Cosine, 8, &pl, 1, 1);
    assert_eq!(total, 0, "unreachable after late inserts of ties");
}

#[test]
fn review_late_inserts_inner_product_stay_reachable() {
    let mut rng = Rng::new(78);
    let mut total = 0;
    let random: Vec<f32> = (0..2000 * 8).map(|_| rng.normal() as f32).collect();
    let pl = piles(20, 100, &mut rng);
    let d2 = grid_2d(2000, &mut rng);
    total += sweep("random 8-d", Metric::InnerProduct, 8, &random, 1, 1);
    total += sweep("piles 20x100", Metric::InnerProduct, 8, &pl, 1, 1);
    total += sweep("2-d grid", Metric::InnerProduct, 2, &d2, 1, 1);
    assert_eq!(total, 0, "unreachable after late inserts under inner product");
}

/// Known defect, narrowed: a pruning's proof (node -> w -> t) reads w's
/// list without holding it, so two inserts pruning w and node at once can
/// each drop t on the strength of the other's list as it was. Each
/// pruning now reads its proofs' lists again once its own list is written
/// (a full fence between: of two such prunings one sees the other's
/// write), and rescues what lost its path; rescues left over when the
/// budget is spent (concurrent inserts' rescues chase each other) take
/// only links that orphan nothing. 4 threads, m=4, 1-d ties and piles,
/// three runs: 21-24 of 24,000 rows unreachable (before: 91-140; without
/// the second reads 50-103). m=16 and 8-d uniform rows lose none.
#[test]
#[ignore = "known defect: concurrent prunings prove paths through each other's stale lists"]
fn review_concurrent_late_inserts_stay_reachable() {
    let mut rng = Rng::new(79);
    let mut total = 0;
    let d1 = one_d_ties(4000, &mut rng);
    let pl = piles(20, 200, &mut rng);
    let random: Vec<f32> = (0..4000 * 8).map(|_| rng.uniform() as f32).collect();
    total += sweep("1-d ties", Metric::L2, 1, &d1, 1, 4);
    total += sweep("piles 20x200", Metric::L2, 8, &pl, 1, 4);
    total += sweep("uniform 8-d", Metric::L2, 8, &random, 1, 4);
    assert_eq!(total, 0, "unreachable after concurrent late inserts");
}

/// Inner product: recall of late inserts (prints; compare across commits).
#[test]
#[ignore = "prints recall; compare across commits"]
fn review_inner_product_late_insert_recall() {
    let dim = 16;
    let mut rng = Rng::new(16);
    // rows grouped by cluster, as tests.rs's inner product test
    let centers: Vec<Vec<f32>> = (0..50).map(|_| (0..dim).map(|_| rng.uniform() as f32 * 6.0).collect()).collect();
    let mut grouped = Vec::new();
    for c in &centers {
        for _ in 0..100 {
            grouped.extend(c.iter().map(|x| x + rng.uniform() as f32 * 2.0 - 1.0));
        }
    }
    let mut gq = Vec::new();
    for q in 0..200 {
        gq.extend(centers[(q * 7) % 50].iter().map(|x| x + rng.uniform() as f32 * 2.0 - 1.0));
    }
    let random: Vec<f32> = (0..5000 * dim).map(|_| rng.normal() as f32).collect();
    let rq: Vec<f32> = (0..200 * dim).map(|_| rng.normal() as f32).collect();
    for (name, data, queries) in [("grouped", &grouped, &gq), ("normal", &random, &rq)] {
        for base in [1, 2500] {
            let (g, lost) = late(p(16, 64, Metric::InnerProduct), dim, data, base, 0x4853_4e57, 1);
            let r: Vec<String> = [10, 40, 100].map(|ef| format!("{:.3}", recall(&g, queries, 10, ef))).to_vec();
            println!("IP {name} built {base}, rest late: {lost} unreachable, recall@10 ef 10/40/100 {}", r.join("/"));
        }
    }
}

/// Deleted elements are still traversed until VACUUM, so a pruning that
/// drops a link to one (`bypassed`: "a dead t needs no path") may strand
/// what only that element linked to. Built, a third deleted, more rows
/// inserted late: live elements unreachable (through dead ones too)?
/// When written, 1-d ties at m=4 lost 1 live element; later changes to the
/// insert's pruning and rescue made that none (so at f339c34~1 and since),
/// and it runs as a guard.
#[test]
fn review_late_inserts_after_deletes_keep_live_reachable() {
    let mut rng = Rng::new(80);
    let mut bad = Vec::new();
    for (name, dim, data) in [("uniform 8-d", 8, (0..3000 * 8).map(|_| rng.uniform() as f32).collect::<Vec<f32>>()), ("1-d ties", 1, one_d_ties(3000, &mut rng))] {
        for m in [4, 16] {
            let pp = p(m, 2 * m.max(8), Metric::L2);
            let mut g = MemGraph::with_members(pp, Space::F32 { metric: pp.metric, dims: dim }, Values::from_f32(dim, &data), 5, (0..1500).collect());
            g.build(1, &mut |_| true).unwrap();
            let (ep, _) = g.entry().expect("entry");
            for i in (0..1500).filter(|&i| i % 3 == 0 && i != ep as usize) {
                g.mark_deleted(i);
            }
            let mut scratch = Scratch::dense(g.len());
            for q in 1500..g.len() {
                g.insert_late(q, &mut scratch);
            }
            let seen = reachable_at_layer0(&g);
            let lost = (0..g.len()).filter(|&i| !seen[i] && !g.deleted[i].load(std::sync::atomic::Ordering::Relaxed)).count();
            println!("{name} m={m}: {lost} live of {} unreachable after deletes and late inserts", g.len() - 500);
            if lost > 0 {
                bad.push((name, m, lost));
            }
        }
    }
    assert!(bad.is_empty(), "{bad:?}");
}
