//! Recall against brute force on random and clustered data, duplicates,
//! pause/resume, repair after deletions, and the heuristic's basic
//! properties. Seeds are printed for replay.

use super::dedup::Values;
use crate::space::{f32_bytes, f32s, Space};
use super::*;
use crate::distance::{index_distance, Metric};
use crate::rng::Rng;

fn params(metric: Metric) -> Params {
    Params { m: 16, ef_construction: 64, metric, max_level: MAX_LEVEL }
}

fn random(n: usize, dim: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n * dim).map(|_| rng.normal() as f32).collect()
}

fn uniform(n: usize, dim: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n * dim).map(|_| rng.uniform() as f32).collect()
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
        out.extend((0..dim).map(|j| c[k * dim + j] + (0..SUB).map(|s| z[s] * basis[(k * SUB + s) * dim + j]).sum::<f32>()));
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

/// recall@k of the graph's search against brute force over `live` elements.
fn vec_of(graph: &MemGraph, i: usize) -> &[f32] {
    f32s(graph.value(i)).expect("aligned f32 value")
}

fn recall_over(graph: &MemGraph, live: &[usize], queries: &[f32], k: usize, ef: usize) -> f64 {
    let dim = graph.space.value_bytes() / 4;
    let mut scratch = Scratch::dense(graph.len());
    let mut hits = 0;
    let nq = queries.len() / dim;
    for q in queries.chunks(dim) {
        let mut exact: Vec<f64> = live.iter().map(|&i| index_distance(graph.params.metric, q, vec_of(graph, i))).collect();
        exact.sort_by(|a, b| a.total_cmp(b));
        let kth = exact[k.min(exact.len()) - 1];
        let got = graph.search(f32_bytes(q), k, ef, &mut scratch);
        // ties at the k-th distance count as hits
        hits += got.iter().filter(|c| c.dist <= kth).count();
    }
    hits as f64 / (nq * k) as f64
}

pub(super) fn recall(graph: &MemGraph, queries: &[f32], k: usize, ef: usize) -> f64 {
    let all: Vec<usize> = (0..graph.len()).collect();
    recall_over(graph, &all, queries, k, ef)
}

fn built_with(p: Params, data: &[f32], dim: usize, threads: usize, seed: u64) -> MemGraph {
    let mut g = MemGraph::from_f32(p, dim, data, seed);
    g.build(threads, &mut |_| true).unwrap();
    g
}

fn built(metric: Metric, data: &[f32], dim: usize, threads: usize) -> MemGraph {
    built_with(params(metric), data, dim, threads, 42)
}

/// Which elements a depth-first walk from the entry reaches on layer 0.
pub(super) fn reachable_at_layer0(g: &MemGraph) -> Vec<bool> {
    let mut seen = vec![false; g.len()];
    let Some((ep, _)) = g.entry() else { return seen };
    let mut stack = vec![ep as usize];
    seen[ep as usize] = true;
    while let Some(x) = stack.pop() {
        for n in g.neighbors(x, 0) {
            if !std::mem::replace(&mut seen[n as usize], true) {
                stack.push(n as usize);
            }
        }
    }
    seen
}

#[test]
fn recall_random_l2() {
    let seed = 1;
    println!("hnsw random seed {seed}");
    let mut rng = Rng::new(seed);
    let g = built(Metric::L2, &random(3000, 16, &mut rng), 16, 2);
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
        let g = built(metric, &data, 24, 2);
        let r = recall(&g, &queries, 10, 100);
        println!("recall@10 clustered {metric:?} ef=100: {r}");
        assert!(r >= 0.99, "{metric:?}: {r}");
    }
}

