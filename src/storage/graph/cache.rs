//! A graph's memory kept by the backend between graphs (statements):
//! the tables a search grows and the buffer hints for the index's file.

use super::{DiskGraph, Entry, NONE};
use crate::hnsw::{NodeId, NodeMap};
use crate::space::Bytes;
use crate::storage::layout::DiskTid;
use pgrx::pg_sys;

/// A graph's per-search memory. When a graph is dropped its memory stays
/// with the backend (up to [`SPARE_LIMIT`]) for the next graph, so a query
/// or an insert does not grow its tables from scratch every time, and pages
/// are found through the buffers they were last seen in.
pub(super) struct Caches {
    info: NodeMap<u32>,
    entries: Vec<Entry>,
    tids: Vec<DiskTid>,
    nbrs: Vec<NodeId>,
    vecs: Bytes,
    value_buf: Bytes,
    order: Vec<(u32, u32)>,
    /// The buffer hints and the relfilenode they are for.
    hints: Vec<pg_sys::Buffer>,
    hints_of: (u32, u32, u32),
}

/// A backend keeps at most this much graph memory between statements (a
/// search at ef_search 100 over a million rows needs about a megabyte).
const SPARE_LIMIT: usize = 2 << 20;

thread_local! {
    /// A backend is one thread; a second graph open at the same time (a
    /// nested scan) simply starts without spare memory.
    pub(super) static SPARE: std::cell::RefCell<Option<Caches>> = const { std::cell::RefCell::new(None) };
}

impl Caches {
    /// Forgets the contents, keeping the memory (and the hints: they stay
    /// true for the same file).
    fn clear(&mut self) {
        self.info.clear();
        self.entries.clear();
        self.tids.clear();
        self.nbrs.clear();
        self.vecs.clear();
    }

    /// Bytes held.
    fn heap_bytes(&self) -> usize {
        self.info.heap_bytes()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.tids.capacity() * 6
            + self.nbrs.capacity() * 8
            + self.vecs.len()
            + self.value_buf.len()
            + self.hints.capacity() * 4
    }
}

/// An index's relfilenode (buffer hints are only good for the same file).
pub(super) fn file_of(index: pg_sys::Relation) -> (u32, u32, u32) {
    // SAFETY: an open relation.
    let n = unsafe { (*index).rd_node };
    (n.spcNode.into(), n.dbNode.into(), n.relNode.into())
}

impl DiskGraph {
    /// Takes over the memory a dropped graph left (emptied when it was kept).
    pub(super) fn adopt(&mut self, c: Caches) {
        (self.info, self.entries, self.tids, self.nbrs, self.vecs, self.value_buf, self.order) =
            (c.info, c.entries, c.tids, c.nbrs, c.vecs, c.value_buf, c.order);
        if c.hints_of == self.file {
            self.hints = c.hints;
        }
    }

}

impl Drop for DiskGraph {
    fn drop(&mut self) {
        let mut c = Caches {
            info: std::mem::replace(&mut self.info, NodeMap::new(NONE)),
            entries: std::mem::take(&mut self.entries),
            tids: std::mem::take(&mut self.tids),
            nbrs: std::mem::take(&mut self.nbrs),
            vecs: std::mem::take(&mut self.vecs),
            value_buf: std::mem::take(&mut self.value_buf),
            order: std::mem::take(&mut self.order),
            hints_of: self.file,
            hints: std::mem::take(&mut self.hints),
        };
        if c.heap_bytes() <= SPARE_LIMIT {
            c.clear();
            let _ = SPARE.try_with(|s| *s.borrow_mut() = Some(c));
        }
    }
}
