//! What one on-disk insert (`LinkPolicy::DISK`) costs: distances (query
//! distances of the search plus distances between elements of pruning and
//! rescue) and list reads, counted through [`Counting`], on the hub rows
//! inserted one by one (as `tests_reach_review`'s `late_graph`) and on
//! dense random rows. Prints; run with `--ignored --nocapture`.

use super::dedup::Values;
use super::insert::{find_neighbors, link_back, LinkPolicy};
use super::tests_insert_ties::unreached;
use super::tests_reach_review::Counting;
use super::tests::recall;
use super::tests_sparse::{exact_kth, sparse_recall, topic_rows};
use super::*;
use crate::distance::Metric;
use crate::rng::Rng;
use crate::space::{f32_bytes, Space};

fn params() -> Params {
    Params { m: 16, ef_construction: 64, metric: Metric::L2, max_level: MAX_LEVEL }
}

/// Inserts every element but the first one by one as `insert_late` does,
/// counting; prints per-insert averages and what is unreachable after.
fn measure(name: &str, g: &mut MemGraph, report: &dyn Fn(&MemGraph) -> String) {
    g.build(1, &mut |_| true).unwrap();
    let n = g.len();
    let mut scratch = Scratch::dense(n);
    let (mut dist, mut between, mut reads) = (0usize, 0usize, 0usize);
    for q in 1..n {
        let level = g.level(q);
        let (ep, top) = g.entry().expect("entry");
        let query = g.space.query_of_value(g.value(q));
        let mut store = Counting { inner: g.store(&query, Some(q as u32)), between: 0, distance: 0, reads: 0 };
        let found = find_neighbors(&mut store, (ep as NodeId, top), level, &g.params, &mut scratch);
        for (layer, sel) in found.selected.iter().enumerate() {
            let ids: Vec<u32> = sel.iter().map(|c| c.id as u32).collect();
            g.links.set(q, layer, &ids);
        }
        link_back(&mut store, q as NodeId, &found.selected, found.candidates.first().map_or(&[], Vec::as_slice), &g.params, &LinkPolicy::DISK);
        if level > top {
            *g.entry.write().unwrap() = Some((q as u32, level));
        }
        (dist, between, reads) = (dist + store.distance, between + store.between, reads + store.reads);
    }
    let k = (n - 1) as f64;
    let lost = unreached(g, &(0..n).collect::<Vec<_>>()).len();
    println!(
        "{name}: {} inserts, per insert {:.0} query distances + {:.1} between = {:.0}; {:.1} list reads; {lost} unreachable; {}",
        n - 1,
        dist as f64 / k,
        between as f64 / k,
        (dist + between) as f64 / k,
        reads as f64 / k,
        report(g)
    );
}

#[test]
#[ignore]
fn insert_cost_hub_rows_and_dense_random() {
    let rows = topic_rows(4000, 30_000, 20, 200, 50, 7, 1);
    let cap = rows.iter().map(|r| (r.len() - 2) / 2).max().unwrap_or(1);
    let mut values = Values::variable();
    for r in &rows {
        values.push(f32_bytes(r));
    }
    let p = params();
    let queries = topic_rows(200, 30_000, 20, 200, 50, 7, 2);
    let sparse_report = |g: &MemGraph| {
        let kths = exact_kth(g, &queries);
        [10, 40, 100].map(|ef| format!("recall@10 ef {ef} {:.3}", sparse_recall(g, &queries, &kths, ef).0)).join(", ")
    };
    measure("hub rows (late_graph)", &mut MemGraph::with_members(p, Space::Sparse { metric: p.metric, cap }, values, 42, vec![0]), &sparse_report);

    let (n, dim) = (4000, 32);
    let mut rng = Rng::new(5);
    let flat: Vec<f32> = (0..n * dim).map(|_| rng.uniform() as f32).collect();
    let mut g = MemGraph::with_members(p, Space::F32 { metric: p.metric, dims: dim }, Values::from_f32(dim, &flat), 42, vec![0]);
    let queries: Vec<f32> = (0..200 * dim).map(|_| rng.uniform() as f32).collect();
    let dense_report = |g: &MemGraph| [10, 40, 100].map(|ef| format!("recall@10 ef {ef} {:.3}", recall(g, &queries, 10, ef))).join(", ");
    measure("dense random 4,000 x 32", &mut g, &dense_report);
}