#[test]
fn many_identical_vectors_stay_reachable() {
    let seed = 3;
    println!("hnsw duplicates seed {seed}");
    let mut rng = Rng::new(seed);
    let dim = 16;
    let mut data = random(1500, dim, &mut rng);
    let dup: Vec<f32> = (0..dim).map(|_| rng.normal() as f32).collect();
    for _ in 0..800 {
        data.extend_from_slice(&dup);
    }
    let g = built(Metric::L2, &data, dim, 2);
    let r = recall(&g, &random(100, dim, &mut rng), 10, 100);
    println!("recall@10 with 800 duplicates: {r}");
    assert!(r >= 0.99, "{r}");
    let mut scratch = Scratch::dense(g.len());
    let at_dup = g.search(f32_bytes(&dup), 10, 40, &mut scratch);
    assert_eq!(at_dup.len(), 10);
    assert!(at_dup.iter().all(|c| c.dist == 0.0 && c.id >= 1500));
    let seen = reachable_at_layer0(&g);
    assert_eq!(seen.iter().filter(|s| !**s).count(), 0, "unreachable elements");
    // a wide search at the duplicate value finds every copy
    let all = g.search(f32_bytes(&dup), 800, 1000, &mut scratch);
    assert_eq!(all.iter().filter(|c| c.dist == 0.0).count(), 800);
}

#[test]
fn members_leave_duplicates_out_of_the_graph() {
    let mut rng = Rng::new(11);
    let dim = 8;
    let mut data = random(500, dim, &mut rng);
    let dup = data[..dim].to_vec();
    for _ in 0..25 {
        data.extend_from_slice(&dup);
    }
    let vectors = Values::from_f32(dim, &data);
    let groups = dedup::group_duplicates(&vectors);
    assert_eq!(groups.len(), 499 + 3, "500 distinct rows; 26 copies of row 0 in groups of 10, 10, 6");
    let members: Vec<u32> = groups.iter().map(|g| g[0]).collect();
    let mut g = MemGraph::with_members(params(Metric::L2), Space::F32 { metric: Metric::L2, dims: dim }, vectors, 1, members.clone());
    g.build(2, &mut |_| true).unwrap();
    for i in 0..g.len() {
        let linked = !g.neighbors(i, 0).is_empty();
        assert_eq!(linked, members.contains(&(i as u32)), "row {i}");
    }
}

#[test]
fn single_thread_and_tiny_graphs() {
    let mut rng = Rng::new(4);
    for n in [0usize, 1, 2, 5, 40] {
        let g = built(Metric::L2, &random(n, 8, &mut rng), 8, 1);
        let mut scratch = Scratch::dense(n.max(1));
        let q = random(1, 8, &mut rng);
        let got = g.search(f32_bytes(&q), 10, 40, &mut scratch);
        assert_eq!(got.len(), n.min(10), "n={n}");
        assert!(got.windows(2).all(|w| w[0].dist <= w[1].dist));
    }
}

