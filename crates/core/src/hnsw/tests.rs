//! Recall against brute force on random and clustered data, duplicates, and
//! the heuristic's basic properties. Seeds are printed for replay.

use super::*;
use crate::distance::{index_distance, Metric};
use crate::rng::Rng;

fn params(metric: Metric) -> Params {
    Params { m: 16, ef_construction: 64, metric, max_level: MAX_LEVEL }
}

fn random(n: usize, dim: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n * dim).map(|_| rng.normal() as f32).collect()
}

/// Points in `centers` blobs, each spread over its own random 6-dimensional
/// subspace (real embeddings lie on such low-dimensional pieces). The rng
/// must be seeded the same for data and queries to share the blobs.
fn clustered(n: usize, dim: usize, centers: usize, rng: &mut Rng, draws: &mut Rng) -> Vec<f32> {
    const SUB: usize = 6;
    let c = random(centers, dim, rng);
    let basis = random(centers * SUB, dim, rng);
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let k = draws.below(centers as u64) as usize;
        let z: Vec<f32> = (0..SUB).map(|_| 0.3 * draws.normal() as f32).collect();
        out.extend((0..dim).map(|j| {
            c[k * dim + j] + (0..SUB).map(|s| z[s] * basis[(k * SUB + s) * dim + j]).sum::<f32>()
        }));
    }
    out
}

fn normalize(v: &mut [f32], dim: usize) {
    for x in v.chunks_mut(dim) {
        let n = x.iter().map(|a| a * a).sum::<f32>().sqrt();
        if n > 0.0 {
            x.iter_mut().for_each(|a| *a /= n);
        }
    }
}

fn recall(graph: &MemGraph, queries: &[f32], k: usize, ef: usize) -> f64 {
    let dim = graph.dim;
    let mut scratch = Scratch::dense(graph.len());
    let mut hits = 0;
    let nq = queries.len() / dim;
    for q in queries.chunks(dim) {
        let mut exact: Vec<(f32, usize)> = (0..graph.len())
            .map(|i| (index_distance(graph.params.metric, q, graph.vector(i)), i))
            .collect();
        exact.sort_by(|a, b| a.0.total_cmp(&b.0));
        let kth = exact[k - 1].0;
        let got = graph.search(q, k, ef, &mut scratch);
        // ties at the k-th distance count as hits
        hits += got.iter().filter(|c| c.dist <= kth).count();
    }
    hits as f64 / (nq * k) as f64
}

fn built(metric: Metric, data: Vec<f32>, dim: usize, threads: usize) -> MemGraph {
    let g = MemGraph::new(params(metric), dim, data, 42);
    g.build(threads, &mut |_| true).unwrap();
    g
}

#[test]
fn recall_random_l2() {
    let seed = 1;
    println!("hnsw random seed {seed}");
    let mut rng = Rng::new(seed);
    let g = built(Metric::L2, random(3000, 16, &mut rng), 16, 2);
    let r = recall(&g, &random(200, 16, &mut rng), 10, 100);
    println!("recall@10 random L2 ef=100: {r}");
    assert!(r >= 0.99, "{r}");
}

#[test]
fn recall_clustered_all_metrics() {
    let seed = 2;
    println!("hnsw clustered seed {seed}");
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct, Metric::L1] {
        let mut draws = Rng::new(seed + 100);
        let mut data = clustered(3000, 24, 30, &mut Rng::new(seed), &mut draws);
        let mut queries = clustered(100, 24, 30, &mut Rng::new(seed), &mut draws);
        if metric.normalizes() {
            normalize(&mut data, 24);
            normalize(&mut queries, 24);
        }
        let g = built(metric, data, 24, 2);
        let r = recall(&g, &queries, 10, 100);
        println!("recall@10 clustered {metric:?} ef=100: {r}");
        assert!(r >= 0.99, "{metric:?}: {r}");
    }
}

#[test]
fn many_identical_vectors() {
    let seed = 3;
    println!("hnsw duplicates seed {seed}");
    let mut rng = Rng::new(seed);
    let dim = 16;
    let mut data = random(1500, dim, &mut rng);
    let dup: Vec<f32> = (0..dim).map(|_| rng.normal() as f32).collect();
    for _ in 0..800 {
        data.extend_from_slice(&dup);
    }
    let g = built(Metric::L2, data, dim, 2);
    let r = recall(&g, &random(100, dim, &mut rng), 10, 100);
    println!("recall@10 with 800 duplicates: {r}");
    assert!(r >= 0.99, "{r}");
    let mut scratch = Scratch::dense(g.len());
    let at_dup = g.search(&dup, 10, 40, &mut scratch);
    assert_eq!(at_dup.len(), 10);
    assert!(at_dup.iter().all(|c| c.dist == 0.0 && c.id >= 1500));
    // every element stays reachable from the entry point
    let (ep, top) = g.entry().unwrap();
    let mut seen = vec![false; g.len()];
    let mut stack = vec![ep as usize];
    seen[ep as usize] = true;
    while let Some(x) = stack.pop() {
        for layer in 0..=g.level(x).min(top) {
            for n in g.neighbors(x, layer) {
                if !std::mem::replace(&mut seen[n as usize], true) {
                    stack.push(n as usize);
                }
            }
        }
    }
    // distinct vectors stay reachable as in a graph without duplicates
    // (HNSW leaves a few elements without incoming links); duplicates are
    // interchangeable: a query at their value gets k of them, checked above
    let distinct = seen[..1500].iter().filter(|s| **s).count();
    assert!(distinct >= 1492, "only {distinct} of 1500 distinct vectors reachable");
    assert!(seen[1500..].iter().any(|s| *s));
}

