//! [`DiskGraph`]: the HNSW graph on index pages, implementing the core's
//! [`Source`] and [`GraphStore`] traits for scans, inserts and VACUUM.
//!
//! Reads take one buffer share lock at a time. The neighbours of a hop are
//! read page by page: up to six pages are pinned first (through the buffer
//! each was last found in, which skips the buffer mapping table), the CPU
//! is told to prefetch their tuples, then each page is share-locked once
//! and every neighbour on it scored, its state and heap rows remembered; an
//! element's neighbour list is read when the search expands it. Values
//! stored in chunks are copied out and the element's lock released before
//! the chunks are read, one lock at a time. List updates are compare-and-set
//! under an exclusive lock in one WAL record. Any link that does not lead to
//! a well-formed element of this index reads as unreachable (infinite
//! distance), never as an error.

use super::buffer::{nblocks, Lock, PageGuard, Pin, WalGuard};
use super::layout::*;
use super::meta::Meta;
use super::pages;
use crate::space::{Bytes, Space};
use crate::hnsw::{self, GraphStore, NodeId, NodeMap, NodeSet, Replace, Source};
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
}

const UNREADABLE: Entry =
    Entry { state: 0, level: 0, ntids: 0, nbrs_layer: u8::MAX, nbrs_len: 0, neighbors: DiskTid::NONE, tids_at: NONE, nbrs_at: NONE, vec_at: NONE };

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
}

