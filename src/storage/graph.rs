//! The graph on pages: the metapage as a struct, [`DiskSource`] (the
//! Postgres implementation of [`hnsw::Source`]), element placement and the
//! on-disk insert used by `aminsert` and by builds that outgrow
//! `maintenance_work_mem`. Locking and WAL rules: see the module docs.

use super::buffer::{PageGuard, WalGuard};
use super::layout::*;
use super::pages;
use crate::distance::{index_distance, Metric};
use crate::hnsw::search::IdHasher;
use crate::hnsw::{self, greedy_descent, search_layer, select_neighbors, Candidate, NodeId, Params, Scratch};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// Hash map keyed by node id.
pub type IdMap<V> = HashMap<NodeId, V, BuildHasherDefault<IdHasher>>;

/// Block of the metapage; also the lock tag of the update lock.
pub const META_BLOCK: u32 = 0;

/// The index's fixed parameters and entry point.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    /// Vector dimensions.
    pub dims: usize,
    /// Graph parameters.
    pub params: Params,
    /// Entry element and its level.
    pub entry: Option<(NodeId, usize)>,
    /// Where inserts start looking for room.
    pub insert_block: u32,
}

impl Meta {
    /// Reads the metapage, checking magic and version.
    pub fn read(index: pg_sys::Relation) -> Meta {
        let g = PageGuard::lock(index, META_BLOCK, false);
        let m = *pages::meta(g.page());
        drop(g);
        Self::from_page(index, &m)
    }

    fn from_page(index: pg_sys::Relation, m: &MetaPage) -> Meta {
        let metric = metric_from_code(m.metric);
        if m.magic != META_MAGIC || m.version != FORMAT_VERSION || metric.is_none() {
            // SAFETY: an open relation has a valid rd_rel and name.
            let name = unsafe { pgrx::name_data_to_str(&(*(*index).rd_rel).relname) }.to_string();
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
                format!("index \"{name}\" is not a vecstore hnsw index of format version {FORMAT_VERSION}"),
                "REINDEX the index with this version of vecstore."
            );
        }
        let m_ = m.m as usize;
        Meta {
            dims: m.dims as usize,
            params: Params {
                m: m_,
                ef_construction: m.ef_construction as usize,
                metric: metric.unwrap_or(Metric::L2),
                max_level: max_level(m_),
            },
            entry: m.entry.is_valid().then(|| (m.entry.node(), m.entry_level as usize)),
            insert_block: m.insert_block.max(1),
        }
    }

    /// The metapage struct for these values.
    pub fn to_page(&self) -> MetaPage {
        let (entry, entry_level) = match self.entry {
            Some((id, l)) => (DiskTid::from_node(id), l as u8),
            None => (DiskTid::NONE, 0),
        };
        MetaPage {
            magic: META_MAGIC,
            version: FORMAT_VERSION,
            dims: self.dims as u32,
            m: self.params.m as u16,
            ef_construction: self.params.ef_construction as u16,
            metric: metric_code(self.params.metric),
            entry_level,
            reserved: 0,
            entry,
            reserved2: 0,
            insert_block: self.insert_block,
        }
    }
}

/// What a search learned about an element it touched.
#[derive(Clone, Copy)]
pub struct NodeInfo {
    /// Its neighbour tuple.
    pub neighbors: DiskTid,
    /// Its heap row.
    pub heap_tid: DiskTid,
    /// Whether its heap row may still be visible.
    pub live: bool,
}

/// Graph search over index pages for one query vector.
pub struct DiskSource<'q> {
    index: pg_sys::Relation,
    meta: Meta,
    query: &'q [f32],
    /// Elements seen so far.
    pub info: IdMap<NodeInfo>,
    vectors: IdMap<Vec<f32>>,
}

impl<'q> DiskSource<'q> {
    /// A source for `query` (already normalised for cosine).
    pub fn new(index: pg_sys::Relation, meta: Meta, query: &'q [f32]) -> Self {
        Self::with_info(index, meta, query, IdMap::default())
    }

    /// A source reusing `info`'s allocation (cleared first).
    pub fn with_info(index: pg_sys::Relation, meta: Meta, query: &'q [f32], mut info: IdMap<NodeInfo>) -> Self {
        info.clear();
        DiskSource { index, meta, query, info, vectors: IdMap::default() }
    }