#[test]
fn single_thread_and_tiny_graphs() {
    let mut rng = Rng::new(4);
    for n in [0usize, 1, 2, 5, 40] {
        let g = built(Metric::L2, random(n, 8, &mut rng), 8, 1);
        let mut scratch = Scratch::dense(n.max(1));
        let q = random(1, 8, &mut rng);
        let got = g.search(&q, 10, 40, &mut scratch);
        assert_eq!(got.len(), n.min(10), "n={n}");
        assert!(got.windows(2).all(|w| w[0].dist <= w[1].dist));
    }
}

#[test]
fn neighbor_lists_respect_capacity() {
    let mut rng = Rng::new(5);
    let g = built(Metric::L2, random(2000, 8, &mut rng), 8, 2);
    for i in 0..g.len() {
        for layer in 0..=g.level(i) {
            let list = g.neighbors(i, layer);
            assert!(list.len() <= g.params.max_neighbors(layer));
            if layer == 0 {
                assert!(list.len() >= 8, "element {i} has only {} neighbours", list.len());
            }
            assert!(!list.contains(&(i as u32)), "self link at {i}");
        }
    }
}

#[test]
fn cancel_stops_build() {
    let mut rng = Rng::new(6);
    let g = MemGraph::new(params(Metric::L2), 8, random(20000, 8, &mut rng), 1);
    let mut calls = 0;
    let res = g.build(2, &mut |_| {
        calls += 1;
        calls < 2
    });
    assert_eq!(res, Err(super::build::BuildError::Cancelled));
}

#[test]
fn levels_follow_ml() {
    let p = params(Metric::L2);
    assert_eq!(p.level_for(1.0), 0);
    assert_eq!(p.level_for(1.0 / 16.0), 1);
    assert_eq!(p.level_for(1.0 / 300.0), 2);
    assert_eq!(p.level_for(1e-300), MAX_LEVEL);
}

#[test]
fn heuristic_prefers_diverse_neighbors() {
    // base at 0; a at 1, b at 1.1 (right behind a), c at -1.2 (other side)
    let pos = [1.0f32, 1.1, -1.2];
    let cands: Vec<Candidate> = pos.iter().enumerate().map(|(i, p)| Candidate { dist: p.abs(), id: i as NodeId }).collect();
    let mut out = Vec::new();
    select_neighbors(&cands, 2, true, &mut |a, b| (pos[a as usize] - pos[b as usize]).abs(), &mut out);
    let ids: Vec<NodeId> = out.iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![0, 2]);
    // an exact duplicate of a kept neighbour is dropped when dedup is on
    let dup = [Candidate { dist: 0.0, id: 0 }, Candidate { dist: 0.0, id: 1 }];
    select_neighbors(&dup, 2, true, &mut |_, _| 0.0, &mut out);
    assert_eq!(out.len(), 1);
    select_neighbors(&dup, 2, false, &mut |_, _| 0.0, &mut out);
    assert_eq!(out.len(), 2);
}


#[test]
fn every_element_reachable_after_build() {
    let mut rng = Rng::new(9);
    let mut draws = Rng::new(10);
    let g = built(Metric::L2, clustered(4000, 16, 40, &mut rng, &mut draws), 16, 2);
    let (ep, _) = g.entry().unwrap();
    let mut seen = vec![false; g.len()];
    let mut stack = vec![ep as usize];
    seen[ep as usize] = true;
    while let Some(x) = stack.pop() {
        for n in g.neighbors(x, 0) {
            if !std::mem::replace(&mut seen[n as usize], true) {
                stack.push(n as usize);
            }
        }
    }
    assert_eq!(seen.iter().filter(|s| !**s).count(), 0, "unreachable at layer 0");
}


#[test]
fn id_hasher_spreads_disk_ids_over_low_bits() {
    use std::hash::{BuildHasher, BuildHasherDefault};
    let b = BuildHasherDefault::<search::IdHasher>::default();
    // ids as the disk layer makes them: block << 16 | offset, offsets 1..8
    let mut buckets = std::collections::HashSet::new();
    for block in 1..512u64 {
        for off in 1..8u64 {
            buckets.insert(b.hash_one((block << 16) | off) & 1023);
        }
    }
    assert!(buckets.len() > 900, "only {} of 1024 low-bit buckets used", buckets.len());
}