/// A graph's per-search memory. When a graph is dropped its memory stays
/// with the backend (up to [`SPARE_LIMIT`]) for the next graph, so a query
/// or an insert does not grow its tables from scratch every time, and pages
/// are found through the buffers they were last seen in.
struct Caches {
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
    static SPARE: std::cell::RefCell<Option<Caches>> = const { std::cell::RefCell::new(None) };
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
fn file_of(index: pg_sys::Relation) -> (u32, u32, u32) {
    // SAFETY: an open relation.
    let n = unsafe { (*index).rd_node };
    (n.spcNode.into(), n.dbNode.into(), n.relNode.into())
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
        };
        if let Some(c) = SPARE.try_with(|s| s.borrow_mut().take()).ok().flatten() {
            g.adopt(c);
        }
        g
    }

    /// Takes over the memory a dropped graph left (emptied when it was kept).
    fn adopt(&mut self, c: Caches) {
        (self.info, self.entries, self.tids, self.nbrs, self.vecs, self.value_buf, self.order) =
            (c.info, c.entries, c.tids, c.nbrs, c.vecs, c.value_buf, c.order);
        if c.hints_of == self.file {
            self.hints = c.hints;
        }
    }

    /// Takes newer parameters (a rescan re-reads the metapage).
    pub fn set_meta(&mut self, meta: Meta) {
        self.meta = meta;
        self.space = meta.space();
        self.nblocks = nblocks(self.index);
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

    /// Reads element `id`: records what is known of it and, when `value`
    /// is set, copies its whole value into `value_buf`. When `copy_layer`
    /// is set, its neighbour list on that layer is cached if the neighbour
    /// tuple shares the page. Returns the entry, or None if unreadable.
    fn read_element(&mut self, id: NodeId, value: bool, copy_layer: Option<usize>) -> Option<Entry> {
        let tid = DiskTid::from_node(id);
        if !self.in_range(tid) {
            self.record(id, UNREADABLE);
            return None;
        }
        let shape = self.meta.shape;
        let m = self.meta.params.m;
        let g = self.lock(tid.block(), Lock::Share);
        let Some(view) = pages::element(g.page(), tid.offset, &shape) else {
            drop(g);
            self.record(id, UNREADABLE);
            return None;
        };
        let state = view.state();
        let mut e = Entry {
            state: state as u8,
            level: view.header.level,
            ntids: 0,
            nbrs_layer: u8::MAX,
            nbrs_len: 0,
            neighbors: view.header.neighbors,
            tids_at: NONE,
            nbrs_at: NONE,
            vec_at: NONE,
        };
        let next = view.header.next;
        if value && state != ElementState::Reusable {
            self.value_buf.set(view.inline);
        }
        if self.keep_tids && !self.lean && state == ElementState::Live {
            e.tids_at = self.tids.len() as u32;
            e.ntids = view.heap_tids().len() as u8;
            self.tids.extend_from_slice(view.heap_tids());
        }
        if let Some(layer) = copy_layer.filter(|_| !self.lean) {
            if state != ElementState::Reusable && e.neighbors.block() == tid.block() && layer <= e.level as usize {
                if let Some(mut n) = pages::neighbors(g.page(), e.neighbors.offset, m) {
                    e.nbrs_at = self.nbrs.len() as u32;
                    let before = self.nbrs.len();
                    self.nbrs.extend(n.layer(m, layer).iter().filter(|t| t.is_valid() && t.block() != 0).map(|t| t.node()));
                    e.nbrs_len = (self.nbrs.len() - before) as u16;
                    e.nbrs_layer = layer as u8;
                }
            }
        }
        drop(g);
        if value && state != ElementState::Reusable && next.is_valid() && !self.read_chunks(next) {
            self.record(id, UNREADABLE);
            return None;
        }
        self.record(id, e);
        Some(e)
    }

    /// Appends the value's chunks to `value_buf`, one page lock at a time.
    fn read_chunks(&mut self, mut next: DiskTid) -> bool {
        let want = self.meta.shape.stored_len(&self.value_buf);
        while next.is_valid() {
            if !self.in_range(next) || self.value_buf.len() >= want {
                return false;
            }
            let g = self.lock(next.block(), Lock::Share);
            let Some(c) = pages::chunk(g.page(), next.offset) else { return false };
            if self.value_buf.len() + c.data.len() > want {
                return false;
            }
            self.value_buf.extend(c.data);
            next = c.header.next;
        }
        self.value_buf.len() == want
    }

    /// Distance from the query to the value in `value_buf`.
    fn query_distance(&self) -> f64 {
        if !self.has_query {
            return 0.0;
        }
        self.space.distance(&self.query, &self.value_buf)
    }

    /// Element `id`'s value, cached (for distances between elements).
    fn cached_vector(&mut self, id: NodeId) -> Option<u32> {
        if let Some(e) = self.entry(id) {
            if e.vec_at != NONE {
                return Some(e.vec_at);
            }
            if e.state == 0 {
                return None;
            }
        }
        let e = self.read_element(id, true, None)?;
        if e.state == ElementState::Reusable as u8 {
            return None;
        }
        let at = self.vecs.push_aligned(&self.value_buf) as u32;
        let i = self.record(id, Entry { vec_at: at, ..e });
        (i != usize::MAX).then_some(at)
    }

    /// Element `id`'s stored value (normalised for cosine).
    pub fn value(&mut self, id: NodeId) -> Option<Bytes> {
        let at = self.cached_vector(id)? as usize;
        let n = self.meta.shape.stored_len(&self.vecs[at..]);
        self.vecs.get(at..at + n).map(Bytes::from_slice)
    }

    /// Whether scans must report lower bounds (a lossy space and a query).
    pub fn reports_bounds(&self) -> bool {
        self.space.is_lossy() && self.has_query
    }

    /// For a lossy space, a value the operator's exact distance between
    /// the query and element `id`'s vector is never below (-inf if the
    /// element can no longer be read); None for exact spaces.
    pub fn lower_bound(&mut self, id: NodeId) -> Option<f64> {
        if !self.reports_bounds() {
            return None;
        }
        let n = self.meta.shape.value_bytes;
        let at = if self.lean { None } else { self.cached_vector(id) };
        let bound = match at {
            Some(at) => self.space.lower_bound(&self.query, &self.vecs[at as usize..at as usize + n]),
            // a lean (long iterative) scan keeps no values: read it again
            None => match self.read_element(id, true, None) {
                Some(_) if self.value_buf.len() == n => self.space.lower_bound(&self.query, &self.value_buf),
                _ => None,
            },
        };
        Some(bound.unwrap_or(f64::NEG_INFINITY))
    }

    /// The heap rows of live element `id` into `out` (cleared first): from
    /// what the search kept, else read again.
    pub fn heap_tids(&mut self, id: NodeId, out: &mut Vec<DiskTid>) {
        out.clear();
        if let Some(e) = self.entry(id) {
            if e.tids_at != NONE {
                out.extend_from_slice(&self.tids[e.tids_at as usize..e.tids_at as usize + e.ntids as usize]);
                return;
            }
        }
        let tid = DiskTid::from_node(id);
        if !self.in_range(tid) {
            return;
        }
        let g = self.lock(tid.block(), Lock::Share);
        if let Some(v) = pages::element(g.page(), tid.offset, &self.meta.shape) {
            if v.state() == ElementState::Live {
                out.extend_from_slice(v.heap_tids());
            }
        }
    }

    /// Element `id`'s state and level, reading it if needed.
    pub fn state(&mut self, id: NodeId) -> Option<(ElementState, usize)> {
        let e = match self.entry(id) {
            Some(e) => e,
            None => self.read_element(id, false, None)?,
        };
        Some((ElementState::from_byte(e.state)?, e.level as usize))
    }

    /// Element `id`'s neighbour tuple pointer.
    fn neighbor_tid(&mut self, id: NodeId) -> Option<DiskTid> {
        let e = match self.entry(id) {
            Some(e) if e.state != 0 => e,
            Some(_) => return None,
            None => self.read_element(id, false, None)?,
        };
        (e.state != ElementState::Reusable as u8).then_some(e.neighbors)
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

impl DiskGraph {
    /// Calls `visit(self, page, k)` for every `ids[k]` with its page share
    /// locked; elements of unreadable blocks are recorded as such. Elements
    /// that share a page are read under one lock; the pages are pinned a
    /// window at a time and their tuples prefetched first, so the cache
    /// misses of a hop overlap instead of following each other.
    fn on_pages(&mut self, ids: &[NodeId], mut visit: impl FnMut(&mut Self, pg_sys::Page, usize)) {
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend(ids.iter().enumerate().map(|(k, &id)| (DiskTid::from_node(id).block(), k as u32)));
        order.sort_unstable();
        let mut groups = std::mem::take(&mut self.groups);
        groups.clear();
        let mut i = 0;
        while i < order.len() {
            let block = order[i].0;
            let mut j = i;
            while j < order.len() && order[j].0 == block {
                j += 1;
            }
            if let Some(&h) = self.hints.get(block as usize) {
                Pin::prefetch_header(h);
            }
            groups.push((i, j, None));
            i = j;
        }
        // at most PIN_WINDOW pages pinned at once: PostgreSQL tracks a
        // backend's first 8 pins in an array, more go to a hash table
        let size = self.meta.shape.element_size();
        for window in groups.chunks_mut(PIN_WINDOW) {
            for g in window.iter_mut() {
                let block = order[g.0].0;
                if self.in_range(DiskTid::from_node(ids[order[g.0].1 as usize])) {
                    g.2 = Some(self.pin(block));
                }
            }
            for (i, j, pin) in window.iter() {
                if let Some(p) = pin {
                    for &(_, k) in &order[*i..*j] {
                        pages::prefetch_line_pointer(p.page(), DiskTid::from_node(ids[k as usize]).offset);
                    }
                }
            }
            for (i, j, pin) in window.iter() {
                if let Some(p) = pin {
                    for &(_, k) in &order[*i..*j] {
                        pages::prefetch_item(p.page(), DiskTid::from_node(ids[k as usize]).offset, size);
                    }
                }
            }
            for (i, j, pin) in window.iter_mut() {
                match pin.take() {
                    Some(p) => {
                        let g = p.share();
                        for &(_, k) in &order[*i..*j] {
                            visit(self, g.page(), k as usize);
                        }
                    }
                    None => {
                        for &(_, k) in &order[*i..*j] {
                            self.record(ids[k as usize], UNREADABLE);
                        }
                    }
                }
            }
        }
        groups.clear();
        self.groups = groups;
        self.order = order;
    }

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

    /// The common case of [`Source::distance`], with the element's page
    /// already locked: one share lock covers the value and the heap rows.
    fn visit_locked(&mut self, page: pg_sys::Page, id: NodeId) -> f64 {
        let tid = DiskTid::from_node(id);
        let shape = self.meta.shape;
        let Some(view) = pages::element(page, tid.offset, &shape) else {
            self.record(id, UNREADABLE);
            return hnsw::UNREADABLE;
        };
        let state = view.state();
        let mut e = Entry { state: state as u8, level: view.header.level, neighbors: view.header.neighbors, ..UNREADABLE };
        if state == ElementState::Reusable {
            self.record(id, e);
            return hnsw::UNREADABLE;
        }
        let d = if self.has_query { self.space.distance(&self.query, view.inline) } else { 0.0 };
        if self.keep_tids && !self.lean && state == ElementState::Live {
            e.tids_at = self.tids.len() as u32;
            e.ntids = view.heap_tids().len() as u8;
            self.tids.extend_from_slice(view.heap_tids());
        }
        if let Some(old) = self.entry(id) {
            // keep a cached value across re-reads
            e.vec_at = old.vec_at;
        }
        self.record(id, e);
        d
    }
}

impl Source for DiskGraph {
    fn distance(&mut self, id: NodeId, layer: usize, bound: f64) -> f64 {
        let tid = DiskTid::from_node(id);
        if self.meta.shape.chunks() > 0 || !self.in_range(tid) {
            // values in chunks: read them one lock at a time, then the list
            let Some(e) = self.read_element(id, true, None) else { return hnsw::UNREADABLE };
            if e.state == ElementState::Reusable as u8 {
                return hnsw::UNREADABLE;
            }
            let d = self.query_distance();
            if d < bound && e.neighbors.block() == tid.block() {
                let _ = self.read_element(id, false, Some(layer));
            }
            return d;
        }
        let g = self.lock(tid.block(), Lock::Share);
        self.visit_locked(g.page(), id)
    }

    fn distances(&mut self, ids: &[NodeId], layer: usize, bound: f64, out: &mut Vec<f64>) {
        if self.meta.shape.chunks() > 0 || ids.len() < 2 {
            for &id in ids {
                let d = self.distance(id, layer, bound);
                out.push(d);
            }
            return;
        }
        let base = out.len();
        out.resize(base + ids.len(), hnsw::UNREADABLE);
        self.on_pages(ids, |g, page, k| out[base + k] = g.visit_locked(page, ids[k]));
    }

    fn neighbors(&mut self, id: NodeId, layer: usize, out: &mut Vec<NodeId>) {
        if let Some(e) = self.entry(id) {
            if e.nbrs_layer as usize == layer && e.nbrs_at != NONE {
                let at = e.nbrs_at as usize;
                out.extend_from_slice(&self.nbrs[at..at + e.nbrs_len as usize]);
                return;
            }
        }
        let mut list = Vec::new();
        if self.read_list(id, layer, &mut list) {
            out.extend_from_slice(&list);
        }
    }

    fn is_result(&mut self, id: NodeId) -> bool {
        Some(id) != self.exclude && self.is_live(id)
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
