//! VACUUM, in passes that never stop concurrent inserts for long:
//! 1. `ambulkdelete` removes dead heap rows from elements; an element left
//!    without rows becomes DELETED (still linked and traversed, never a
//!    result or a new link).
//! 2. A barrier on the update lock waits for inserts that began before
//!    pass 1 (they may have chosen a now-deleted element as a neighbour);
//!    later inserts see the DELETED state. The entry point moves off a
//!    deleted element under the lock held exclusive.
//! 3. Every live element whose lists point at a deleted element, or whose
//!    bottom list has free slots, is repaired with the core's algorithm
//!    (a few lost neighbours: patched from the neighbours' neighbours;
//!    many: searched again from the entry point and linked back), by
//!    compare-and-set, while inserts go on.
//! 4. DELETED elements become REUSABLE: no list points at them any more.
//!
//! `amvacuumcleanup` then links any live element a search from the entry
//! point could not reach (see `hnsw::reach`), within maintenance_work_mem.
//! Pages are read through VACUUM's buffer ring, with `vacuum_delay_point`
//! between pages and elements.

use crate::hnsw::reach::{connect, Adjacency};
use crate::hnsw::repair::{needs_repair, repair_element, repair_local, Repair};
use crate::hnsw::{LinkPolicy, NodeId, NodeSet, Scratch};
use crate::storage::buffer::{nblocks, Lock, PageGuard, WalGuard};
use crate::storage::graph::DiskGraph;
use crate::storage::layout::*;
use crate::storage::meta::{update_meta, Meta, UpdateLock};
use crate::storage::pages;
use super::common::{empty_stats, vacuum_pause};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::rc::Rc;

/// What pass 1 found.
#[derive(Default)]
struct Marked {
    /// Heap rows removed.
    removed_tids: usize,
    /// Heap rows still indexed.
    live_tids: usize,
    /// Every DELETED element (new ones and any an interrupted VACUUM left).
    deleted: NodeSet,
    /// A live element of the highest level (a new entry point if needed).
    highest: Option<(NodeId, usize)>,
}

/// Pass 1: removes dead heap rows; elements left without any become DELETED.
fn mark_deleted(index: pg_sys::Relation, meta: &Meta, strategy: pg_sys::BufferAccessStrategy, dead: &mut dyn FnMut(DiskTid) -> bool) -> Marked {
    let shape = meta.shape;
    let mut out = Marked::default();
    for block in 1..nblocks(index) {
        vacuum_pause();
        let g = PageGuard::lock_with(index, block, Lock::Exclusive, strategy);
        if pages::page_kind(g.page()) != Some(PageKind::Graph) {
            continue;
        }
        // (offset, surviving heap rows) of elements that change
        let mut changes: Vec<(u16, Vec<DiskTid>)> = Vec::new();
        for off in 1..=pages::max_offset(g.page()) {
            let Some(e) = pages::element(g.page(), off, &shape) else { continue };
            let id = DiskTid::new(block, off).node();
            match e.state() {
                ElementState::Deleted => {
                    out.deleted.insert(id);
                }
                ElementState::Live => {
                    let tids = e.heap_tids().to_vec();
                    let keep: Vec<DiskTid> = tids.iter().copied().filter(|t| !dead(*t)).collect();
                    out.removed_tids += tids.len() - keep.len();
                    out.live_tids += keep.len();
                    if keep.is_empty() {
                        out.deleted.insert(id);
                    } else if out.highest.is_none_or(|(_, l)| (e.header.level as usize) > l) {
                        out.highest = Some((id, e.header.level as usize));
                    }
                    if keep.len() != tids.len() {
                        changes.push((off, keep));
                    }
                }
                ElementState::Reusable => {}
            }
        }
        if changes.is_empty() {
            continue;
        }
        let mut wal = WalGuard::start(index);
        let page = wal.register(&g, false);
        for (off, keep) in changes {
            if let Some(e) = pages::element(page, off, &shape) {
                let mut heap = [DiskTid::NONE; MAX_HEAP_TIDS];
                heap[..keep.len()].copy_from_slice(&keep);
                e.header.heap = heap;
                e.header.ntids = keep.len() as u8;
                if keep.is_empty() {
                    e.header.state = ElementState::Deleted as u8;
                }
            }
        }
        wal.finish();
    }
    out
}

/// Moves the entry point off a deleted element (under the update lock).
fn repair_entry(index: pg_sys::Relation, marked: &Marked) {
    let _lock = UpdateLock::exclusive(index);
    let meta = Meta::read(index);
    let Some((entry, _)) = meta.entry else { return };
    if !marked.deleted.contains(entry) {
        return;
    }
    let mut probe = DiskGraph::new(index, meta, false);
    let best = marked.highest.filter(|(id, _)| matches!(probe.state(*id), Some((ElementState::Live, _))));
    let best = best.or_else(|| any_live(index, &meta));
    update_meta(index, |m| match best {
        Some((id, level)) => {
            m.entry = DiskTid::from_node(id);
            m.entry_level = level as u8;
        }
        None => m.entry = DiskTid::NONE,
    });
}