    /// Reads element `id` under a share lock and passes it to `f`.
    fn with_element<R>(&mut self, id: NodeId, f: impl FnOnce(&pages::ElementView) -> R) -> Option<R> {
        let tid = DiskTid::from_node(id);
        let g = PageGuard::lock(self.index, tid.block(), false);
        let view = pages::element(g.page(), tid.offset, self.meta.dims)?;
        self.info.insert(
            id,
            NodeInfo { neighbors: view.header.neighbors, heap_tid: view.header.heap_tid, live: view.header.state == LIVE },
        );
        Some(f(&view))
    }

    /// Reads element `id`'s vector into the cache (for neighbour selection).
    fn cache_vector(&mut self, id: NodeId) {
        if !self.vectors.contains_key(&id) {
            let v = self.with_element(id, |e| e.vector.to_vec()).unwrap_or_default();
            self.vectors.insert(id, v);
        }
    }

    /// A copy of element `id`'s vector.
    pub fn vector(&mut self, id: NodeId) -> Vec<f32> {
        self.cache_vector(id);
        self.vectors[&id].clone()
    }

    /// Distance between two elements (vectors read once, then cached).
    pub fn between(&mut self, a: NodeId, b: NodeId) -> f32 {
        self.cache_vector(a);
        self.cache_vector(b);
        let (va, vb) = (&self.vectors[&a], &self.vectors[&b]);
        if va.len() != vb.len() || va.is_empty() {
            return f32::INFINITY;
        }
        index_distance(self.meta.params.metric, va, vb)
    }

    /// True if the element is live (seen by this search and not deleted).
    pub fn is_live(&self, id: NodeId) -> bool {
        self.info.get(&id).is_some_and(|i| i.live)
    }

    /// Appends element `id`'s valid neighbour slots at `layer` to `out`.
    fn read_slots(&mut self, id: NodeId, layer: usize, out: &mut impl Extend<DiskTid>) {
        let Some(tid) = self.info.get(&id).map(|i| i.neighbors).or_else(|| {
            self.with_element(id, |e| e.header.neighbors)
        }) else {
            return;
        };
        let g = PageGuard::lock(self.index, tid.block(), false);
        if let Some(mut v) = pages::neighbors(g.page(), tid.offset) {
            out.extend(v.layer(self.meta.params.m, layer).iter().copied().filter(|t| t.is_valid()));
        }
    }

    /// Element `id`'s neighbours at `layer`.
    pub fn layer_slots(&mut self, id: NodeId, layer: usize) -> Vec<DiskTid> {
        let mut out = Vec::new();
        self.read_slots(id, layer, &mut out);
        out
    }
}

/// Adapter so neighbour slots go straight into a search's node-id buffer.
struct AsNodes<'a>(&'a mut Vec<NodeId>);

impl Extend<DiskTid> for AsNodes<'_> {
    fn extend<I: IntoIterator<Item = DiskTid>>(&mut self, iter: I) {
        self.0.extend(iter.into_iter().map(DiskTid::node));
    }
}

impl hnsw::Source for DiskSource<'_> {
    fn distance(&mut self, id: NodeId) -> f32 {
        let (metric, query) = (self.meta.params.metric, self.query);
        self.with_element(id, |e| index_distance(metric, query, e.vector)).unwrap_or(f32::INFINITY)
    }

    fn neighbors(&mut self, id: NodeId, layer: usize, out: &mut Vec<NodeId>) {
        self.read_slots(id, layer, &mut AsNodes(out));
    }
}

/// Searches the graph for `query`: the `ef` nearest live elements, nearest
/// first, with what the search learned about each.
pub fn search(
    index: pg_sys::Relation,
    meta: Meta,
    query: &[f32],
    ef: usize,
    scratch: &mut Scratch,
    info: &mut IdMap<NodeInfo>,
) -> Vec<(Candidate, NodeInfo)> {
    let Some((ep, top)) = meta.entry else { return Vec::new() };
    let mut src = DiskSource::with_info(index, meta, query, std::mem::take(info));
    src.info.reserve(ef * 24);
    let start = Candidate { dist: hnsw::Source::distance(&mut src, ep), id: ep };
    let cur = greedy_descent(&mut src, start, top, 0, scratch);
    search_layer(&mut src, &[cur], ef, 0, scratch, &mut |_| true);
    let out = scratch
        .found
        .iter()
        .filter_map(|c| src.info.get(&c.id).filter(|i| i.live).map(|i| (*c, *i)))
        .collect();
    *info = src.info;
    out
}

