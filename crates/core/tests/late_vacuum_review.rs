//! Review: MemGraph::repair_deleted (VACUUM in memory) on a graph whose
//! rows after the first `base` came by insert_late (a table filled by
//! INSERTs after CREATE INDEX). Rows inserted late are not members: since
//! 5f90834 the final pass's snapshot holds them as dead elements without
//! lists (it assumes non-members are duplicates left out of the graph), so
//! its link_into takes links to them first ("a dead target first"), where
//! before they were unknown ids no pass would replace.

use vecstore_core::distance::Metric;
use vecstore_core::hnsw::dedup::Values;
use vecstore_core::hnsw::{MemGraph, Params, Scratch, MAX_LEVEL};
use vecstore_core::rng::Rng;
use vecstore_core::space::Space;

mod common;

fn unreachable_live(g: &MemGraph, deleted: &[bool]) -> usize {
    let seen = common::reached(g);
    (0..g.len()).filter(|&i| !deleted[i] && !seen[i]).count()
}

/// Links from built rows to late rows that repair_deleted removed, with
/// nothing deleted. At 6666efa: 2 of 2,606 (m 2; an element the pass
/// re-searched rewrote its own list), 0 and 0; at 5f90834: 28, 0 and 1
/// (the pass replaced them as links to dead elements). With half the
/// built rows deleted at m 2, 7 late rows were left unreachable before, 9
/// now.
#[test]
fn repair_deleted_keeps_links_to_late_rows() {
    let mut report = Vec::new();
    let mut total = 0;
    for (m, dim, n, base) in [(2, 2, 4000, 3000), (4, 2, 4000, 3000), (16, 8, 4000, 2000)] {
        let mut rng = Rng::new(21);
        let flat: Vec<f32> = (0..dim * n).map(|_| rng.uniform() as f32).collect();
        let p = Params { m, ef_construction: 2 * m.max(8), metric: Metric::L2, max_level: MAX_LEVEL };
        #[allow(unused_mut)]
        let mut g = MemGraph::with_members(p, Space::F32 { metric: Metric::L2, dims: dim }, Values::from_f32(dim, &flat), 7, (0..base as u32).collect());
        g.build(1, &mut |_| true).unwrap();
        let mut scratch = Scratch::dense(n);
        for q in base..n {
            g.insert_late(q, &mut scratch);
        }
        let late_links = |g: &MemGraph| -> Vec<(usize, u32)> {
            (0..base).flat_map(|i| g.neighbors(i, 0).into_iter().filter(|&x| x as usize >= base).map(move |x| (i, x))).collect()
        };
        let before = late_links(&g);
        let lost_before = unreachable_live(&g, &vec![false; n]);
        g.repair_deleted();
        let after = late_links(&g);
        let dropped = before.iter().filter(|l| !after.contains(l)).count();
        let lost_after = unreachable_live(&g, &vec![false; n]);
        let line = format!("m {m} dim {dim} n {n} base {base}: {dropped} of {} links to late rows dropped; unreachable {lost_before} -> {lost_after}", before.len());
        println!("LATE {line}");
        total += dropped;
        report.push(line);
    }
    assert!(total <= 2, "repair_deleted took links to late-inserted rows: {report:#?}");
}