/// A live element of the highest level, by a pass over the index.
fn any_live(index: pg_sys::Relation, meta: &Meta) -> Option<(NodeId, usize)> {
    let mut best: Option<(NodeId, usize)> = None;
    for block in 1..nblocks(index) {
        let g = PageGuard::lock(index, block, Lock::Share);
        for off in 1..=pages::max_offset(g.page()) {
            if let Some(e) = pages::element(g.page(), off, &meta.shape) {
                if e.state() == ElementState::Live && best.is_none_or(|(_, l)| e.header.level as usize > l) {
                    best = Some((DiskTid::new(block, off).node(), e.header.level as usize));
                }
            }
        }
    }
    best
}

/// Live elements of `block` with their levels.
fn live_elements(graph: &DiskGraph, block: u32, strategy: pg_sys::BufferAccessStrategy) -> Vec<(NodeId, usize)> {
    let g = PageGuard::lock_with(graph.index(), block, Lock::Share, strategy);
    (1..=pages::max_offset(g.page()))
        .filter_map(|off| {
            let e = pages::element(g.page(), off, &graph.meta.shape)?;
            (e.state() == ElementState::Live).then(|| (DiskTid::new(block, off).node(), e.header.level as usize))
        })
        .collect()
}

/// Pass 3: repairs every live element that needs it.
fn repair(index: pg_sys::Relation, deleted: NodeSet, strategy: pg_sys::BufferAccessStrategy) -> usize {
    let meta = Meta::read(index);
    let mut graph = DiskGraph::new(index, meta, false).with_strategy(strategy);
    let removed = Rc::new(deleted);
    graph.removed = removed.clone();
    let mut scratch = Scratch::hashed();
    let mut repaired = 0;
    for block in 1..nblocks(index) {
        vacuum_pause();
        for (id, level) in live_elements(&graph, block, strategy) {
            vacuum_pause();
            let meta = Meta::read(index);
            let Some((ep, top)) = meta.entry else { return repaired };
            if meta.entry != graph.meta.entry {
                graph.set_meta(meta);
            }
            graph.reset(None, None);
            let level = level.min(top);
            let gone = |x: NodeId| removed.contains(x);
            match needs_repair(&mut graph, id, level, &meta.params, &gone) {
                Repair::None => continue,
                Repair::Local => {
                    repair_local(&mut graph, id, level, &meta.params, &gone);
                }
                Repair::Full => {
                    let Some(v) = graph.value(id) else { continue };
                    let q = meta.space().query_of_value(&v);
                    graph.reset(Some(&q), Some(id));
                    repair_element(&mut graph, id, level, (ep, top), &meta.params, &LinkPolicy::DISK, &mut scratch, &gone);
                }
            }
            repaired += 1;
        }
    }
    repaired
}

/// Pass 4: DELETED elements become REUSABLE; returns the first block with one.
fn recycle(index: pg_sys::Relation, meta: &Meta, deleted: &NodeSet, strategy: pg_sys::BufferAccessStrategy) -> Option<u32> {
    let mut first = None;
    for block in 1..nblocks(index) {
        vacuum_pause();
        let g = PageGuard::lock_with(index, block, Lock::Exclusive, strategy);
        let offs: Vec<u16> = (1..=pages::max_offset(g.page()))
            .filter(|&o| {
                pages::element(g.page(), o, &meta.shape).is_some_and(|e| e.state() == ElementState::Deleted)
                    && deleted.contains(DiskTid::new(block, o).node())
            })
            .collect();
        if offs.is_empty() {
            continue;
        }
        let mut wal = WalGuard::start(index);
        let page = wal.register(&g, false);
        for o in offs {
            if let Some(e) = pages::element(page, o, &meta.shape) {
                e.header.state = ElementState::Reusable as u8;
                e.header.ntids = 0;
                e.header.heap = [DiskTid::NONE; MAX_HEAP_TIDS];
            }
        }
        wal.finish();
        first.get_or_insert(block);
    }
    first
}