#[test]
fn neighbor_lists_respect_capacity() {
    let mut rng = Rng::new(5);
    let g = built(Metric::L2, &random(2000, 8, &mut rng), 8, 2);
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
fn pausing_and_resuming_builds_the_same_quality() {
    let mut rng = Rng::new(6);
    let data = random(20000, 8, &mut rng);
    let queries = random(100, 8, &mut rng);
    let mut g = MemGraph::from_f32(params(Metric::L2), 8, &data, 1);
    let mut pauses = 0;
    loop {
        let mut calls = 0;
        match g.build(2, &mut |_| {
            calls += 1;
            calls < 3
        }) {
            Ok(()) => break,
            Err(BuildError::Paused) => pauses += 1,
            Err(e) => panic!("{e:?}"),
        }
        assert!(pauses < 10_000);
    }
    println!("resumed {pauses} times");
    assert!(pauses > 3, "the build should have been paused several times");
    assert_eq!(g.inserted(), 20000);
    assert_eq!(reachable_at_layer0(&g).iter().filter(|s| !**s).count(), 0);
    let r = recall(&g, &queries, 10, 100);
    let fresh = recall(&built(Metric::L2, &data, 8, 2), &queries, 10, 100);
    println!("recall@10 paused build {r}, uninterrupted {fresh}");
    assert!(r >= fresh - 0.01, "{r} vs {fresh}");
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
    let pos = [1.0f64, 1.1, -1.2];
    let cands: Vec<Candidate> = pos.iter().enumerate().map(|(i, p)| Candidate { dist: p.abs(), id: i as NodeId }).collect();
    let mut out = Vec::new();
    select_neighbors(&cands, 2, true, &mut |a, b| (pos[a as usize] - pos[b as usize]).abs(), &mut out);
    let ids: Vec<NodeId> = out.iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![0, 2]);
    // a candidate identical to a kept neighbour (a at 1, b at 1 too) only
    // fills a slot nothing else wants
    let pos = [1.0f64, 1.0, -2.0];
    let cands: Vec<Candidate> = pos.iter().enumerate().map(|(i, p)| Candidate { dist: p.abs(), id: i as NodeId }).collect();
    select_neighbors(&cands, 2, true, &mut |a, b| (pos[a as usize] - pos[b as usize]).abs(), &mut out);
    assert_eq!(out.iter().map(|c| c.id).collect::<Vec<_>>(), vec![0, 2]);
    select_neighbors(&cands, 3, true, &mut |a, b| (pos[a as usize] - pos[b as usize]).abs(), &mut out);
    assert_eq!(out.iter().map(|c| c.id).collect::<Vec<_>>(), vec![0, 2, 1]);
    // copies of the base itself (distance 0) are kept up to half the list,
    // never more: the rest of the list stays for links out of the pile
    let pos = [0.0f64, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0, -3.0];
    let cands: Vec<Candidate> = pos.iter().enumerate().map(|(i, p)| Candidate { dist: p.abs(), id: i as NodeId }).collect();
    select_neighbors(&cands, 8, true, &mut |a, b| (pos[a as usize] - pos[b as usize]).abs(), &mut out);
    assert_eq!(out.iter().filter(|c| c.dist == 0.0).count(), 4);
    assert_eq!(out.len(), 6, "4 copies and the two diverse neighbours");
    // without dedup (inner product) identical vectors are ordinary candidates
    select_neighbors(&cands, 8, false, &mut |a, b| (pos[a as usize] - pos[b as usize]).abs(), &mut out);
    assert_eq!(out.len(), 8);
    // unreadable candidates (NaN) are never chosen; a candidate at +inf (a
    // distance that overflowed) is a real, farthest one
    let bad = [Candidate { dist: f64::NAN, id: 1 }];
    select_neighbors(&bad, 2, true, &mut |_, _| 1.0, &mut out);
    assert!(out.is_empty());
    let far = [Candidate { dist: 1.0, id: 0 }, Candidate { dist: f64::INFINITY, id: 1 }];
    select_neighbors(&far, 2, true, &mut |_, _| f64::INFINITY, &mut out);
    assert_eq!(out.len(), 2);
}

#[test]
fn every_element_reachable_after_build() {
    let mut rng = Rng::new(9);
    let mut draws = Rng::new(10);
    let g = built(Metric::L2, &clustered(4000, 16, 40, &mut rng, &mut draws), 16, 2);
    assert_eq!(reachable_at_layer0(&g).iter().filter(|s| !**s).count(), 0, "unreachable at layer 0");
}

/// Deletes `frac` of the rows, repairs, and compares recall@k with a fresh
/// build over the surviving rows.
fn repair_vs_fresh(p: Params, data: &[f32], dim: usize, queries: &[f32], frac: f64, k: usize, ef: usize, seed: u64) -> (f64, f64) {
    let n = data.len() / dim;
    let g = built_with(p, data, dim, 2, seed);
    let mut rng = Rng::new(seed ^ 0xdead);
    let mut live = Vec::new();
    let mut kept = Vec::new();
    for i in 0..n {
        if rng.uniform() < frac {
            g.mark_deleted(i);
        } else {
            live.push(i);
            kept.extend_from_slice(&data[i * dim..(i + 1) * dim]);
        }
    }
    g.repair_deleted();
    let after = recall_over(&g, &live, queries, k, ef);
    let fresh = built_with(p, &kept, dim, 2, seed);
    let all: Vec<usize> = (0..fresh.len()).collect();
    (after, recall_over(&fresh, &all, queries, k, ef))
}

