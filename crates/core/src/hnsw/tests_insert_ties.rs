//! On-disk inserts (`insert_late`: fixed-size lists, the insert's rescue)
//! into a graph of one-hot rows, where every pair of rows is at one
//! distance: a full list's pruning drops a link that may be its target's
//! only way in, and every element inserted or rescued must stay reachable
//! from the entry on layer 0, or an index scan never returns its row
//! (tests/cluster/test_reach_ties.py's post-spill insert).

use super::dedup::Values;
use super::*;
use crate::distance::sparse::encode;
use crate::distance::Metric;
use crate::space::{f32_bytes, Space};

const DIMS: i32 = 30_522;
/// The extension's level seed (src/am/build.rs).
const LEVEL_SEED: u64 = 0x4853_4e57;

fn params() -> Params {
    Params { m: 16, ef_construction: 64, metric: Metric::L2, max_level: MAX_LEVEL }
}

/// Elements of `ids` a depth-first walk from the entry does not reach on
/// layer 0.
pub(super) fn unreached(g: &MemGraph, ids: &[usize]) -> Vec<usize> {
    let seen = super::tests::reachable_at_layer0(g);
    ids.iter().copied().filter(|&i| !seen[i]).collect()
}

/// `small` one-hot rows (`'{g:1}/30522'`, g = 1..=small) built in memory
/// on one thread, then the rows of `late` inserted one by one as the
/// on-disk insert does. Returns the graph and every element's id.
fn one_hot_then_late(small: usize, late: &[Vec<f32>], seed: u64) -> (MemGraph, Vec<usize>) {
    let mut values = Values::variable();
    for g in 0..small {
        values.push(f32_bytes(&encode(DIMS, &[g as i32], &[1.0])));
    }
    for r in late {
        values.push(f32_bytes(r));
    }
    let cap = late.iter().map(|r| (r.len() - 2) / 2).max().unwrap_or(1).max(1);
    let members = (0..small as u32).collect();
    let mut g = MemGraph::with_members(params(), Space::Sparse { metric: Metric::L2, cap }, values, seed, members);
    g.build(1, &mut |_| true).unwrap();
    // the build's own pass leaves every element reachable: what is lost
    // below, the late inserts lost
    let built: Vec<usize> = (0..small).collect();
    assert_eq!(unreached(&g, &built), Vec::<usize>::new(), "unreachable after the build");
    let mut scratch = Scratch::dense(small + late.len());
    for q in small..small + late.len() {
        g.insert_late(q, &mut scratch);
    }
    (g, (0..small + late.len()).collect())
}

/// The cluster test's big rows: 16,000 non-zeros, coordinate i (1-based)
/// holding i + s.
fn big_rows(k: usize) -> Vec<Vec<f32>> {
    (0..k)
        .map(|s| {
            let idx: Vec<i32> = (0..16_000).collect();
            let val: Vec<f32> = (1..=16_000).map(|i| (i + s) as f32).collect();
            encode(DIMS, &idx, &val)
        })
        .collect()
}

/// More one-hot rows, g = from..from+k.
fn late_one_hot(from: usize, k: usize) -> Vec<Vec<f32>> {
    (from..from + k).map(|g| encode(DIMS, &[g as i32], &[1.0])).collect()
}

fn check(name: &str, small: usize, late: &[Vec<f32>], seeds: &[u64]) {
    let mut bad = Vec::new();
    for &seed in seeds {
        let (g, ids) = one_hot_then_late(small, late, seed);
        let lost = unreached(&g, &ids);
        let late_lost = lost.iter().filter(|&&i| i >= small).count();
        println!("{name} seed {seed:#x}: {} elements, {} unreachable ({late_lost} inserted late)", ids.len(), lost.len());
        if !lost.is_empty() {
            bad.push((seed, lost.len(), late_lost));
        }
    }
    assert!(bad.is_empty(), "{name}: unreachable after late inserts (seed, all, late): {bad:?}");
}

/// The cluster test's shape: 2,607 one-hot rows built, ten big rows
/// inserted after.
#[test]
fn insert_ties_big_rows_after_one_hot_build_stay_reachable() {
    let seeds: Vec<u64> = (0..3).map(|k| LEVEL_SEED + k).collect();
    check("big rows late", 2_607, &big_rows(10), &seeds);
}

/// One-hot rows inserted late among one-hot rows: every back-link is a
/// tie.
#[test]
fn insert_ties_one_hot_rows_inserted_late_stay_reachable() {
    let seeds: Vec<u64> = (0..3).map(|k| LEVEL_SEED + k).collect();
    check("one-hot late", 1_000, &late_one_hot(1_000, 1_000), &seeds);
}