/// Candidate neighbours of a vector (the source's query) at each layer up
/// to `level`, found as the HNSW insert does: greedy descent above
/// `level`, then `ef_construction`-wide searches. Live elements only,
/// nearest first; `exclude` (the element itself, when re-linking) is left
/// out.
pub fn search_candidates(
    src: &mut DiskSource,
    meta: &Meta,
    level: usize,
    scratch: &mut Scratch,
    exclude: Option<NodeId>,
) -> Vec<Vec<Candidate>> {
    let Some((ep, top)) = meta.entry else { return Vec::new() };
    let start = Candidate { dist: hnsw::Source::distance(src, ep), id: ep };
    let cur = if top > level { greedy_descent(src, start, top, level, scratch) } else { start };
    let mut entries = vec![cur];
    let mut lists = vec![Vec::new(); level.min(top) + 1];
    for layer in (0..=level.min(top)).rev() {
        search_layer(src, &entries, meta.params.ef_construction, layer, scratch, &mut |_| true);
        lists[layer] =
            scratch.found.iter().copied().filter(|c| src.is_live(c.id) && Some(c.id) != exclude).collect();
        entries = scratch.found.clone();
    }
    lists
}

/// Picks neighbours from candidates sorted nearest first (the heuristic).
pub fn choose(src: &mut DiskSource, meta: &Meta, layer: usize, candidates: &[Candidate]) -> Vec<Candidate> {
    let mut selected = Vec::new();
    let dedup = meta.params.metric.zero_on_identical();
    select_neighbors(candidates, meta.params.max_neighbors(layer), dedup, &mut |a, b| src.between(a, b), &mut selected);
    selected
}

/// Adds `new` to `node`'s list at `layer` (pruning with the heuristic when
/// full), retrying if another backend changed the list meanwhile. With
/// `force`, `new` replaces the farthest link if the heuristic would drop it.
/// Returns whether the list now holds `new`, and the element pruning
/// dropped from the list, if any.
pub fn add_backlink(
    index: pg_sys::Relation,
    src: &mut DiskSource,
    meta: &Meta,
    node: NodeId,
    new: NodeId,
    dist: f32,
    layer: usize,
    force: bool,
) -> (bool, Option<NodeId>) {
    let m = meta.params.max_neighbors(layer);
    let dedup = meta.params.metric.zero_on_identical();
    loop {
        let old = src.layer_slots(node, layer);
        let new_tid = DiskTid::from_node(new);
        if old.contains(&new_tid) {
            return (true, None);
        }
        let list: Vec<DiskTid> = if old.len() < m {
            old.iter().copied().chain([new_tid]).collect()
        } else {
            let mut cands: Vec<Candidate> = old
                .iter()
                .map(|t| Candidate { dist: src.between(node, t.node()), id: t.node() })
                .chain([Candidate { dist, id: new }])
                .collect();
            cands.sort();
            let mut kept = Vec::new();
            select_neighbors(&cands, m, dedup, &mut |a, b| src.between(a, b), &mut kept);
            if !kept.iter().any(|c| c.id == new) {
                if !force {
                    return (false, None);
                }
                // keep every old link but the farthest, plus `new`
                cands.retain(|c| c.id != new);
                cands.pop();
                kept = cands;
                kept.push(Candidate { dist, id: new });
            }
            kept.iter().map(|c| DiskTid::from_node(c.id)).collect()
        };
        let dropped = old.iter().map(|t| t.node()).find(|id| !list.iter().any(|t| t.node() == *id));
        let Some(ntid) = src.info.get(&node).map(|i| i.neighbors) else { return (false, None) };
        let g = PageGuard::lock(index, ntid.block(), true);
        let mut wal = WalGuard::start(index);
        let page = wal.register(&g, false);
        let Some(mut view) = pages::neighbors(page, ntid.offset) else { return (false, None) };
        let slots = view.layer(meta.params.m, layer);
        let current: Vec<DiskTid> = slots.iter().copied().filter(|t| t.is_valid()).collect();
        if current != old {
            continue; // changed under us: drop the record and retry
        }
        for (i, s) in slots.iter_mut().enumerate() {
            *s = list.get(i).copied().unwrap_or(DiskTid::NONE);
        }
        wal.finish();
        return (true, dropped);
    }
}

