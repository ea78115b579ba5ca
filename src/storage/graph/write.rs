//! The writing side of [`DiskGraph`]: the core's [`GraphStore`] (values
//! loaded a hop at a time for distances between elements, neighbour lists
//! replaced by compare-and-set under an exclusive lock in one WAL record).

use super::{DiskGraph, Entry, NONE, UNREADABLE};
use crate::hnsw::{self, GraphStore, NodeId, Replace};
use crate::storage::buffer::{Lock, WalGuard};
use crate::storage::layout::*;
use crate::storage::pages;
use pgrx::pg_sys;

impl DiskGraph {
    /// Reads the values of those of `ids` not cached yet, a hop's worth of
    /// pages at a time (for the distances between elements that follow).
    fn load_values(&mut self, ids: &[NodeId]) {
        if self.lean || self.meta.shape.chunks() > 0 {
            return;
        }
        let mut need = std::mem::take(&mut self.need);
        need.clear();
        need.extend(ids.iter().copied().filter(|&id| self.entry(id).is_none_or(|e| e.state != 0 && e.vec_at == NONE)));
        if need.len() > 1 {
            self.on_pages(&need, |g, page, k| g.load_locked(page, need[k]));
        }
        self.need = need;
    }

    /// Records element `id` on its locked page with its value cached.
    fn load_locked(&mut self, page: pg_sys::Page, id: NodeId) {
        let tid = DiskTid::from_node(id);
        let shape = self.meta.shape;
        let Some(view) = pages::element(page, tid.offset, &shape) else {
            self.record(id, UNREADABLE);
            return;
        };
        let state = view.state();
        let mut e = Entry { state: state as u8, level: view.header.level, neighbors: view.header.neighbors, ..UNREADABLE };
        if let Some(old) = self.entry(id) {
            e.nbrs_at = old.nbrs_at;
            e.nbrs_len = old.nbrs_len;
            e.nbrs_layer = old.nbrs_layer;
            e.tids_at = old.tids_at;
            e.ntids = old.ntids;
        }
        if state != ElementState::Reusable {
            e.vec_at = self.vecs.push_aligned(view.inline) as u32;
        }
        self.record(id, e);
    }
}

impl GraphStore for DiskGraph {
    fn prepare(&mut self, ids: &[NodeId]) {
        self.load_values(ids);
    }

    fn between(&mut self, a: NodeId, b: NodeId) -> f64 {
        let (Some(x), Some(y)) = (self.cached_vector(a), self.cached_vector(b)) else { return hnsw::UNREADABLE };
        let (x, y) = (x as usize, y as usize);
        let (nx, ny) = (self.meta.shape.stored_len(&self.vecs[x..]), self.meta.shape.stored_len(&self.vecs[y..]));
        match (self.vecs.get(x..x + nx), self.vecs.get(y..y + ny)) {
            (Some(a), Some(b)) => self.space.between(a, b),
            _ => hnsw::UNREADABLE,
        }
    }

    fn is_live(&mut self, id: NodeId) -> bool {
        (self.removed.is_empty() || !self.removed.contains(id)) && matches!(self.state(id), Some((ElementState::Live, _)))
    }

    fn read_list(&mut self, id: NodeId, layer: usize, out: &mut Vec<NodeId>) -> bool {
        out.clear();
        let Some(ntid) = self.neighbor_tid(id) else { return false };
        if !self.in_range(ntid) {
            return false;
        }
        let m = self.meta.params.m;
        let g = self.lock(ntid.block(), Lock::Share);
        let Some(mut view) = pages::neighbors(g.page(), ntid.offset, m) else { return false };
        if layer > view.header.capacity_level as usize {
            return false;
        }
        out.extend(view.layer(m, layer).iter().filter(|t| t.is_valid() && t.block() != 0).map(|t| t.node()));
        true
    }

    fn replace_list(&mut self, id: NodeId, layer: usize, expected: &[NodeId], new: &[NodeId]) -> Replace {
        let Some(ntid) = self.neighbor_tid(id) else { return Replace::Gone };
        if !self.in_range(ntid) {
            return Replace::Gone;
        }
        let m = self.meta.params.m;
        let g = self.lock(ntid.block(), Lock::Exclusive);
        let mut wal = WalGuard::start(self.index);
        let page = wal.register(&g, false);
        let Some(mut view) = pages::neighbors(page, ntid.offset, m) else { return Replace::Gone };
        if layer > view.header.capacity_level as usize {
            return Replace::Gone;
        }
        let slots = view.layer(m, layer);
        let current = slots.iter().filter(|t| t.is_valid() && t.block() != 0).map(|t| t.node());
        if !current.eq(expected.iter().copied()) {
            return Replace::Changed; // the record is dropped unfinished
        }
        for (i, s) in slots.iter_mut().enumerate() {
            *s = new.get(i).map_or(DiskTid::NONE, |&x| DiskTid::from_node(x));
        }
        wal.finish();
        drop(g);
        if let Some(&i) = self.info.get(id).filter(|_| !self.lean) {
            // a cached copy of this list is stale now
            self.entries[i as usize].nbrs_layer = u8::MAX;
        }
        Replace::Done
    }
}
