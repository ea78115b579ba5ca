//! `MemGraph::link_bytes_per_element` is what a build charges
//! maintenance_work_mem for each element's links: it must cover what the
//! graph really allocates for them (layer-0 lines, upper-layer lists with
//! room for the build's slack, their vectors, allocator overhead), for
//! every m an index may have (2 to 100). Measured with a counting
//! allocator that charges what glibc's malloc takes per block (the
//! request plus an 8-byte header, in 16-byte steps, at least 32).

use std::sync::atomic::Ordering;

use vecstore_core::distance::Metric;
use vecstore_core::hnsw::dedup::Values;
use vecstore_core::hnsw::{MemGraph, Params, MAX_LEVEL};
use vecstore_core::rng::Rng;
use vecstore_core::space::Space;

#[path = "common/counting.rs"]
mod counting;
use counting::{LIVE, PEAK};


/// Heap bytes per element a graph over `n` 2-d points with `m` holds
/// besides its values and its member list (4 bytes each), after the
/// build when `build`.
fn graph_bytes_per_element(m: usize, n: usize, build: bool) -> f64 {
    let mut rng = Rng::new(7);
    let flat: Vec<f32> = (0..2 * n).map(|_| rng.uniform() as f32).collect();
    let values = Values::from_f32(2, &flat);
    let params = Params { m, ef_construction: 2 * m.max(8), metric: Metric::L2, max_level: MAX_LEVEL };
    let space = Space::F32 { metric: Metric::L2, dims: 2 };
    let before = LIVE.load(Ordering::Relaxed);
    let mut g = MemGraph::new(params, space, values, 42);
    if build {
        g.build(1, &mut |_| true).expect("build");
    }
    let after = LIVE.load(Ordering::Relaxed);
    drop(g);
    (after - before) as f64 / n as f64 - 4.0
}

fn link_estimate_covers_the_lists_for_every_m() {
    let mut short = Vec::new();
    for m in 2..=100 {
        let real = graph_bytes_per_element(m, 20_000, false);
        let est = MemGraph::link_bytes_per_element(m) as f64;
        if real > est + 1.0 {
            short.push(format!("m {m}: {real:.1} > {est}"));
        }
    }
    assert!(short.is_empty(), "link_bytes_per_element under what the lists take: {short:?}");
}

/// The lists never outgrow what they were allocated with: a built graph
/// takes what a new one does.
fn built_lists_take_what_new_ones_do() {
    for m in [2, 3, 8, 16] {
        let new = graph_bytes_per_element(m, 5_000, false);
        let built = graph_bytes_per_element(m, 5_000, true);
        assert!(built <= new + 0.5, "m {m}: built {built:.1} vs new {new:.1}");
    }
}

/// Peak heap bytes per element of a build over `n` random `dims`-d points
/// with `m` on `threads` threads, besides the values and the member list
/// (4 bytes each).
fn build_peak_per_element(dims: usize, m: usize, threads: usize, n: usize) -> f64 {
    let mut rng = Rng::new(11);
    let flat: Vec<f32> = (0..dims * n).map(|_| rng.uniform() as f32).collect();
    let values = Values::from_f32(dims, &flat);
    let params = Params { m, ef_construction: 2 * m.max(8), metric: Metric::L2, max_level: MAX_LEVEL };
    let space = Space::F32 { metric: Metric::L2, dims };
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let mut g = MemGraph::new(params, space, values, 42);
    g.build(threads, &mut |_| true).expect("build");
    let peak = PEAK.load(Ordering::Relaxed);
    drop(g);
    (peak - before) as f64 / n as f64 - 4.0
}

/// What a build charges maintenance_work_mem per element for its graph
/// covers the graph's peak: the inserts' codes, links and visited marks,
/// and the final reachability pass's snapshot of layer 0.
fn build_peak_stays_within_its_charge() {
    let mut over = Vec::new();
    for (dims, m, threads) in [(2, 4, 2), (2, 16, 2), (2, 32, 1), (96, 8, 2), (96, 16, 2)] {
        let peak = build_peak_per_element(dims, m, threads, 20_000);
        let space = Space::F32 { metric: Metric::L2, dims };
        let charge = MemGraph::build_bytes_per_element(space, m, threads) as f64;
        if peak > charge {
            over.push(format!("{dims}-d m {m} {threads} threads: {peak:.1} > {charge}"));
        }
    }
    assert!(over.is_empty(), "a build's peak outgrows its charge: {over:?}");
}

/// The count is global, and the test harness's own thread allocates as a
/// test ends (its report) while the next one may be counting: the checks
/// are one test.
#[test]
fn graph_memory_stays_within_its_charges() {
    link_estimate_covers_the_lists_for_every_m();
    built_lists_take_what_new_ones_do();
    build_peak_stays_within_its_charge();
}