#[test]
fn repair_keeps_recall_after_heavy_deletes_at_low_m() {
    // the case: 10,000 random 3-d vectors, m = 4, ef_construction = 8,
    // delete 75 %, recall@20 at ef_search = 20
    let seed = 12;
    println!("repair seed {seed}");
    let p = Params { m: 4, ef_construction: 8, metric: Metric::L2, max_level: MAX_LEVEL };
    let mut rng = Rng::new(seed);
    let data = uniform(10_000, 3, &mut rng);
    let queries = uniform(300, 3, &mut rng);
    for frac in [0.1, 0.25, 0.75] {
        let (after, fresh) = repair_vs_fresh(p, &data, 3, &queries, frac, 20, 20, seed);
        println!("random 3-d m=4 delete {frac}: recall@20 after repair {after:.4}, fresh build {fresh:.4}");
        assert!(after >= fresh - 0.02, "delete {frac}: {after} vs fresh {fresh}");
    }
}

#[test]
fn repair_keeps_recall_on_clustered_data() {
    let seed = 13;
    for (m, efc) in [(4, 8), (16, 64)] {
        let p = Params { m, ef_construction: efc, metric: Metric::L2, max_level: MAX_LEVEL };
        let mut draws = Rng::new(seed + 1);
        let data = clustered(8000, 16, 20, &mut Rng::new(seed), &mut draws);
        let queries = clustered(300, 16, 20, &mut Rng::new(seed), &mut draws);
        for frac in [0.1, 0.25, 0.5, 0.75] {
            let (after, fresh) = repair_vs_fresh(p, &data, 16, &queries, frac, 10, 40, seed);
            println!("clustered 16-d m={m} delete {frac}: recall@10 after repair {after:.4}, fresh {fresh:.4}");
            assert!(after >= fresh - 0.02, "m={m} frac={frac}: {after} vs fresh {fresh}");
        }
    }
}

#[test]
fn concurrent_builds_keep_lists_consistent() {
    // many workers racing on the same lists: no self links, no duplicates
    // within a list, capacity respected, everything reachable
    let mut rng = Rng::new(14);
    let p = Params { m: 4, ef_construction: 16, metric: Metric::L2, max_level: MAX_LEVEL };
    let data = uniform(6000, 2, &mut rng);
    let g = built_with(p, &data, 2, 8, 3);
    for i in 0..g.len() {
        for layer in 0..=g.level(i) {
            let list = g.neighbors(i, layer);
            assert!(list.len() <= p.max_neighbors(layer), "element {i} layer {layer}: {}", list.len());
            assert!(!list.contains(&(i as u32)));
            let mut s = list.clone();
            s.sort();
            s.dedup();
            assert_eq!(s.len(), list.len(), "duplicate link in {i}");
        }
    }
    assert_eq!(reachable_at_layer0(&g).iter().filter(|s| !**s).count(), 0);
}

#[test]
fn late_inserts_of_identical_vectors_stay_reachable() {
    // what aminsert does with a pile of duplicates: every copy must stay
    // reachable without the build's final reachability pass
    let seed = 15;
    let mut rng = Rng::new(seed);
    let dim = 8;
    let mut data = random(300, dim, &mut rng);
    let dup: Vec<f32> = (0..dim).map(|_| rng.normal() as f32).collect();
    for _ in 0..300 {
        data.extend_from_slice(&dup);
    }
    for m in [4, 16] {
        let p = Params { m, ef_construction: 2 * m.max(16), metric: Metric::L2, max_level: MAX_LEVEL };
        let mut g = MemGraph::with_members(p, Space::F32 { metric: Metric::L2, dims: dim }, Values::from_f32(dim, &data), seed, (0..200).collect());
        g.build(1, &mut |_| true).unwrap();
        let mut scratch = Scratch::dense(g.len());
        for q in 200..600 {
            g.insert_late(q, &mut scratch);
        }
        let seen = reachable_at_layer0(&g);
        let lost: Vec<usize> = (0..600).filter(|&i| !seen[i]).collect();
        println!("m={m}: {} of 600 unreachable after late inserts", lost.len());
        assert!(lost.is_empty(), "m={m}: unreachable {lost:?}");
        let found = g.search(f32_bytes(&dup), 300, 1000, &mut scratch);
        assert_eq!(found.iter().filter(|c| c.dist == 0.0).count(), 300, "m={m}");
    }
}

