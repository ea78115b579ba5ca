//! [`DiskGraph`]: the HNSW graph on index pages, implementing the core's
//! [`Source`] and [`GraphStore`] traits for scans, inserts and VACUUM.
//!
//! Reads take one buffer share lock at a time. The neighbours of a hop are
//! read page by page: up to six pages are pinned first (through the buffer
//! each was last found in, which skips the buffer mapping table), the CPU
//! is told to prefetch their tuples, then each page is share-locked once
//! and every neighbour on it scored, its state and heap rows remembered
//! (not for one at or beyond the search's bound, which the search drops: a
//! continuation that comes back to it reads it again); an element's
//! neighbour list is read when the search expands it, its tuple fetched
//! into the CPU cache during the hop before (`Source::will_expand`). Values
//! stored in chunks are copied out and the element's lock released before
//! the chunks are read, one lock at a time. List updates are compare-and-set
//! under an exclusive lock in one WAL record. Any link that does not lead to
//! a well-formed element of this index reads as unreachable (infinite
//! distance), never as an error.

mod cache;
mod read;
mod write;

use cache::{file_of, SPARE};

use super::buffer::{nblocks, Lock, PageGuard, Pin};
use super::layout::*;
use super::meta::Meta;
use crate::prepared::Prepared;
use crate::space::{Bytes, Space};
use crate::hnsw::{NodeId, NodeMap, NodeSet};
use pgrx::pg_sys;
use std::rc::Rc;

const NONE: u32 = u32::MAX;
/// Pages of a hop pinned at once (below PostgreSQL's 8 array-tracked pins,
/// leaving room for the caller's own).
const PIN_WINDOW: usize = 6;

/// What a search learned about an element.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// [`ElementState`] byte, 0 when unreadable.
    state: u8,
    level: u8,
    ntids: u8,
    /// Layer of the cached neighbour list (`u8::MAX`: none).
    nbrs_layer: u8,
    nbrs_len: u16,
    neighbors: DiskTid,
    tids_at: u32,
    nbrs_at: u32,
    vec_at: u32,
    /// For a quantised value scored by a search: its minimum and step
    /// (NaN: not known), for the cheap bound of a scan's row without
    /// reading the element again.
    scale: [f32; 2],
}

const UNREADABLE: Entry = Entry {
    state: 0,
    level: 0,
    ntids: 0,
    nbrs_layer: u8::MAX,
    nbrs_len: 0,
    neighbors: DiskTid::NONE,
    tids_at: NONE,
    nbrs_at: NONE,
    vec_at: NONE,
    scale: [f32::NAN; 2],
};

/// The graph on pages, bound to one query vector at a time.
pub struct DiskGraph {
    index: pg_sys::Relation,
    /// The index's parameters (as read when this graph was opened).
    pub meta: Meta,
    strategy: pg_sys::BufferAccessStrategy,
    nblocks: u32,
    space: Space,
    query: Bytes,
    has_query: bool,
    /// The query prepared for its many distances (see [`Prepared`]).
    prepared: Prepared,
    exclude: Option<NodeId>,
    /// Elements VACUUM is removing: traversed, never results or links.
    pub removed: Rc<NodeSet>,
    keep_tids: bool,
    /// Lean mode: remember only the last element read (long iterative
    /// scans, whose memory must stay within work_mem).
    lean: bool,
    last: Option<(NodeId, Entry)>,
    info: NodeMap<u32>,
    entries: Vec<Entry>,
    tids: Vec<DiskTid>,
    nbrs: Vec<NodeId>,
    /// Values read for distances between elements, 8-aligned each.
    vecs: Bytes,
    value_buf: Bytes,
    /// (block, position) pairs: neighbours grouped by page.
    order: Vec<(u32, u32)>,
    /// Elements whose values a batch read needs.
    need: Vec<NodeId>,
    /// Per block, the shared buffer it was last found in (0: unknown).
    hints: Vec<pg_sys::Buffer>,
    /// The index's relfilenode, which the hints are for (read when the
    /// graph is opened: a graph may be dropped after its relation closed).
    file: (u32, u32, u32),
    /// A hop's pages: (start, end) in `order` and the pin (None: no such block).
    groups: Vec<(usize, usize, Option<Pin>)>,
    /// A hop's tuples in the order they are scored: the page they were
    /// last found on (a prefetch hint) and their offset.
    ahead: Vec<(Option<pg_sys::Page>, u16)>,
    /// The neighbour tuple a search will likely read next: (buffer hint,
    /// offset, tuple size), whose line pointer is being fetched.
    expand_hint: Option<(pg_sys::Buffer, u16, usize)>,
    /// The elements of the last [`Source::distances`] and their state
    /// bytes (in the order asked), and where `is_result` looks next.
    batch: Vec<(NodeId, u8)>,
    batch_at: usize,
}

