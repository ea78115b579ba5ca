//! VACUUM: `ambulkdelete` marks elements whose heap rows are gone, then —
//! holding the update lock exclusive — repairs every list that pointed at
//! them (candidates: the list's live members plus the live neighbours of
//! the removed ones, chosen with the heuristic), moves the entry point if
//! needed, and marks the removed elements reusable for later inserts.
//! `amvacuumcleanup` then links any live element a search could no longer
//! reach (inserts' pruning can strand a few, as in any HNSW).

use crate::hnsw::{self, Candidate, NodeId, Scratch};
use crate::storage::buffer::{PageGuard, WalGuard};
use crate::storage::graph::{add_backlink, choose, search_candidates, update_meta, DiskSource, Meta, META_BLOCK};
use crate::storage::layout::*;
use crate::storage::pages;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::collections::HashSet;

fn nblocks(index: pg_sys::Relation) -> u32 {
    // SAFETY: counting blocks of an open relation.
    unsafe { pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::MAIN_FORKNUM) }
}

fn element_offsets(page: pg_sys::Page, dims: usize) -> Vec<u16> {
    (1..=pages::max_offset(page)).filter(|&o| pages::element(page, o, dims).is_some()).collect()
}

/// What pass 1 found.
struct Marked {
    /// Elements newly marked DELETED.
    removed: usize,
    /// Elements still live, with their levels.
    live: Vec<(NodeId, usize)>,
    /// Every DELETED element (new ones and any an interrupted VACUUM left);
    /// only VACUUM changes that state, and VACUUMs of a table never overlap.
    deleted: HashSet<NodeId>,
}

/// Pass 1: marks elements of dead heap rows DELETED.
fn mark_deleted(index: pg_sys::Relation, meta: &Meta, dead: &mut dyn FnMut(DiskTid) -> bool) -> Marked {
    let mut removed = 0;
    let mut live = Vec::new();
    let mut deleted = HashSet::new();
    for block in 1..nblocks(index) {
        pgrx::check_for_interrupts!();
        let g = PageGuard::lock(index, block, true);
        let mut doomed = Vec::new();
        for off in element_offsets(g.page(), meta.dims) {
            let Some(e) = pages::element(g.page(), off, meta.dims) else { continue };
            let id = DiskTid::new(block, off).node();
            if e.header.state == DELETED {
                deleted.insert(id);
            }
            if e.header.state != LIVE {
                continue;
            }
            if dead(e.header.heap_tid) {
                doomed.push(off);
                deleted.insert(id);
            } else {
                live.push((id, e.header.level as usize));
            }
        }
        if doomed.is_empty() {
            continue;
        }
        let mut wal = WalGuard::start(index);
        let page = wal.register(&g, false);
        for off in &doomed {
            if let Some(e) = pages::element(page, *off, meta.dims) {
                e.header.state = DELETED;
            }
        }
        wal.finish();
        removed += doomed.len();
    }
    Marked { removed, live, deleted }
}

/// Pass 2: rebuilds lists that reference deleted elements. As pgvector
/// does, the element's neighbours are searched for again from the entry
/// point (long-range links survive, which local patching would lose), then
/// merged with its remaining live neighbours and chosen by the heuristic.
fn repair(index: pg_sys::Relation, meta: &Meta, live: &[(NodeId, usize)], deleted: &HashSet<NodeId>) {
    let mut scratch = Scratch::hashed();
    for &(id, level) in live {
        pgrx::check_for_interrupts!();
        let mut probe = DiskSource::new(index, *meta, &[]);
        let lists: Vec<Vec<DiskTid>> = (0..=level).map(|l| probe.layer_slots(id, l)).collect();
        if !lists.iter().flatten().any(|t| deleted.contains(&t.node())) {
            continue;
        }
        let base = probe.vector(id);
        let ntid = probe.info.get(&id).map(|i| i.neighbors);
        drop(probe);
        let mut src = DiskSource::new(index, *meta, &base);
        let found = search_candidates(&mut src, meta, level, &mut scratch, Some(id));
        let mut new_lists = Vec::with_capacity(level + 1);
        for (layer, old) in lists.iter().enumerate() {
            let mut cands: Vec<Candidate> = found.get(layer).cloned().unwrap_or_default();
            for t in old {
                let n = t.node();
                if !deleted.contains(&n) && !cands.iter().any(|c| c.id == n) {
                    cands.push(Candidate { dist: hnsw::Source::distance(&mut src, n), id: n });
                }
            }
            cands.retain(|c| c.dist.is_finite() && !deleted.contains(&c.id));
            cands.sort();
            let kept = choose(&mut src, meta, layer, &cands);
            new_lists.push(kept.iter().map(|c| DiskTid::from_node(c.id)).collect::<Vec<_>>());
        }
        let Some(ntid) = ntid else { continue };
        let g = PageGuard::lock(index, ntid.block(), true);
        let mut wal = WalGuard::start(index);
        let page = wal.register(&g, false);
        if let Some(mut view) = pages::neighbors(page, ntid.offset) {
            view.fill(meta.params.m, &new_lists);
            wal.finish();
        }
    }
}

