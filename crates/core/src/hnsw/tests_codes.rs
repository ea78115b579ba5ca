//! Builds that search on codes (see [`super::codes`]) against exact
//! builds of the same data: recall, reachability and list capacity.

use super::*;
use crate::distance::{index_distance, Metric};
use crate::rng::Rng;
use crate::space::{f32_bytes, f32s};

const DIM: usize = 64;

/// Points in blobs, each spread over its own random 6-dimensional
/// subspace (as real embeddings are); `rng` seeded alike for data and
/// queries.
fn clustered(n: usize, centers: usize, rng: &mut Rng, draws: &mut Rng, unit: bool) -> Vec<f32> {
    const SUB: usize = 6;
    let c: Vec<f32> = (0..centers * DIM).map(|_| rng.normal() as f32).collect();
    let basis: Vec<f32> = (0..centers * SUB * DIM).map(|_| rng.normal() as f32).collect();
    let mut out = Vec::with_capacity(n * DIM);
    for _ in 0..n {
        let k = draws.below(centers as u64) as usize;
        let z: Vec<f32> = (0..SUB).map(|_| 0.3 * draws.normal() as f32).collect();
        let mut x: Vec<f32> = (0..DIM).map(|j| c[k * DIM + j] + (0..SUB).map(|s| z[s] * basis[(k * SUB + s) * DIM + j]).sum::<f32>()).collect();
        if unit {
            let norm = x.iter().map(|a| a * a).sum::<f32>().sqrt();
            x.iter_mut().for_each(|a| *a /= norm);
        }
        out.extend(x);
    }
    out
}

/// recall@k against brute force (ties at the k-th distance count).
fn recall(g: &MemGraph, queries: &[f32], k: usize, ef: usize) -> f64 {
    let mut scratch = Scratch::dense(g.len());
    let mut hits = 0;
    for q in queries.chunks(DIM) {
        let mut exact: Vec<f64> =
            (0..g.len()).map(|i| index_distance(g.params.metric, q, f32s(g.value(i)).expect("f32"))).collect();
        exact.sort_by(|a, b| a.total_cmp(b));
        let kth = exact[k - 1];
        hits += g.search(f32_bytes(q), k, ef, &mut scratch).iter().filter(|c| c.dist <= kth).count();
    }
    hits as f64 / (queries.len() / DIM * k) as f64
}

fn build(metric: Metric, data: &[f32], codes: bool) -> MemGraph {
    let p = Params { m: 8, ef_construction: 40, metric, max_level: MAX_LEVEL };
    let mut g = MemGraph::from_f32(p, DIM, data, 42);
    assert_eq!(g.set_codes(codes), codes);
    g.build(1, &mut |_| true).expect("build");
    g
}

/// Searching on codes while building loses no recall: every metric with
/// codes, a low ef so differences show (one thread: reproducible).
#[test]
fn code_builds_keep_the_exact_builds_recall() {
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
        let unit = metric == Metric::Cosine;
        let mut draws = Rng::new(31);
        let data = clustered(4000, 40, &mut Rng::new(3), &mut draws, unit);
        let queries = clustered(150, 40, &mut Rng::new(3), &mut draws, unit);
        let exact = build(metric, &data, false);
        let coded = build(metric, &data, true);
        // `build` asserted the codes were on; a finished build drops them
        assert!(!coded.uses_codes() && !exact.uses_codes());
        for ef in [10, 40] {
            let (re, rc) = (recall(&exact, &queries, 10, ef), recall(&coded, &queries, 10, ef));
            println!("{metric:?} ef {ef}: exact build {re:.4}, code build {rc:.4}");
            assert!(rc >= re - 0.01, "{metric:?} ef {ef}: code build {rc} < exact build {re}");
        }
    }
}

/// A code build's lists hold exact distances' choices: within capacity,
/// no self links, and every element reachable from the entry on layer 0.
#[test]
fn code_builds_link_every_element_within_capacity() {
    let data = clustered(3000, 30, &mut Rng::new(4), &mut Rng::new(5), false);
    let g = build(Metric::L2, &data, true);
    let mut seen = vec![false; g.len()];
    let (ep, _) = g.entry().expect("entry");
    let mut stack = vec![ep as usize];
    seen[ep as usize] = true;
    while let Some(x) = stack.pop() {
        for n in g.neighbors(x, 0) {
            if !std::mem::replace(&mut seen[n as usize], true) {
                stack.push(n as usize);
            }
        }
    }
    assert!(seen.iter().all(|&s| s), "{} unreachable", seen.iter().filter(|&&s| !s).count());
    for i in 0..g.len() {
        for layer in 0..=g.level(i) {
            let list = g.neighbors(i, layer);
            assert!(list.len() <= g.params.max_neighbors(layer), "{i} layer {layer}: {}", list.len());
            assert!(!list.contains(&(i as u32)));
        }
    }
}

