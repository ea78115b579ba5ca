//! Review of the on-disk insert's second reads of its proofs' lists
//! (`bypass::broken_proofs`): what they cost in list reads.

use super::dedup::Values;
use super::insert::{find_neighbors, link_back, LinkPolicy};
use super::memstore::MemStore;
use super::*;
use crate::distance::Metric;
use crate::rng::Rng;
use crate::space::Space;

/// A store counting the reads of one element's lists.
struct Watch<'a> {
    inner: MemStore<'a>,
    id: NodeId,
    reads: usize,
    of_id: usize,
}

impl Source for Watch<'_> {
    fn distance(&mut self, id: NodeId, layer: usize, bound: f64) -> f64 {
        self.inner.distance(id, layer, bound)
    }
    fn neighbors(&mut self, id: NodeId, layer: usize, out: &mut Vec<NodeId>) {
        self.inner.neighbors(id, layer, out)
    }
    fn is_result(&mut self, id: NodeId) -> bool {
        self.inner.is_result(id)
    }
}

impl GraphStore for Watch<'_> {
    fn prepare(&mut self, ids: &[NodeId]) {
        self.inner.prepare(ids)
    }
    fn between(&mut self, a: NodeId, b: NodeId) -> f64 {
        self.inner.between(a, b)
    }
    fn is_live(&mut self, id: NodeId) -> bool {
        self.inner.is_live(id)
    }
    fn read_list(&mut self, id: NodeId, layer: usize, out: &mut Vec<NodeId>) -> bool {
        self.reads += 1;
        self.of_id += usize::from(id == self.id);
        self.inner.read_list(id, layer, out)
    }
    fn replace_list(&mut self, id: NodeId, layer: usize, expected: &[NodeId], new: &[NodeId]) -> Replace {
        self.inner.replace_list(id, layer, expected, new)
    }
}

/// Dense random rows inserted one by one as `insert_late` does, m = 16:
/// (list reads per insert, reads of the new element's own list per
/// insert) during `link_back`.
fn link_back_reads(n: usize, dim: usize) -> (f64, f64) {
    let p = Params { m: 16, ef_construction: 64, metric: Metric::L2, max_level: MAX_LEVEL };
    let mut rng = Rng::new(5);
    let flat: Vec<f32> = (0..n * dim).map(|_| rng.uniform() as f32).collect();
    let mut g = MemGraph::with_members(p, Space::F32 { metric: p.metric, dims: dim }, Values::from_f32(dim, &flat), 42, vec![0]);
    g.build(1, &mut |_| true).unwrap();
    let mut scratch = Scratch::dense(n);
    let (mut reads, mut own) = (0, 0);
    for q in 1..n {
        let level = g.level(q);
        let (ep, top) = g.entry().expect("entry");
        let query = g.space.query_of_value(g.value(q));
        let mut store = Watch { inner: g.store(&query, Some(q as u32)), id: q as NodeId, reads: 0, of_id: 0 };
        let found = find_neighbors(&mut store, (ep as NodeId, top), level, &g.params, &mut scratch);
        for (layer, sel) in found.selected.iter().enumerate() {
            let ids: Vec<u32> = sel.iter().map(|c| c.id as u32).collect();
            g.links.set(q, layer, &ids);
        }
        store.reads = 0;
        link_back(&mut store, q as NodeId, &found.selected, found.candidates.first().map_or(&[], Vec::as_slice), &g.params, &LinkPolicy::DISK);
        if level > top {
            *g.entry.write().unwrap() = Some((q as u32, level));
        }
        (reads, own) = (reads + store.reads, own + store.of_id);
    }
    let k = (n - 1) as f64;
    (reads as f64 / k, own as f64 / k)
}

/// Prunings that proved their drops through the new element's list (which
/// the insert wrote itself and passes along: no read) each read that list
/// again once written: a dozen reads of the same list per insert on dense
/// rows, a quarter of what linking back reads. Once per insert suffices
/// (a second read may come as late as wanted after the write).
#[test]
fn proofs_through_one_list_read_it_again_once() {
    let (reads, own) = link_back_reads(2000, 32);
    println!("dense 2,000 x 32: {reads:.1} list reads per link_back, {own:.2} of the new element's own list");
    assert!(own <= 1.5, "{own:.2} reads of the new element's list per insert");
}