/// `ambulkdelete`.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambulkdelete(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
    callback: pg_sys::IndexBulkDeleteCallback,
    callback_state: *mut std::ffi::c_void,
) -> *mut pg_sys::IndexBulkDeleteResult {
    let stats = empty_stats(stats);
    // SAFETY: info is valid for the call; the index is open.
    let (index, strategy) = unsafe { ((*info).index, (*info).strategy) };
    let meta = Meta::read(index);
    let Some(cb) = callback else { return stats };
    let mut dead = |t: DiskTid| {
        let mut ip = super::item_pointer(t);
        // SAFETY: the callback VACUUM gave us, with its own state.
        unsafe { cb(&mut ip, callback_state) }
    };
    let marked = mark_deleted(index, &meta, strategy, &mut dead);
    let (removed, live) = (marked.removed_tids, marked.live_tids);
    if !marked.deleted.is_empty() {
        UpdateLock::barrier(index);
        repair_entry(index, &marked);
        let repaired = repair(index, marked.deleted.clone(), strategy);
        ereport!(
            DEBUG1,
            PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
            format!("hnsw: repaired {repaired} elements around {} deleted ones", marked.deleted.len())
        );
        if let Some(first) = recycle(index, &meta, &marked.deleted, strategy) {
            update_meta(index, |m| m.insert_block = m.insert_block.min(first).max(1));
        }
    }
    // SAFETY: stats is a valid result struct.
    unsafe {
        (*stats).tuples_removed += removed as f64;
        (*stats).num_index_tuples = live as f64;
        (*stats).num_pages = nblocks(index);
    }
    stats
}

/// Links every live element a search could not reach (see `hnsw::reach`);
/// returns (links made, live heap rows).
fn connect_unreachable(index: pg_sys::Relation, strategy: pg_sys::BufferAccessStrategy) -> (usize, usize) {
    let meta = Meta::read(index);
    let mut rows = 0;
    let mut elements = Vec::new();
    for block in 1..nblocks(index) {
        vacuum_pause();
        let g = PageGuard::lock_with(index, block, Lock::Share, strategy);
        for off in 1..=pages::max_offset(g.page()) {
            let Some(e) = pages::element(g.page(), off, &meta.shape) else { continue };
            if e.state() == ElementState::Reusable {
                continue;
            }
            rows += e.heap_tids().len();
            elements.push((DiskTid::new(block, off).node(), e.state() == ElementState::Live));
        }
    }
    let Some((entry, _)) = meta.entry else { return (0, rows) };
    // SAFETY: GUC global read on the backend thread.
    let budget = unsafe { pg_sys::maintenance_work_mem } as usize * 1024;
    // the snapshot (ids: item pointers, read in increasing order, need no
    // map), and the list of elements read above
    let bytes = Adjacency::bytes(elements.len(), meta.params.m, false) + elements.capacity() * std::mem::size_of::<(u64, bool)>();
    if bytes > budget {
        ereport!(
            DEBUG1,
            PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
            "hnsw: skipping the reachability check of VACUUM, the index outgrows maintenance_work_mem"
        );
        return (0, rows);
    }
    let mut adj = Adjacency::new(elements.len(), meta.params.max_neighbors(0));
    for &(id, live) in &elements {
        adj.add(id, live);
    }
    let mut graph = DiskGraph::new(index, meta, false).with_strategy(strategy);
    let mut list = Vec::new();
    for i in 0..elements.len() {
        if i % 256 == 0 {
            vacuum_pause();
        }
        use crate::hnsw::GraphStore;
        if graph.read_list(elements[i].0, 0, &mut list) {
            adj.set_list(i as u32, &list);
        }
    }
    let params = meta.params;
    let mut scratch = Scratch::hashed();
    let made = connect(
        &mut graph,
        &mut adj,
        entry,
        &params,
        &mut |g: &mut DiskGraph, id| {
            let meta = Meta::read(index);
            let (Some((ep, top)), Some(v)) = (meta.entry, g.value(id)) else { return Vec::new() };
            let level = g.state(id).map_or(0, |(_, l)| l).min(top);
            let q = meta.space().query_of_value(&v);
            g.reset(Some(&q), Some(id));
            let found = repair_element(g, id, level, (ep, top), &meta.params, &LinkPolicy::DISK, &mut scratch, &|_| false);
            g.reset(None, None);
            found
        },
        &mut || {
            vacuum_pause();
            true
        },
    );
    (made, rows)
}

/// `amvacuumcleanup`: links unreachable elements, reports sizes.
#[pg_guard]
pub unsafe extern "C-unwind" fn amvacuumcleanup(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: info is valid for the call.
    if unsafe { (*info).analyze_only } {
        return stats;
    }
    let had = !stats.is_null();
    let stats = empty_stats(stats);
    // SAFETY: info is valid; the index is open.
    let (index, strategy) = unsafe { ((*info).index, (*info).strategy) };
    let (relinked, rows) = connect_unreachable(index, strategy);
    if relinked > 0 {
        ereport!(DEBUG1, PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION, format!("hnsw: linked {relinked} unreachable elements"));
    }
    // SAFETY: valid stats struct.
    unsafe {
        if !had {
            (*stats).num_index_tuples = rows as f64;
        }
        (*stats).num_pages = nblocks(index);
    }
    stats
}