/// Most elements one insert re-links after pruning dropped them.
const RESCUE_BUDGET: usize = 8;

/// Makes sure `node` keeps an incoming link on layer 0 after a pruning
/// dropped one: if none of its own neighbours links back to it, its nearest
/// neighbour takes it (possibly dropping another element, returned).
fn rescue(index: pg_sys::Relation, src: &mut DiskSource, meta: &Meta, node: NodeId) -> Option<NodeId> {
    let outs = src.layer_slots(node, 0);
    let me = DiskTid::from_node(node);
    if outs.iter().any(|o| src.layer_slots(o.node(), 0).contains(&me)) {
        return None;
    }
    let mut nearest: Option<Candidate> = None;
    for o in outs {
        let c = Candidate { dist: src.between(node, o.node()), id: o.node() };
        if src.is_live(c.id) && nearest.is_none_or(|n| c < n) {
            nearest = Some(c);
        }
    }
    let nearest = nearest?;
    add_backlink(index, src, meta, nearest.id, node, nearest.dist, 0, true).1
}

/// Writes a new element and its neighbour tuple: into a reusable slot or a
/// page with room from the insert hint on, else a new page. Returns the
/// element's id.
pub fn place_element(index: pg_sys::Relation, meta: &mut Meta, heap_tid: DiskTid, vector: &[f32], level: usize, lists: &[Vec<DiskTid>]) -> NodeId {
    let m = meta.params.m;
    let need = item_space(element_size(meta.dims)) + item_space(neighbor_size(m, level));
    // SAFETY: counting blocks of an open relation.
    let nblocks = unsafe { pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::MAIN_FORKNUM) };
    let mut block = meta.insert_block.max(1);
    // the blocks passed over had neither a free slot nor room for this
    // element; for a level-0 element (the smallest) that holds for any, so
    // only those move the hint
    let advance = |meta: &mut Meta, block: u32| {
        if level == 0 {
            set_insert_block(index, meta, block);
        }
    };
    while block < nblocks {
        if let Some(id) = try_reuse(index, meta, block, heap_tid, vector, level, lists) {
            advance(meta, block);
            return id;
        }
        let g = PageGuard::lock(index, block, true);
        if pages::free_space(g.page()) >= need {
            let mut wal = WalGuard::start(index);
            let page = wal.register(&g, false);
            let id = add_pair(page, block, m, heap_tid, vector, level, lists);
            wal.finish();
            drop(g);
            advance(meta, block);
            return id;
        }
        drop(g);
        block += 1;
    }
    let g = PageGuard::extend(index, pg_sys::ForkNumber::MAIN_FORKNUM);
    let block = g.block();
    let mut wal = WalGuard::start(index);
    let page = wal.register(&g, true);
    pages::init_page(page, KIND_ELEMENT);
    let id = add_pair(page, block, m, heap_tid, vector, level, lists);
    wal.finish();
    drop(g);
    advance(meta, block);
    id
}

fn add_pair(page: pg_sys::Page, block: u32, m: usize, heap_tid: DiskTid, vector: &[f32], level: usize, lists: &[Vec<DiskTid>]) -> NodeId {
    let noff = pages::add_item(page, &pages::neighbor_bytes(m, level, lists));
    let nt = DiskTid::new(block, noff.unwrap_or(0));
    let eoff = pages::add_item(page, &pages::element_bytes(LIVE, level, heap_tid, nt, vector));
    if noff.is_none() || eoff.is_none() {
        error!("vecstore: page {block} had no room for an element it was checked to hold");
    }
    DiskTid::new(block, eoff.unwrap_or(0)).node()
}

