//! Review of the reachability pass (`reach::connect`) on SPLADE-like
//! sparse L2 rows, where hub rows are everybody's neighbours and a fifth
//! of the elements need a link: what the pass leaves unreachable and how
//! many distances it computes (counted through a wrapping store).

use super::dedup::Values;
use super::memstore::MemStore;
use super::reach::{connect, Adjacency, PASS_BYTES};
use super::tests_sparse::{sparse_graph, topic_rows};
use super::*;
use crate::space::{f32_bytes, Space};
use std::sync::atomic::Ordering;

/// A [`MemStore`] that counts `between` calls (and, for the insert's
/// cost, query distances and list reads).
pub(super) struct Counting<'a> {
    pub(super) inner: MemStore<'a>,
    pub(super) between: usize,
    pub(super) distance: usize,
    pub(super) reads: usize,
}

impl Source for Counting<'_> {
    fn distance(&mut self, id: NodeId, layer: usize, bound: f64) -> f64 {
        self.distance += 1;
        self.inner.distance(id, layer, bound)
    }
    fn neighbors(&mut self, id: NodeId, layer: usize, out: &mut Vec<NodeId>) {
        self.inner.neighbors(id, layer, out)
    }
    fn is_result(&mut self, id: NodeId) -> bool {
        self.inner.is_result(id)
    }
}

impl GraphStore for Counting<'_> {
    fn prepare(&mut self, ids: &[NodeId]) {
        self.inner.prepare(ids)
    }
    fn between(&mut self, a: NodeId, b: NodeId) -> f64 {
        self.between += 1;
        self.inner.between(a, b)
    }
    fn is_live(&mut self, id: NodeId) -> bool {
        self.inner.is_live(id)
    }
    fn read_list(&mut self, id: NodeId, layer: usize, out: &mut Vec<NodeId>) -> bool {
        self.reads += 1;
        self.inner.read_list(id, layer, out)
    }
    fn replace_list(&mut self, id: NodeId, layer: usize, expected: &[NodeId], new: &[NodeId]) -> Replace {
        self.inner.replace_list(id, layer, expected, new)
    }
}

/// Runs the reachability pass over every element of `g` as the build's
/// does (see `MemGraph::connect_all`); returns (elements linked,
/// distances computed, live elements still unreachable).
fn counted_connect(g: &MemGraph, n: usize) -> (usize, usize, usize) {
    let (ep, _) = g.entry().expect("entry");
    let mut adj = Adjacency::new(n, g.params.max_neighbors(0));
    for i in 0..n {
        adj.add(i as NodeId, !g.deleted[i].load(Ordering::Relaxed));
    }
    for i in 0..n {
        let list: Vec<NodeId> = g.neighbors(i, 0).into_iter().map(NodeId::from).collect();
        adj.set_list(i as u32, &list);
    }
    let mut store = Counting { inner: g.store(&[], None), between: 0, distance: 0, reads: 0 };
    let mut scratch = Scratch::dense(n);
    let made = connect(&mut store, &mut adj, ep as NodeId, &g.params, &mut |_, id| g.relink(id as usize, &mut scratch), &mut || true);
    (made, store.between, adj.unreachable(ep as NodeId).len())
}

/// The hub-rows graph of `tests_sparse` (4,000 rows, one build thread).
fn hub_graph() -> MemGraph {
    sparse_graph(crate::distance::Metric::L2, &topic_rows(4000, 30_000, 20, 200, 50, 7, 1), 1)
}

/// Every live element must be reachable from the entry on layer 0 once
/// CREATE INDEX's build is done (the point of the final pass). On these
/// rows 67b9e1c leaves 9 unreachable (its parent 2f9d14d left 5).
#[test]
fn sparse_l2_hub_rows_all_reachable_after_build() {
    let g = hub_graph();
    let (_, _, lost) = counted_connect(&g, g.len());
    // connect on the finished graph links what it can again, so what is
    // still lost after it was lost after the build too
    assert_eq!(lost, 0, "{lost} live elements unreachable after the build");
}

/// The hub rows inserted one by one after a one-element build, as the
/// on-disk insert does (no reachability pass yet): the graph a VACUUM's
/// pass gets on a table filled by INSERTs.
fn late_graph() -> MemGraph {
    let rows = topic_rows(4000, 30_000, 20, 200, 50, 7, 1);
    let cap = rows.iter().map(|r| (r.len() - 2) / 2).max().unwrap_or(1);
    let mut values = Values::variable();
    for r in &rows {
        values.push(f32_bytes(r));
    }
    let p = Params { m: 16, ef_construction: 64, metric: crate::distance::Metric::L2, max_level: MAX_LEVEL };
    let mut g = MemGraph::with_members(p, Space::Sparse { metric: p.metric, cap }, values, 42, vec![0]);
    g.build(1, &mut |_| true).unwrap();
    let mut scratch = Scratch::dense(rows.len());
    for q in 1..rows.len() {
        g.insert_late(q, &mut scratch);
    }
    g
}

/// `late_graph` with every third element (not the entry) cut off: no
/// layer-0 list links to it. On-disk inserts no longer strand the hub
/// rows (`tests_insert_cost`), so the pass is given work like what those
/// inserts left it before: 1,333 cut off, about 2,000 unreachable with
/// what only they reached (the inserts of 09871e0 left 988).
fn stranded_late_graph() -> MemGraph {
    let g = late_graph();
    let (ep, _) = g.entry().expect("entry");
    let cut = |i: usize| i % 3 == 1 && i != ep as usize;
    for i in 0..g.len() {
        let kept: Vec<u32> = g.neighbors(i, 0).into_iter().filter(|&x| !cut(x as usize)).collect();
        g.links.set(i, 0, &kept);
    }
    g
}