/// Pass 3: DELETED elements become REUSABLE; returns the first block with
/// one, for the insert hint.
fn recycle(index: pg_sys::Relation, meta: &Meta) -> Option<u32> {
    let mut first = None;
    for block in 1..nblocks(index) {
        let g = PageGuard::lock(index, block, true);
        let offs: Vec<u16> = element_offsets(g.page(), meta.dims)
            .into_iter()
            .filter(|&o| pages::element(g.page(), o, meta.dims).is_some_and(|e| e.header.state == DELETED))
            .collect();
        if offs.is_empty() {
            continue;
        }
        let mut wal = WalGuard::start(index);
        let page = wal.register(&g, false);
        for o in offs {
            if let Some(e) = pages::element(page, o, meta.dims) {
                e.header.state = REUSABLE;
            }
        }
        wal.finish();
        first.get_or_insert(block);
    }
    first
}

/// Links every live element that a search may not reach (pruning during
/// inserts can strand a few): elements unreachable on layer 0 from the
/// entry point, and elements none of whose own neighbours links back (only
/// far-away elements point at them, which a search never expands). Each is
/// linked from its nearest reachable neighbour; a few passes at most.
/// Returns how many links were made and how many live elements there are.
fn connect_unreachable(index: pg_sys::Relation, meta: &Meta) -> (usize, usize) {
    let mut lists: std::collections::HashMap<NodeId, Vec<NodeId>> = std::collections::HashMap::new();
    let mut live: Vec<NodeId> = Vec::new();
    for block in 1..nblocks(index) {
        pgrx::check_for_interrupts!();
        let g = PageGuard::lock(index, block, false);
        for off in element_offsets(g.page(), meta.dims) {
            let Some(e) = pages::element(g.page(), off, meta.dims) else { continue };
            if e.header.state == REUSABLE {
                continue;
            }
            let id = DiskTid::new(block, off).node();
            if e.header.state == LIVE {
                live.push(id);
            }
            lists.insert(id, Vec::new());
        }
    }
    let Some((entry, _)) = meta.entry else { return (0, live.len()) };
    // the pass holds every bottom-layer list in memory: stay within
    // maintenance_work_mem (about 8 bytes per link plus map overhead)
    // SAFETY: GUC global read on the backend thread.
    let budget = unsafe { pg_sys::maintenance_work_mem } as usize * 1024;
    if lists.len() * (16 * meta.params.m + 64) > budget {
        ereport!(
            NOTICE,
            PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
            "hnsw: skipping the reachability check of VACUUM, the index outgrows maintenance_work_mem"
        );
        return (0, live.len());
    }
    let mut src = DiskSource::new(index, *meta, &[]);
    for (id, list) in lists.iter_mut() {
        *list = src.layer_slots(*id, 0).iter().map(|t| t.node()).collect();
    }
    let mut reached: HashSet<NodeId> = HashSet::new();
    let mark = |start: NodeId, reached: &mut HashSet<NodeId>, lists: &std::collections::HashMap<NodeId, Vec<NodeId>>| {
        let mut stack = vec![start];
        reached.insert(start);
        while let Some(x) = stack.pop() {
            for &y in lists.get(&x).map(Vec::as_slice).unwrap_or(&[]) {
                if reached.insert(y) {
                    stack.push(y);
                }
            }
        }
    };
    mark(entry, &mut reached, &lists);
    let mut linked = 0;
    let mut progress = true;
    let mut passes = 0;
    while progress && passes < 3 {
        progress = false;
        passes += 1;
        for &u in &live {
            let outs = lists.get(&u).map(Vec::as_slice).unwrap_or(&[]);
            let reciprocal = outs.iter().any(|o| lists.get(o).is_some_and(|l| l.contains(&u)));
            if reached.contains(&u) && (reciprocal || outs.is_empty() || u == entry) {
                continue;
            }
            pgrx::check_for_interrupts!();
            let mut best: Option<Candidate> = None;
            for &o in lists.get(&u).map(Vec::as_slice).unwrap_or(&[]) {
                if reached.contains(&o) {
                    let c = Candidate { dist: src.between(u, o), id: o };
                    if best.is_none_or(|b| c < b) {
                        best = Some(c);
                    }
                }
            }
            let Some(from) = best else { continue };
            add_backlink(index, &mut src, meta, from.id, u, from.dist, 0, true);
            let now: Vec<NodeId> = src.layer_slots(from.id, 0).iter().map(|t| t.node()).collect();
            lists.insert(from.id, now);
            mark(u, &mut reached, &lists);
            linked += 1;
            progress = true;
        }
    }
    (linked, live.len())
}