/// Overwrites a REUSABLE element on `block` whose neighbour tuple can hold
/// `level`. Both pages are locked in block order.
fn try_reuse(index: pg_sys::Relation, meta: &Meta, block: u32, heap_tid: DiskTid, vector: &[f32], level: usize, lists: &[Vec<DiskTid>]) -> Option<NodeId> {
    let candidates: Vec<(u16, DiskTid)> = {
        let g = PageGuard::lock(index, block, false);
        (1..=pages::max_offset(g.page()))
            .filter_map(|off| {
                let e = pages::element(g.page(), off, meta.dims)?;
                (e.header.state == REUSABLE && e.header.level as usize >= level).then_some((off, e.header.neighbors))
            })
            .collect()
    };
    for (off, ntid) in candidates {
        let (first, second) = if ntid.block() < block { (ntid.block(), block) } else { (block, ntid.block()) };
        let g1 = PageGuard::lock(index, first, true);
        let g2 = (second != first).then(|| PageGuard::lock(index, second, true));
        let mut wal = WalGuard::start(index);
        let p1 = wal.register(&g1, false);
        let p2 = g2.as_ref().map(|g| wal.register(g, false)).unwrap_or(p1);
        let (epage, npage) = if block == first { (p1, p2) } else { (p2, p1) };
        let Some(e) = pages::element(epage, off, meta.dims) else { continue };
        if e.header.state != REUSABLE || e.header.neighbors != ntid {
            continue;
        }
        let Some(mut n) = pages::neighbors(npage, ntid.offset) else { continue };
        n.fill(meta.params.m, lists);
        e.header.state = LIVE;
        e.header.level = level as u8;
        e.header.heap_tid = heap_tid;
        e.vector.copy_from_slice(vector);
        wal.finish();
        return Some(DiskTid::new(block, off).node());
    }
    None
}

/// Moves the metapage's insert hint to `block` if it changed.
fn set_insert_block(index: pg_sys::Relation, meta: &mut Meta, block: u32) {
    if meta.insert_block == block {
        return;
    }
    meta.insert_block = block;
    update_meta(index, |m| m.insert_block = block);
}

/// Applies `f` to the metapage in one WAL record.
pub fn update_meta(index: pg_sys::Relation, f: impl FnOnce(&mut MetaPage)) {
    let g = PageGuard::lock(index, META_BLOCK, true);
    let mut wal = WalGuard::start(index);
    let page = wal.register(&g, false);
    f(pages::meta(page));
    wal.finish();
}

/// Inserts one vector (normalised already for cosine) into the on-disk
/// graph: search, write the element, link it back, maybe raise the entry.
pub fn insert(index: pg_sys::Relation, heap_tid: DiskTid, vector: &[f32], level: usize, scratch: &mut Scratch) {
    let mut meta = Meta::read(index);
    let mut src = DiskSource::new(index, meta, vector);
    let found = search_candidates(&mut src, &meta, level, scratch, None);
    let lists: Vec<Vec<Candidate>> =
        found.iter().enumerate().map(|(layer, c)| choose(&mut src, &meta, layer, c)).collect();
    let tid_lists: Vec<Vec<DiskTid>> = lists.iter().map(|l| l.iter().map(|c| DiskTid::from_node(c.id)).collect()).collect();
    let id = place_element(index, &mut meta, heap_tid, vector, level, &tid_lists);
    let mut orphans = Vec::new();
    for (layer, list) in lists.iter().enumerate() {
        let mut linked = false;
        for c in list {
            let (holds, dropped) = add_backlink(index, &mut src, &meta, c.id, id, c.dist, layer, false);
            linked |= holds;
            orphans.extend(dropped.filter(|_| layer == 0));
        }
        // on layer 0 someone must link to the new element, or no search
        // could reach it: its nearest neighbour makes room
        if layer == 0 && !linked {
            if let Some(c) = list.first() {
                orphans.extend(add_backlink(index, &mut src, &meta, c.id, id, c.dist, 0, true).1);
            }
        }
    }
    // elements pruned out of a list may have lost their last incoming link
    let mut budget = RESCUE_BUDGET;
    while let Some(o) = orphans.pop() {
        if budget == 0 {
            break;
        }
        budget -= 1;
        orphans.extend(rescue(index, &mut src, &meta, o));
    }
    let raise = meta.entry.is_none_or(|(_, top)| level > top);
    if raise {
        update_meta(index, |m| {
            if !m.entry.is_valid() || level > m.entry_level as usize {
                m.entry = DiskTid::from_node(id);
                m.entry_level = level as u8;
            }
        });
    }
}