#[test]
fn inner_product_recall_with_rows_grouped_by_cluster() {
    // rows arrive cluster after cluster (a table filled by a join); under
    // inner product a third of the elements are nobody's neighbour, and
    // forcing links to them cost 0.1 of recall@10
    let mut rng = Rng::new(16);
    let dim = 16;
    let centers: Vec<Vec<f32>> = (0..50).map(|_| (0..dim).map(|_| rng.uniform() as f32 * 6.0).collect()).collect();
    let mut data = Vec::new();
    for c in &centers {
        for _ in 0..100 {
            data.extend(c.iter().map(|x| x + rng.uniform() as f32 * 2.0 - 1.0));
        }
    }
    let mut queries = Vec::new();
    for q in 0..200 {
        queries.extend(centers[(q * 7) % 50].iter().map(|x| x + rng.uniform() as f32 * 2.0 - 1.0));
    }
    let g = built_with(params(Metric::InnerProduct), &data, dim, 1, 0x4853_4e57);
    let (r40, r100) = (recall(&g, &queries, 10, 40), recall(&g, &queries, 10, 100));
    println!("inner product, rows grouped by cluster: recall@10 {r40:.4} at ef 40, {r100:.4} at ef 100");
    assert!(r40 >= 0.88 && r100 >= 0.95, "{r40} {r100}");
}

/// StreamSearch before elements were deferred (e040034's parent): far
/// elements joined the frontier, far results went pending through the
/// results heap. The batches must be the same, element for element.
fn undeferred_batches<S: Source>(src: &mut S, entries: &[Candidate], ef: usize, max_visits: usize, batches: usize) -> Vec<Vec<Candidate>> {
    use std::cmp::Reverse;
    use std::collections::{BinaryHeap, HashSet};
    let mut visited = HashSet::new();
    let (mut frontier, mut pending) = (BinaryHeap::new(), BinaryHeap::new());
    let mut visits = entries.len();
    for &e in entries {
        if !unusable(e.dist) && visited.insert(e.id) {
            frontier.push(Reverse(e));
            if src.is_result(e.id) {
                pending.push(Reverse(e));
            }
        }
    }
    let mut all = Vec::new();
    for _ in 0..batches {
        let mut results: BinaryHeap<Candidate> = BinaryHeap::new();
        while results.len() < ef {
            match pending.pop() {
                Some(Reverse(c)) => results.push(c),
                None => break,
            }
        }
        while let Some(&Reverse(c)) = frontier.peek() {
            if results.len() >= ef && results.peek().is_some_and(|w: &Candidate| c.dist > w.dist) || visits >= max_visits {
                break;
            }
            frontier.pop();
            let mut buf = Vec::new();
            src.neighbors(c.id, 0, &mut buf);
            let ids: Vec<NodeId> = buf.into_iter().filter(|&id| visited.insert(id)).collect();
            visits += ids.len();
            let mut dists = Vec::new();
            src.distances(&ids, 0, f64::INFINITY, &mut dists);
            for (&id, &dist) in ids.iter().zip(&dists) {
                if unusable(dist) {
                    continue;
                }
                let cand = Candidate { dist, id };
                frontier.push(Reverse(cand));
                if src.is_result(id) {
                    results.push(cand);
                    if results.len() > ef {
                        let far = results.pop().unwrap();
                        pending.push(Reverse(far));
                    }
                }
            }
        }
        let mut out: Vec<Candidate> = results.into_vec();
        out.sort();
        if let Some(worst) = out.last().map(|c| c.dist) {
            while let Some(&Reverse(c)) = pending.peek() {
                if c.dist > worst {
                    break;
                }
                pending.pop();
                out.push(c);
            }
        }
        all.push(out);
    }
    all
}