/// The pass must stay a small part of a build (limit 8 x cap: an
/// unreachable element asks full lists for a slot their selection would
/// not keep, up to one distance per nearer link, before it may cost one
/// a kept link; reachable ones take free slots only; 177 per link after
/// that change). On the late-insert graph (before on-disk inserts kept
/// their targets reachable) it linked about 1,500 elements. The pass of 2f9d14d computed 48
/// distances per element linked (76,507 in all; in CREATE INDEX on the
/// hub rows 72,180, 70-90 ms of a 3.1-3.4 s build); 67b9e1c's
/// `redundant` computes ~(cap+1)^2/2 for every full list asked: 442 per
/// element linked (630,692; in CREATE INDEX 661,518, 0.85-1.1 s of a
/// 3.8-5.0 s build).
#[test]
fn sparse_l2_reachability_pass_costs_few_distances_per_link() {
    let g = stranded_late_graph();
    let (made, between, lost) = counted_connect(&g, g.len());
    let per = between as f64 / made.max(1) as f64;
    println!("late-insert graph: linked {made}, {between} distances ({per:.0} per link), {lost} unreachable after");
    assert!(per <= 8.0 * g.params.max_neighbors(0) as f64, "{per:.0} distances per element linked");
}

/// After the pass (VACUUM's, on a graph of inserts) every live element
/// must be reachable: 67b9e1c leaves 25 of 4,000 unreachable, its parent
/// 2f9d14d 8.
#[test]
fn sparse_l2_late_inserts_all_reachable_after_pass() {
    let g = stranded_late_graph();
    let (made, _, lost) = counted_connect(&g, g.len());
    assert_eq!(lost, 0, "{lost} live elements unreachable after the pass (linked {made})");
}

/// A second pass over a finished build (what every VACUUM runs, also on
/// an unchanged index, e.g. autovacuum after inserts) should find little
/// left to do: 2f9d14d's computes 28,288 distances here (and still links
/// 704 elements), 67b9e1c's 451,144 (linking 616): the reachable elements
/// no redundant slot was found for are asked about again every time.
#[test]
fn sparse_l2_second_reachability_pass_is_cheap() {
    let g = hub_graph();
    let (made, between, lost) = counted_connect(&g, g.len());
    println!("second pass over the hub rows' graph: linked {made}, {between} distances, {lost} unreachable after");
    assert!(between <= 20 * g.len(), "{between} distances for a graph of {} elements", g.len());
}

/// The compact snapshot: ids that are not dense get a map (from the first
/// one on), a list longer than the slot is kept whole, unknown ids drop.
#[test]
fn adjacency_keeps_every_list_whole() {
    let mut dense = Adjacency::new(3, 2);
    for id in 0..3 {
        assert_eq!(dense.add(id, true), id as u32);
    }
    assert_eq!((dense.index_of(2), dense.index_of(3)), (Some(2), None));
    dense.add(70, false);
    assert_eq!((dense.index_of(1), dense.index_of(70), dense.index_of(3)), (Some(1), Some(3), None));

    let mut adj = Adjacency::new(4, 2);
    for id in [10, 20, 30, 40] {
        adj.add(id, true);
    }
    adj.set_list(0, &[20, 30, 99, 40]);
    adj.set_list(1, &[10]);
    assert_eq!((adj.list(0), adj.list(1), adj.list(2)), (&[1, 2, 3][..], &[0][..], &[][..]));
    adj.set_list(0, &[40, 99]);
    adj.set_list(1, &[30, 40, 10]);
    assert_eq!((adj.list(0), adj.list(1)), (&[3][..], &[2, 3, 0][..]));
    assert_eq!(adj.unreachable(10), vec![20, 30]);
    adj.set_list(3, &[20]);
    assert_eq!(adj.unreachable(10), vec![]);
    assert_eq!(adj.unreachable(30), vec![10, 20, 40]);
}

/// VACUUM's snapshot: ids in increasing order (item pointers read block by
/// block) need no map, so the pass runs on indexes as large as before the
/// compact snapshot (57 + 8m bytes an element then, a map of 24-48 bytes an
/// element on top of 35 + 8m at first).
#[test]
fn increasing_ids_need_no_map() {
    for n in [1000, 70_000] {
        let (m, cap) = (16, 32);
        let mut adj = Adjacency::new(n, cap);
        for k in 0..n as NodeId {
            adj.add((1 + k / 7) << 16 | (1 + 2 * (k % 7)), true);
        }
        for k in 0..n as u32 {
            let list: Vec<NodeId> = (1..=cap as u32).map(|d| adj.ids[((k + d * 37) % n as u32) as usize]).collect();
            adj.set_list(k, &list);
        }
        assert_eq!((adj.list(5).len(), adj.index_of(adj.ids[n - 1]), adj.index_of(3 << 16 | 2)), (cap, Some(n as u32 - 1), None));
        let held = adj.heap_bytes() + n * PASS_BYTES;
        assert!(held <= Adjacency::bytes(n, m, false), "{n}: {held} > {}", Adjacency::bytes(n, m, false));
        assert!(Adjacency::bytes(n, m, false) <= n * (57 + 8 * m), "{n}");
    }
}
