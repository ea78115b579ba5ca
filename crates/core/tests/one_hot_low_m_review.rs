//! Review (a defect older than 5f90834, same at 6666efa): sparse one-hot
//! rows (every pair at sqrt(2) under L2) built with a small m leave
//! hundreds of live elements unreachable from the entry on layer 0 after
//! the build's final reachability pass; tests_ties.rs tries m = 16 only.
//! An index scan never returns those rows.

use vecstore_core::distance::sparse::encode;
use vecstore_core::distance::Metric;
use vecstore_core::hnsw::dedup::Values;
use vecstore_core::hnsw::{MemGraph, Params, MAX_LEVEL};
use vecstore_core::space::{f32_bytes, Space};

mod common;

fn unreachable(g: &MemGraph) -> usize {
    let seen = common::reached(g);
    g.members().iter().filter(|&&i| !seen[i as usize]).count()
}

#[test]
fn one_hot_rows_all_reachable_at_low_m() {
    let mut bad = Vec::new();
    for (m, ef, seed) in [(2, 64, 0x4853_4e57), (2, 16, 0x4853_4e57), (4, 16, 0x4853_4e57), (4, 16, 42), (16, 64, 42)] {
        let mut values = Values::variable();
        for g in 0..2732 {
            values.push(f32_bytes(&encode(30_522, &[g], &[1.0])));
        }
        let p = Params { m, ef_construction: ef, metric: Metric::L2, max_level: MAX_LEVEL };
        let mut g = MemGraph::new(p, Space::Sparse { metric: Metric::L2, cap: 1 }, values, seed);
        g.build(1, &mut |_| true).unwrap();
        let lost = unreachable(&g);
        println!("ONEHOT m {m} ef_construction {ef} seed {seed:#x}: {lost} of 2732 unreachable after the build");
        if lost > 0 {
            bad.push((m, ef, seed, lost));
        }
    }
    assert!(bad.is_empty(), "(m, ef_construction, level seed, unreachable): {bad:?}");
}