/// Codes are on by default for float4 from [`codes::MIN_DIMS`]
/// dimensions with a metric that has a code kernel, off otherwise (and
/// for rows all alike: nothing to tell apart around their centre).
#[test]
fn codes_are_used_where_they_help() {
    let p = |metric| Params { m: 8, ef_construction: 40, metric, max_level: MAX_LEVEL };
    let big: Vec<f32> = (0..10 * codes::MIN_DIMS).map(|i| (i % 7) as f32 * 0.5).collect();
    let small = vec![0.5f32; 10 * 8];
    assert!(!MemGraph::from_f32(p(Metric::L2), codes::MIN_DIMS, &vec![0.5f32; 10 * codes::MIN_DIMS], 1).uses_codes());
    assert!(MemGraph::from_f32(p(Metric::L2), codes::MIN_DIMS, &big, 1).uses_codes());
    assert!(!MemGraph::from_f32(p(Metric::L2), 8, &small, 1).uses_codes());
    assert!(!MemGraph::from_f32(p(Metric::L1), codes::MIN_DIMS, &big, 1).uses_codes());
    assert!(MemGraph::code_bytes_per_element(crate::space::Space::F32 { metric: Metric::L2, dims: 384 }) >= 384);
    assert_eq!(MemGraph::code_bytes_per_element(crate::space::Space::F32 { metric: Metric::L2, dims: 8 }), 0);
}

/// The default build (codes where they help) against an exact build of
/// the same data, recall@10 at a low ef.
fn default_vs_exact(metric: Metric, data: &[f32], queries: &[f32]) -> (f64, f64) {
    let p = Params { m: 8, ef_construction: 40, metric, max_level: MAX_LEVEL };
    let mut exact = MemGraph::from_f32(p, DIM, data, 42);
    exact.set_codes(false);
    exact.build(1, &mut |_| true).expect("build");
    let mut dflt = MemGraph::from_f32(p, DIM, data, 42);
    dflt.build(1, &mut |_| true).expect("build");
    (recall(&exact, queries, 10, 40), recall(&dflt, queries, 10, 40))
}

/// One element with a huge component sets the codes' scale: the others'
/// codes must not flush to zero and the build's recall must not collapse
/// (l2 and inner product; the outlier's size 1e15 and 1e30).
#[test]
fn one_huge_component_does_not_collapse_recall() {
    for metric in [Metric::L2, Metric::InnerProduct] {
        for huge in [1e15f32, 1e30] {
            let mut draws = Rng::new(31);
            let mut data = clustered(4000, 40, &mut Rng::new(3), &mut draws, false);
            let queries = clustered(150, 40, &mut Rng::new(3), &mut draws, false);
            data[17 * DIM + 5] = huge;
            let (re, rd) = default_vs_exact(metric, &data, &queries);
            println!("{metric:?} outlier {huge:e}: exact build {re:.4}, default build {rd:.4}");
            assert!(rd >= re - 0.01, "{metric:?} outlier {huge:e}: default build {rd} < exact build {re}");
        }
    }
}

/// Data far from the origin (a common offset much larger than the spread):
/// half precision's relative step at the offset exceeds the distances
/// between neighbours; the build's recall must not collapse.
#[test]
fn a_large_common_offset_does_not_collapse_recall() {
    for offset in [30f32, 1000.0, 1e4, 1e5] {
        let mut draws = Rng::new(31);
        let mut data = clustered(4000, 40, &mut Rng::new(3), &mut draws, false);
        let mut queries = clustered(150, 40, &mut Rng::new(3), &mut draws, false);
        data.iter_mut().chain(queries.iter_mut()).for_each(|x| *x += offset);
        let (re, rd) = default_vs_exact(Metric::L2, &data, &queries);
        println!("L2 offset {offset}: exact build {re:.4}, default build {rd:.4}");
        assert!(rd >= re - 0.01, "L2 offset {offset}: default build {rd} < exact build {re}");
    }
}

/// Two groups at very different distances from the centre (half the rows
/// near the origin, half around 1e4): one scale cannot suit both.
#[test]
fn groups_at_different_magnitudes_keep_recall() {
    let mut draws = Rng::new(31);
    let mut data = clustered(8000, 20, &mut Rng::new(3), &mut draws, false);
    let mut queries = clustered(150, 20, &mut Rng::new(3), &mut draws, false);
    for rows in [&mut data, &mut queries] {
        for (i, x) in rows.chunks_mut(DIM).enumerate() {
            if i % 2 == 1 {
                x.iter_mut().for_each(|v| *v += 1e4);
            }
        }
    }
    let (re, rd) = default_vs_exact(Metric::L2, &data, &queries);
    println!("L2 two groups 0 and 1e4: exact build {re:.4}, default build {rd:.4}");
    assert!(rd >= re - 0.01, "two groups: default build {rd} < exact build {re}");
}
