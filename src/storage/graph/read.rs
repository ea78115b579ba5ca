//! The reading side of [`DiskGraph`]: elements, values, heap rows and
//! neighbour lists read from pages (one share lock at a time, a hop's
//! pages pinned a window at a time), and the core's [`Source`].

use super::{DiskGraph, Entry, NONE, PIN_WINDOW, UNREADABLE};
use crate::hnsw::{self, GraphStore, NodeId, Source};
use crate::quant::Sq8;
use crate::space::{Bytes, Space};
use crate::storage::buffer::{Lock, Pin};
use crate::storage::layout::*;
use crate::storage::pages;
use pgrx::pg_sys;

impl DiskGraph {
    /// Reads element `id`: records what is known of it and, when `value`
    /// is set, copies its whole value into `value_buf`. When `copy_layer`
    /// is set, its neighbour list on that layer is cached if the neighbour
    /// tuple shares the page. Returns the entry, or None if unreadable.
    pub(super) fn read_element(&mut self, id: NodeId, value: bool, copy_layer: Option<usize>) -> Option<Entry> {
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
            scale: [f32::NAN; 2],
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
        self.prepared.distance(self.space, &self.query, &self.value_buf)
    }

    /// Element `id`'s value, cached (for distances between elements).
    pub(super) fn cached_vector(&mut self, id: NodeId) -> Option<u32> {
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

    /// For a lossy space, a cheaper and looser value than
    /// [`DiskGraph::lower_bound`] from `dist`, the search's distance to
    /// element `id` (see [`crate::quant::Sq8::bound_from_distance`]): -inf
    /// when there is none (other metrics, a lean scan, an unreadable
    /// element), which means "compute the full bound".
    pub fn distance_bound(&mut self, id: NodeId, dist: f64) -> f64 {
        let Space::Sq8 { metric, dims } = self.space else { return f64::NEG_INFINITY };
        if !self.has_query || self.lean {
            return f64::NEG_INFINITY;
        }
        // the scale the search saw when it scored the element: no read
        if let Some([lo, step]) = self.entry(id).map(|e| e.scale).filter(|s| !s[0].is_nan()) {
            return Sq8 { dims }.bound_from_scale(metric, &self.query, lo, step, dist);
        }
        let n = self.meta.shape.value_bytes;
        let Some(at) = self.cached_vector(id) else { return f64::NEG_INFINITY };
        match self.vecs.get(at as usize..at as usize + n) {
            Some(v) => Sq8 { dims }.bound_from_distance(metric, &self.query, v, dist),
            None => f64::NEG_INFINITY,
        }
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
    pub(super) fn neighbor_tid(&mut self, id: NodeId) -> Option<DiskTid> {
        let e = match self.entry(id) {
            Some(e) if e.state != 0 => e,
            Some(_) => return None,
            None => self.read_element(id, false, None)?,
        };
        (e.state != ElementState::Reusable as u8).then_some(e.neighbors)
    }

    /// Calls `visit(self, page, k)` for every `ids[k]` with its page share
    /// locked; elements of unreadable blocks are recorded as such. Elements
    /// that share a page are read under one lock; the pages are pinned a
    /// window at a time, their line pointers prefetched first and each
    /// tuple a few visits before its own ([`lookahead`]), so the cache
    /// misses of a hop overlap each other and the arithmetic.
    pub(super) fn on_pages(&mut self, ids: &[NodeId], mut visit: impl FnMut(&mut Self, pg_sys::Page, usize)) {
        let mut order = std::mem::take(&mut self.order);
        group_by_block(ids, &mut order);
        let mut groups = std::mem::take(&mut self.groups);
        groups.clear();
        let size = self.meta.shape.element_size();
        let mut i = 0;
        while i < order.len() {
            let block = order[i].0;
            let mut j = i;
            while j < order.len() && order[j].0 == block {
                j += 1;
            }
            if let Some(&h) = self.hints.get(block as usize) {
                Pin::prefetch_header(h);
                // the whole hop's line pointers start arriving now, through
                // the buffer the page was last found in (only a hint: the
                // page is read once pinned and locked)
                if let Some(page) = Pin::hint_page(h) {
                    for &(_, k) in &order[i..j] {
                        pages::prefetch_line_pointer(page, DiskTid::from_node(ids[k as usize]).offset);
                    }
                }
            }
            groups.push((i, j, None));
            i = j;
        }
        // then the first few tuples; each later one is asked for a few
        // visits ahead of its own, so its misses overlap the arithmetic of
        // the ones before it (asking for the whole hop's at once stalls on
        // the CPU's miss buffers before any distance is computed)
        let mut ahead = std::mem::take(&mut self.ahead);
        ahead.clear();
        for &(i, j, _) in groups.iter() {
            let page = self.hints.get(order[i].0 as usize).and_then(|&h| Pin::hint_page(h));
            ahead.extend(order[i..j].iter().map(|&(_, k)| (page, DiskTid::from_node(ids[k as usize]).offset)));
        }
        let la = lookahead(size);
        for &(page, off) in ahead.iter().take(la) {
            if let Some(page) = page {
                pages::prefetch_item(page, off, size);
            }
        }
        // at most PIN_WINDOW pages pinned at once: PostgreSQL tracks a
        // backend's first 8 pins in an array, more go to a hash table
        for window in groups.chunks_mut(PIN_WINDOW) {
            for g in window.iter_mut() {
                let block = order[g.0].0;
                if self.in_range(DiskTid::from_node(ids[order[g.0].1 as usize])) {
                    g.2 = Some(self.pin(block));
                }
            }
            for (i, j, pin) in window.iter() {
                if let Some(p) = pin {
                    for q in *i..*j {
                        pages::prefetch_line_pointer(p.page(), ahead[q].1);
                        // the page itself from now on, not its last buffer's
                        ahead[q].0 = Some(p.page());
                    }
                }
            }
            for (i, j, pin) in window.iter_mut() {
                match pin.take() {
                    Some(p) => {
                        let g = p.share();
                        for q in *i..*j {
                            if let Some(&(Some(page), off)) = ahead.get(q + la) {
                                pages::prefetch_item(page, off, size);
                            }
                            visit(self, g.page(), order[q].1 as usize);
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
        self.ahead = ahead;
        self.order = order;
        // the line pointer of the list the search reads next has arrived
        // meanwhile: now its tuple
        if let Some((h, off, len)) = self.expand_hint.take() {
            if let Some(page) = Pin::hint_page(h) {
                pages::prefetch_item(page, off, len);
            }
        }
    }

    /// [`Source::will_expand`]: starts fetching the buffer header and the
    /// line pointer of `id`'s neighbour tuple through the buffer its page
    /// was last found in (its tuple follows after the hop's distances).
    fn hint_expand(&mut self, id: NodeId, layer: usize) {
        self.expand_hint = None;
        if self.lean {
            return;
        }
        let Some(e) = self.entry(id) else { return };
        if e.state == 0 || (e.nbrs_layer as usize == layer && e.nbrs_at != NONE) || !e.neighbors.is_valid() {
            return;
        }
        let Some(&h) = self.hints.get(e.neighbors.block() as usize) else { return };
        let Some(page) = Pin::hint_page(h) else { return };
        Pin::prefetch_header(h);
        pages::prefetch_line_pointer(page, e.neighbors.offset);
        self.expand_hint = Some((h, e.neighbors.offset, neighbor_size(self.meta.params.m, e.level as usize)));
    }


    /// The common case of [`Source::distance`], with the element's page
    /// already locked: one share lock covers the value and the heap rows.
    fn visit_locked(&mut self, page: pg_sys::Page, id: NodeId, bound: f64, slot: Option<usize>) -> f64 {
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
        let d = if self.has_query { self.prepared.distance(self.space, &self.query, view.inline) } else { 0.0 };
        if let Some(b) = slot.and_then(|k| self.batch.get_mut(k)) {
            *b = (id, state as u8);
            // the search drops an element this far (a continuation of an
            // iterative scan that comes back to it reads it again)
            if d >= bound {
                return d;
            }
        }
        if self.keep_tids && !self.lean && state == ElementState::Live {
            e.tids_at = self.tids.len() as u32;
            e.ntids = view.heap_tids().len() as u8;
            self.tids.extend_from_slice(view.heap_tids());
        }
        if let Space::Sq8 { dims, .. } = self.space {
            if self.has_query {
                if let Some((lo, step)) = (Sq8 { dims }).scale(view.inline) {
                    e.scale = [lo, step];
                }
            }
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
        self.batch.clear();
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
        self.visit_locked(g.page(), id, bound, None)
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
        self.batch.clear();
        self.batch.resize(ids.len(), (NodeId::MAX, 0));
        self.batch_at = 0;
        self.on_pages(ids, |g, page, k| out[base + k] = g.visit_locked(page, ids[k], bound, Some(k)));
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
        if Some(id) == self.exclude {
            return false;
        }
        // the elements of the last hop, asked for in order
        if let Some(k) = self.batch[self.batch_at.min(self.batch.len())..].iter().position(|b| b.0 == id) {
            self.batch_at += k + 1;
            let state = self.batch[self.batch_at - 1].1;
            return state == ElementState::Live as u8 && (self.removed.is_empty() || !self.removed.contains(id));
        }
        self.is_live(id)
    }

    fn will_expand(&mut self, id: NodeId, layer: usize) {
        self.hint_expand(id, layer);
    }
}

/// About how many bytes of tuples ahead of the one being scored
/// [`DiskGraph::on_pages`] asks the CPU for: some fifty cache lines, about
/// what one core can have in flight.
const LOOKAHEAD_BYTES: usize = 3200;

/// Tuples of `size` bytes to ask for ahead: 2 of 384-d float4, 7 of its
/// 8-bit codes.
fn lookahead(size: usize) -> usize {
    (LOOKAHEAD_BYTES / size.max(1)).clamp(1, 8)
}

/// Fills `order` with (block, position) for every `ids[k]`, those on the
/// same block next to each other (ascending positions within a block).
/// A hop's few dozen elements are grouped through a small table in one
/// pass and placed by counting; longer lists are sorted.
fn group_by_block(ids: &[NodeId], order: &mut Vec<(u32, u32)>) {
    const SLOTS: usize = 128;
    order.clear();
    let n = ids.len();
    if n > SLOTS / 2 {
        order.extend(ids.iter().enumerate().map(|(k, &id)| (DiskTid::from_node(id).block(), k as u32)));
        // one u64 comparison each (positions are distinct: the same order)
        order.sort_unstable_by_key(|&(block, k)| (block as u64) << 32 | k as u64);
        return;
    }
    // slot -> group + 1 (0: empty); per group its block and first place
    let mut table = [0u8; SLOTS];
    let mut blocks = [0u32; SLOTS / 2];
    let mut start = [0u8; SLOTS / 2 + 1];
    let mut group_of = [0u8; SLOTS / 2];
    let mut groups = 0;
    for (k, &id) in ids.iter().enumerate() {
        let block = DiskTid::from_node(id).block();
        let mut slot = (block.wrapping_mul(0x9e37_79b1) >> 25) as usize % SLOTS;
        let g = loop {
            match table[slot] {
                0 => {
                    blocks[groups] = block;
                    groups += 1;
                    table[slot] = groups as u8;
                    break groups - 1;
                }
                t if blocks[t as usize - 1] == block => break t as usize - 1,
                _ => slot = (slot + 1) % SLOTS,
            }
        };
        group_of[k] = g as u8;
        start[g + 1] += 1;
    }
    for g in 0..groups {
        start[g + 1] += start[g];
    }
    order.resize(n, (0, 0));
    for k in 0..n {
        let g = group_of[k] as usize;
        order[start[g] as usize] = (blocks[g], k as u32);
        start[g] += 1;
    }
}