fn empty_stats(info: *mut pg_sys::IndexVacuumInfo, stats: *mut pg_sys::IndexBulkDeleteResult) -> *mut pg_sys::IndexBulkDeleteResult {
    let _ = info;
    if stats.is_null() {
        // SAFETY: zeroed result struct in the current (vacuum) context.
        unsafe { pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexBulkDeleteResult>()).cast() }
    } else {
        stats
    }
}

/// `ambulkdelete`.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambulkdelete(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
    callback: pg_sys::IndexBulkDeleteCallback,
    callback_state: *mut std::ffi::c_void,
) -> *mut pg_sys::IndexBulkDeleteResult {
    let stats = empty_stats(info, stats);
    // SAFETY: info is valid for the call; index is open.
    let index = unsafe { (*info).index };
    let meta = Meta::read(index);
    let Some(cb) = callback else { return stats };
    let mut dead = |t: DiskTid| {
        let mut ip = pg_sys::ItemPointerData {
            ip_blkid: pg_sys::BlockIdData { bi_hi: t.hi, bi_lo: t.lo },
            ip_posid: t.offset,
        };
        // SAFETY: the callback VACUUM gave us, with its own state.
        unsafe { cb(&mut ip, callback_state) }
    };
    let Marked { removed, live, deleted } = mark_deleted(index, &meta, &mut dead);
    let remaining = live.len();
    if !deleted.is_empty() {
        // SAFETY: heavyweight lock, released below or at abort.
        unsafe { pg_sys::LockPage(index, META_BLOCK, pg_sys::ExclusiveLock as i32) };
        let meta = Meta::read(index);
        if meta.entry.is_some_and(|(e, _)| deleted.contains(&e)) {
            let best = live.iter().max_by_key(|(_, l)| *l).copied();
            update_meta(index, |m| match best {
                Some((id, l)) => {
                    m.entry = DiskTid::from_node(id);
                    m.entry_level = l as u8;
                }
                None => m.entry = DiskTid::NONE,
            });
        }
        let meta = Meta::read(index);
        repair(index, &meta, &live, &deleted);
        if let Some(first) = recycle(index, &meta) {
            update_meta(index, |m| m.insert_block = m.insert_block.min(first).max(1));
        }
        // SAFETY: releases the lock taken above.
        unsafe { pg_sys::UnlockPage(index, META_BLOCK, pg_sys::ExclusiveLock as i32) };
    }
    // SAFETY: stats is a valid result struct.
    unsafe {
        (*stats).tuples_removed += removed as f64;
        (*stats).num_index_tuples = remaining as f64;
        (*stats).num_pages = nblocks(index);
    }
    stats
}

/// `amvacuumcleanup`: reports sizes; counts live elements when no bulk
/// delete ran in this VACUUM.
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
    let stats = empty_stats(info, stats);
    // SAFETY: info is valid; index open.
    let index = unsafe { (*info).index };
    // SAFETY: heavyweight update lock, as in ambulkdelete.
    unsafe { pg_sys::LockPage(index, META_BLOCK, pg_sys::ExclusiveLock as i32) };
    let (relinked, live) = connect_unreachable(index, &Meta::read(index));
    // SAFETY: releases the lock taken above.
    unsafe { pg_sys::UnlockPage(index, META_BLOCK, pg_sys::ExclusiveLock as i32) };
    if relinked > 0 {
        ereport!(
            DEBUG1,
            PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
            format!("hnsw: linked {relinked} unreachable elements")
        );
    }
    if !had {
        // SAFETY: valid stats struct.
        unsafe { (*stats).num_index_tuples = live as f64 };
    }
    // SAFETY: valid stats struct.
    unsafe { (*stats).num_pages = nblocks(index) };
    stats
}
