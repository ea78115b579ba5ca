//! [`MemStore`]: the [`Source`] and [`GraphStore`] of a [`MemGraph`],
//! bound to one query. A build's inserts search on the graph's codes
//! when it has them (see [`super::codes`]) and score exactly what they
//! keep; every other search is exact.

use super::mem::MemGraph;
use super::{GraphStore, NodeId, Replace, Source};
use crate::prepared::Prepared;
use std::sync::atomic::Ordering;

/// A search/insert handle on a [`MemGraph`] bound to one query vector.
pub struct MemStore<'a> {
    pub(super) graph: &'a MemGraph,
    pub(super) query: &'a [u8],
    pub(super) exclude: Option<u32>,
    /// The query in code space: searches then run on the graph's codes.
    pub(super) code_query: Option<&'a [u8]>,
    /// The query prepared for its distances (see [`Prepared`]).
    pub(super) prepared: Prepared,
    /// A build's store: sparse L2 and L1 are taken apart (see
    /// [`crate::prepared`]), not merged.
    pub(super) build: bool,
    /// The element `between` last prepared as its first operand (lists
    /// are pruned and neighbours chosen one base element at a time).
    pub(super) left: Option<(NodeId, Prepared)>,
}

impl MemStore<'_> {
    /// Asks the CPU to start loading what `distance(id)` reads.
    #[inline]
    fn prefetch(&self, id: NodeId) {
        let i = id as usize;
        if i >= self.graph.len() {
            return;
        }
        match (self.code_query, self.graph.codes.as_ref()) {
            (Some(_), Some(codes)) => crate::distance::prefetch(codes.get(i)),
            _ if self.prepared.is_loaded() => {
                // a prepared sparse query reads the stored indices and
                // only the few values at common ones: the header and index
                // half of an unpadded value
                let v = self.graph.value(i);
                crate::distance::prefetch(&v[..((v.len() + 8) / 2).min(v.len())]);
            }
            _ => crate::distance::prefetch(self.graph.value(i)),
        }
    }

    #[inline]
    fn deleted(&self, id: NodeId) -> bool {
        self.graph.deleted.get(id as usize).is_none_or(|d| d.load(Ordering::Relaxed))
    }
}

impl Source for MemStore<'_> {
    #[inline]
    fn distance(&mut self, id: NodeId, layer: usize, _bound: f64) -> f64 {
        let i = id as usize;
        if i >= self.graph.len() {
            return super::UNREADABLE;
        }
        if let (Some(q), Some(codes)) = (self.code_query, self.graph.codes.as_ref()) {
            return codes.distance(q, i);
        }
        self.exact(id, layer)
    }

    fn approximate(&self) -> bool {
        self.code_query.is_some() && self.graph.codes.is_some()
    }

    #[inline]
    fn exact(&mut self, id: NodeId, _layer: usize) -> f64 {
        match self.graph.levels.get(id as usize) {
            Some(_) if !self.query.is_empty() => self.prepared.distance(self.graph.space, self.query, self.graph.value(id as usize)),
            Some(_) => 0.0,
            None => super::UNREADABLE,
        }
    }

    fn distances(&mut self, ids: &[NodeId], layer: usize, bound: f64, out: &mut Vec<f64>) {
        // random vectors come from DRAM: fetch a few ahead of the one being
        // computed so their loads overlap the arithmetic
        // (a variable-size value's place is itself a load: it goes first)
        const AHEAD: usize = 3;
        for &id in ids.iter().take(2 * AHEAD) {
            self.graph.values_prefetch_place(id as usize);
        }
        for &id in ids.iter().take(AHEAD) {
            self.prefetch(id);
        }
        for (k, &id) in ids.iter().enumerate() {
            if let Some(&next) = ids.get(k + 2 * AHEAD) {
                self.graph.values_prefetch_place(next as usize);
            }
            if let Some(&next) = ids.get(k + AHEAD) {
                self.prefetch(next);
            }
            let d = self.distance(id, layer, bound);
            out.push(d);
        }
    }

    fn neighbors(&mut self, id: NodeId, layer: usize, out: &mut Vec<NodeId>) {
        self.graph.links.read_into(id as usize, layer, out);
    }

    fn will_expand(&mut self, id: NodeId, layer: usize) {
        if layer == 0 {
            self.graph.links.prefetch(id as usize);
        }
    }

    #[inline]
    fn is_result(&mut self, id: NodeId) -> bool {
        Some(id as u32) != self.exclude && !self.deleted(id)
    }
}

impl GraphStore for MemStore<'_> {
    fn prepare(&mut self, ids: &[NodeId]) {
        // `between` is about to read these vectors (a list being pruned,
        // candidates scored exactly): start all their loads at once
        for &id in ids {
            if (id as usize) < self.graph.len() {
                crate::distance::prefetch(self.graph.value(id as usize));
            }
        }
    }

    #[inline]
    fn between(&mut self, a: NodeId, b: NodeId) -> f64 {
        let n = self.graph.len() as NodeId;
        if a >= n || b >= n {
            return super::UNREADABLE;
        }
        let space = self.graph.space;
        let (x, y) = (self.graph.value(a as usize), self.graph.value(b as usize));
        if !Prepared::helps(space, self.build) {
            return space.between(x, y);
        }
        // a stored value is its own query form in these spaces
        let left = self.left.get_or_insert_with(|| (a, Prepared::default()));
        if left.0 != a || !left.1.is_loaded() {
            left.0 = a;
            left.1.load_with(space, x, self.build);
        }
        left.1.distance(space, x, y)
    }

    fn is_live(&mut self, id: NodeId) -> bool {
        !self.deleted(id)
    }

    fn read_list(&mut self, id: NodeId, layer: usize, out: &mut Vec<NodeId>) -> bool {
        out.clear();
        if self.build {
            return self.graph.links.read_into(id as usize, layer, out);
        }
        // inserts after the build (the on-disk insert's model) read a list
        // whole, as a page read under its buffer lock does: a proof that a
        // list links somewhere must not come from a half-rewritten one
        let read = self.graph.links.with_list(id as usize, layer, |list| {
            out.extend(list.iter().map(|&x| x as NodeId));
            (false, ())
        });
        read.is_some()
    }

    fn replace_list(&mut self, id: NodeId, layer: usize, expected: &[NodeId], new: &[NodeId]) -> Replace {
        let done = self.graph.links.with_list(id as usize, layer, |list| {
            if list.len() != expected.len() || list.iter().zip(expected).any(|(&a, &b)| a as NodeId != b) {
                return (false, Replace::Changed);
            }
            list.clear();
            list.extend(new.iter().map(|&x| x as u32));
            (true, Replace::Done)
        });
        done.unwrap_or(Replace::Gone)
    }
}
