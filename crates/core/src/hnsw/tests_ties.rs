//! Rows all at one distance from each other (one-hot rows: every pair at
//! sqrt(2) under L2): every neighbour choice is a tie, the heuristic keeps
//! one link per list, and the build's final pass has to link hundreds of
//! elements nobody points at. Every live element must still be reachable
//! from the entry on layer 0, or an index scan never returns its row.

use super::dedup::Values;
use super::*;
use crate::distance::sparse::encode;
use crate::distance::Metric;
use crate::space::{f32_bytes, Space};

/// Threads the extension's build runs on this machine's two cores.
const THREADS: usize = 2;
/// The extension's level seed (src/am/build.rs).
const LEVEL_SEED: u64 = 0x4853_4e57;

fn params() -> Params {
    Params { m: 16, ef_construction: 64, metric: Metric::L2, max_level: MAX_LEVEL }
}

/// Live members a depth-first walk from the entry does not reach on layer 0.
fn unreachable(g: &MemGraph) -> usize {
    let seen = super::tests::reachable_at_layer0(g);
    g.members().iter().filter(|&&i| !seen[i as usize]).count()
}

/// Elements of `g` no live element links to on layer 0 (the entry aside).
fn orphans(g: &MemGraph) -> usize {
    let mut indeg = vec![0u32; g.len()];
    for &i in g.members() {
        for n in g.neighbors(i as usize, 0) {
            indeg[n as usize] += 1;
        }
    }
    let ep = g.entry().expect("entry").0;
    g.members().iter().filter(|&&i| i != ep && indeg[i as usize] == 0).count()
}

/// `n` sparse one-hot rows over 30,522 dimensions (as `'{g:1}/30522'`)
/// followed by `dups` copies of the first, left out of the graph as the
/// extension's build groups duplicates.
fn sparse_one_hot(n: usize, dups: usize, seed: u64) -> MemGraph {
    let mut values = Values::variable();
    for g in 0..n + dups {
        let at = if g < n { g as i32 } else { 0 };
        values.push(f32_bytes(&encode(30_522, &[at], &[1.0])));
    }
    let members = (0..n as u32).collect();
    MemGraph::with_members(params(), Space::Sparse { metric: Metric::L2, cap: 1 }, values, seed, members)
}

/// `n` dense one-hot rows of `n` dimensions.
fn dense_one_hot(n: usize, seed: u64) -> MemGraph {
    let mut flat = vec![0f32; n * n];
    for g in 0..n {
        flat[g * n + g] = 1.0;
    }
    MemGraph::from_f32(params(), n, &flat, seed)
}

fn check(name: &str, build: &dyn Fn(u64) -> MemGraph, seeds: &[u64]) {
    let mut bad = Vec::new();
    for &seed in seeds {
        let mut g = build(seed);
        g.build(THREADS, &mut |_| true).unwrap();
        let (lost, orph) = (unreachable(&g), orphans(&g));
        println!("{name} seed {seed:#x}: {} members, {lost} unreachable, {orph} with no incoming link", g.members().len());
        if lost > 0 {
            bad.push((seed, lost));
        }
    }
    assert!(bad.is_empty(), "{name}: unreachable elements (seed, count): {bad:?}");
}

#[test]
fn ties_sparse_one_hot_rows_all_reachable() {
    let seeds: Vec<u64> = (0..6).map(|k| LEVEL_SEED + k).collect();
    check("sparse one-hot", &|seed| sparse_one_hot(2_732, 5, seed), &seeds);
}

#[test]
fn ties_dense_one_hot_rows_all_reachable() {
    check("dense one-hot", &|seed| dense_one_hot(1_500, seed), &[LEVEL_SEED, 7, 8]);
}

