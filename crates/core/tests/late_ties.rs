//! A CREATE INDEX that spills, modelled: one-hot rows (every pair at
//! sqrt(2)) linked in memory, then the rest inserted one by one as on
//! disk, with ten rows of 16,000 non-zeros. An insert whose level is above
//! the entry point's makes it the new entry: every element must stay
//! reachable from it on layer 0. (The cluster test
//! test_reach_ties.py::test_rows_inserted_after_a_spill_stay_reachable
//! spilled here once the build counted its final pass: an index scan
//! returned 227 and 324 of 2,617 rows in 2 of 20 runs.)

use vecstore_core::distance::sparse::encode;
use vecstore_core::distance::Metric;
use vecstore_core::hnsw::dedup::Values;
use vecstore_core::hnsw::{MemGraph, Params, Scratch, MAX_LEVEL};
use vecstore_core::space::{f32_bytes, Space};

mod common;

#[test]
fn a_new_entry_point_reaches_every_element() {
    let (small, built) = (2607, 1949);
    let mut values = Values::variable();
    for g in 0..small {
        values.push(f32_bytes(&encode(30_522, &[g as i32 + 1], &[1.0])));
    }
    for s in 0..10 {
        let idx: Vec<i32> = (1..=16000).collect();
        let val: Vec<f32> = (1..=16000).map(|i| (i + s) as f32).collect();
        values.push(f32_bytes(&encode(30_522, &idx, &val)));
    }
    let n = small + 10;
    let p = Params { m: 16, ef_construction: 64, metric: Metric::L2, max_level: MAX_LEVEL };
    let space = Space::Sparse { metric: Metric::L2, cap: 16000 };
    let mut g = MemGraph::with_members(p, space, values, 0x4853_4e57, (0..built as u32).collect());
    g.build(1, &mut |_| true).unwrap();
    let (_, top) = g.entry().unwrap();
    let mut scratch = Scratch::dense(n);
    let mut raised = 0;
    for q in built..n {
        g.insert_late(q, &mut scratch);
        raised += usize::from(g.level(q) > top);
    }
    assert!(raised > 0, "no insert raised the entry point: the test tests nothing");
    assert_eq!(common::reached(&g).iter().filter(|&&r| r).count(), n, "elements reachable from the entry after the inserts");
}
