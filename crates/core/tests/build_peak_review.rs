//! Review of the build's charge (`MemGraph::build_bytes_per_element`)
//! against its peak heap in spaces and settings link_memory.rs does not
//! try: no codes (half, bit, sparse, small float4), m at its bounds, two
//! threads, piles of duplicates. Same counting allocator as link_memory.rs
//! (glibc block sizes).

use std::sync::atomic::Ordering;

use vecstore_core::distance::sparse::encode;
use vecstore_core::distance::Metric;
use vecstore_core::hnsw::dedup::{group_duplicates, Values};
use vecstore_core::hnsw::{MemGraph, Params, MAX_LEVEL};
use vecstore_core::rng::Rng;
use vecstore_core::space::{f32_bytes, Space};

#[path = "common/counting.rs"]
mod counting;
use counting::{LIVE, PEAK};


/// `n` values of `space` (`copies` rows per distinct value).
fn values_of(space: Space, n: usize, copies: usize, rng: &mut Rng) -> Values {
    let distinct = n.div_ceil(copies);
    let rows: Vec<Vec<u8>> = (0..distinct)
        .map(|_| match space {
            Space::F32 { dims, .. } => f32_bytes(&(0..dims).map(|_| rng.uniform() as f32).collect::<Vec<_>>()).to_vec(),
            Space::F16 { dims, .. } => (0..dims).flat_map(|_| (0x3800u16 + rng.below(0x400) as u16).to_ne_bytes()).collect(),
            Space::Bit { dims, .. } => (0..dims / 8).map(|_| rng.below(256) as u8).collect(),
            Space::Sparse { cap, .. } => {
                let mut idx: Vec<i32> = (0..cap).map(|_| rng.below(1000) as i32).collect();
                idx.sort();
                idx.dedup();
                let vals: Vec<f32> = idx.iter().map(|_| rng.uniform() as f32 + 0.1).collect();
                f32_bytes(&encode(1000, &idx, &vals)).to_vec()
            }
            _ => unreachable!(),
        })
        .collect();
    let mut values = match space {
        Space::Sparse { .. } => Values::variable(),
        _ => Values::new(rows[0].len()),
    };
    for i in 0..n {
        values.push(&rows[i % distinct]);
    }
    values
}

/// Peak heap bytes per row of a build (as src/am/build.rs's flush runs
/// it: groups, members, graph), besides the values.
fn peak_per_row(space: Space, m: usize, threads: usize, n: usize, copies: usize) -> f64 {
    let mut rng = Rng::new(5);
    let values = values_of(space, n, copies, &mut rng);
    let params = Params { m, ef_construction: 2 * m.max(8), metric: space.metric(), max_level: MAX_LEVEL };
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let groups = group_duplicates(&values);
    let members: Vec<u32> = groups.iter().map(|g| g[0]).collect();
    let mut g = MemGraph::with_members(params, space, values, 42, members);
    g.build(threads, &mut |_| true).expect("build");
    let peak = PEAK.load(Ordering::Relaxed);
    drop(g);
    drop(groups);
    (peak - before) as f64 / n as f64
}

/// Charged per row by src/am/build.rs's bytes_per_row besides the value
/// (its 6 + 2 + 96: TID, level, grouping and placement).
fn charge(space: Space, m: usize, threads: usize) -> usize {
    MemGraph::build_bytes_per_element(space, m, threads) + 6 + 2 + 96
}

#[test]
fn build_peak_within_charge_review() {
    let l2 = Metric::L2;
    let cases: Vec<(Space, usize, usize, usize, usize)> = vec![
        (Space::F32 { metric: l2, dims: 2 }, 2, 1, 20_000, 1),
        (Space::F32 { metric: l2, dims: 2 }, 2, 2, 20_000, 1),
        (Space::F32 { metric: l2, dims: 2 }, 100, 2, 5_000, 1),
        (Space::F32 { metric: l2, dims: 32 }, 16, 2, 20_000, 1),
        (Space::F32 { metric: l2, dims: 96 }, 2, 2, 20_000, 1),
        (Space::F32 { metric: l2, dims: 96 }, 100, 2, 5_000, 1),
        (Space::F16 { metric: l2, dims: 8 }, 16, 2, 20_000, 1),
        (Space::Bit { metric: Metric::Hamming, dims: 64 }, 16, 2, 20_000, 1),
        (Space::Sparse { metric: l2, cap: 8 }, 16, 2, 20_000, 1),
        (Space::F32 { metric: l2, dims: 2 }, 16, 2, 20_000, 10),
        (Space::F32 { metric: l2, dims: 2 }, 2, 1, 20_000, 1000),
    ];
    let mut over = Vec::new();
    for (space, m, threads, n, copies) in cases {
        let peak = peak_per_row(space, m, threads, n, copies);
        let c = charge(space, m, threads);
        let graph = MemGraph::build_bytes_per_element(space, m, threads);
        let line = format!("{space:?} m {m} threads {threads} n {n} copies {copies}: peak {peak:.1} B/row, charge {c} (graph {graph})");
        println!("{line}");
        if peak > c as f64 {
            over.push(line);
        }
    }
    assert!(over.is_empty(), "peaks over the charge: {over:#?}");
}