impl DiskGraph {
    /// A graph over `index` with parameters `meta`; `keep_tids` makes it
    /// remember the heap rows of live elements it reads (scans).
    pub fn new(index: pg_sys::Relation, meta: Meta, keep_tids: bool) -> Self {
        let mut g = DiskGraph {
            index,
            meta,
            strategy: std::ptr::null_mut(),
            nblocks: nblocks(index),
            space: meta.space(),
            query: Bytes::default(),
            has_query: false,
            prepared: Prepared::default(),
            exclude: None,
            removed: Rc::new(NodeSet::default()),
            keep_tids,
            lean: false,
            last: None,
            info: NodeMap::new(NONE),
            entries: Vec::new(),
            tids: Vec::new(),
            nbrs: Vec::new(),
            vecs: Bytes::default(),
            value_buf: Bytes::default(),
            order: Vec::new(),
            need: Vec::new(),
            hints: Vec::new(),
            file: file_of(index),
            groups: Vec::new(),
            ahead: Vec::new(),
            expand_hint: None,
            batch: Vec::new(),
            batch_at: 0,
        };
        if let Some(c) = SPARE.try_with(|s| s.borrow_mut().take()).ok().flatten() {
            g.adopt(c);
        }
        g
    }

    /// Takes newer parameters (a rescan re-reads the metapage).
    pub fn set_meta(&mut self, meta: Meta) {
        self.meta = meta;
        self.space = meta.space();
        self.nblocks = nblocks(self.index);
        self.prepare_query();
    }

    /// Prepares the bound query for the current space.
    fn prepare_query(&mut self) {
        match self.has_query {
            true => self.prepared.load(self.space, &self.query),
            false => self.prepared.clear(),
        }
    }

    /// Reads pages through `strategy` (VACUUM's ring buffer).
    pub fn with_strategy(mut self, strategy: pg_sys::BufferAccessStrategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// The index relation.
    pub fn index(&self) -> pg_sys::Relation {
        self.index
    }

    /// Binds a new query (in the space's query form; `None`: every
    /// distance is 0, as for a NULL query), excluding `exclude` from
    /// results; forgets what earlier searches learned.
    pub fn reset(&mut self, query: Option<&[u8]>, exclude: Option<NodeId>) {
        self.query.clear();
        if let Some(q) = query {
            self.query.extend(q);
        }
        self.has_query = query.is_some();
        self.prepare_query();
        self.exclude = exclude;
        self.lean = false;
        self.last = None;
        self.info.clear();
        self.entries.clear();
        self.tids.clear();
        self.nbrs.clear();
        self.vecs.clear();
    }

    /// Switches to lean mode for the rest of this search: what was learned
    /// is dropped, and from now on only the last element read is
    /// remembered (every expansion and result re-reads its page).
    pub fn set_lean(&mut self) {
        self.lean = true;
        self.last = None;
        self.info = NodeMap::new(NONE);
        self.entries = Vec::new();
        self.tids = Vec::new();
        self.nbrs = Vec::new();
        self.vecs = Bytes::default();
    }

    /// Bytes held by the caches (for a scan's memory budget).
    pub fn heap_bytes(&self) -> usize {
        self.info.heap_bytes()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.tids.capacity() * 6
            + self.nbrs.capacity() * 8
            + self.vecs.len()
    }

    fn lock(&mut self, block: u32, mode: Lock) -> PageGuard {
        if !self.strategy.is_null() {
            return PageGuard::lock_with(self.index, block, mode, self.strategy);
        }
        PageGuard::lock_pinned(self.pin(block), mode)
    }

    /// Pins `block`, through the buffer it was last found in if that still
    /// holds it (most pages of a search were read by earlier searches).
    fn pin(&mut self, block: u32) -> Pin {
        if !self.strategy.is_null() {
            return Pin::new(self.index, block, self.strategy);
        }
        let hint = self.hints.get(block as usize).copied().unwrap_or(0);
        if let Some(p) = Pin::recent(self.index, block, hint) {
            return p;
        }
        let p = Pin::new(self.index, block, self.strategy);
        if self.hints.len() <= block as usize {
            self.hints.resize(block as usize + 1, 0);
        }
        self.hints[block as usize] = p.buffer();
        p
    }

    /// Whether `tid` can name an item of this index's graph pages.
    fn in_range(&mut self, tid: DiskTid) -> bool {
        if !tid.is_valid() || tid.block() == 0 {
            return false;
        }
        if tid.block() >= self.nblocks {
            self.nblocks = nblocks(self.index);
        }
        tid.block() < self.nblocks
    }

    fn entry(&self, id: NodeId) -> Option<Entry> {
        if self.lean {
            return self.last.filter(|(l, _)| *l == id).map(|(_, e)| e);
        }
        self.info.get(id).map(|&i| self.entries[i as usize])
    }

    fn record(&mut self, id: NodeId, e: Entry) -> usize {
        if self.lean {
            self.last = Some((id, e));
            return usize::MAX;
        }
        match self.info.get(id) {
            Some(&i) => {
                self.entries[i as usize] = e;
                i as usize
            }
            None => {
                self.info.insert(id, self.entries.len() as u32);
                self.entries.push(e);
                self.entries.len() - 1
            }
        }
    }
}