#[test]
fn stream_batches_match_the_undeferred_search() {
    let seed = 31;
    println!("hnsw random seed {seed}");
    let mut rng = Rng::new(seed);
    let dim = 4;
    let data = random(1500, dim, &mut rng);
    let g = built_with(Params { m: 4, ..params(Metric::L2) }, &data, dim, 1, seed);
    for i in (0..g.len()).step_by(7) {
        g.mark_deleted(i);
    }
    let queries = random(12, dim, &mut rng);
    let mut scratch = Scratch::dense(g.len());
    for (qi, q) in queries.chunks(dim).enumerate() {
        for &(ef, max_visits) in &[(1, usize::MAX), (5, usize::MAX), (10, usize::MAX), (10, 300)] {
            let mut src = g.store(f32_bytes(q), None);
            let (ep, top) = g.entry().unwrap();
            let start = Candidate { dist: src.distance(ep as NodeId, top, f64::INFINITY), id: ep as NodeId };
            let entry = greedy_descent(&mut src, start, top, 0, &mut scratch);
            let want = undeferred_batches(&mut src, &[entry, start], ef, max_visits, 1600);
            let mut stream = StreamSearch::default();
            stream.start(&mut src, &[entry, start]);
            let mut seen = std::collections::HashSet::new();
            for (b, w) in want.iter().enumerate() {
                let mut out = Vec::new();
                stream.next_batch(&mut src, ef, max_visits, &mut out);
                let key = |v: &[Candidate]| v.iter().map(|c| (c.id, c.dist.to_bits())).collect::<Vec<_>>();
                assert_eq!(key(&out), key(w), "query {qi} ef {ef} max_visits {max_visits} batch {b}");
                for c in &out {
                    assert!(seen.insert(c.id), "query {qi} ef {ef}: element {} returned twice", c.id);
                }
            }
            if max_visits == usize::MAX {
                // every live element is returned once
                assert_eq!(seen.len(), g.len() - g.len().div_ceil(7), "query {qi} ef {ef}");
            }
        }
    }
}

/// A back-link the heuristic refuses on a list full to its build slack
/// still leaves the list pruned (to capacity and the nearest of the rest,
/// up to half the slack): the pruning was computed, and keeping the full
/// list would have every later back-link to a popular element (a hub under
/// L2) prune it again, for nothing.
#[test]
fn refused_backlink_prunes_a_full_list() {
    let p = params(Metric::L2);
    let cap = p.max_neighbors(0);
    // 1-d points: node 0 at 0, its list the next 47 points, then a far one
    let data: Vec<f32> = (0..50).map(|i| if i == 49 { 1000.0 } else { i as f32 }).collect();
    let g = MemGraph::from_f32(p, 1, &data, 1);
    let slack = MemGraph::slack(p.m);
    let full: Vec<u32> = (1..=(cap + slack) as u32).collect();
    g.links.set(0, 0, &full);
    let policy = LinkPolicy { slack, rescue_budget: 0 };
    let mut store = g.store(&[], None);
    let far = 49;
    let d = store.between(0, far);
    let back = insert::Back { new: far, dist: d, layer: 0, force: false, new_links: &[], keep: &[], strict: false };
    let r = insert::add_backlink(&mut store, 0, &back, &p, &policy);
    assert!(!r.held, "the far point is not a neighbour worth keeping");
    let after = g.neighbors(0, 0);
    assert_eq!(after.len(), cap + slack / 2, "{after:?}");
    assert!(after.iter().all(|x| full.contains(x)));
    assert_eq!(r.dropped.len(), slack - slack / 2, "what the pruning dropped is reported");
    // the farthest links went: what stays is the heuristic's choice and
    // the nearest of the others
    let kept_far = after.iter().filter(|&&x| x as usize > cap + slack / 2).count();
    assert!(kept_far <= cap, "{after:?}");
}

