//! Index scans: `ORDER BY embedding <op> $1 LIMIT k`. The first
//! `amgettuple` searches the graph with `hnsw.ef_search` candidates; rows
//! then stream nearest first. With `hnsw.iterative_scan`, an exhausted batch
//! triggers a wider search (doubling ef) that returns only rows not seen
//! yet, until `hnsw.max_scan_tuples` or the memory budget is reached.

use super::options::{IterativeScan, EF_SEARCH, ITERATIVE_SCAN, MAX_SCAN_TUPLES, SCAN_MEM_MULTIPLIER};
use super::prepare_vector;
use crate::hnsw::Scratch;
use crate::storage::graph::{self, IdMap, Meta, NodeInfo};
use crate::storage::layout::DiskTid;
use crate::types::{raise, Vector, VectorError};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;
use std::collections::HashSet;

/// Per-scan state, owned by the scan's memory context.
struct ScanState {
    meta: Option<Meta>,
    query: Option<Vec<f32>>,
    started: bool,
    results: Vec<(f32, DiskTid)>,
    pos: usize,
    ef: usize,
    returned: HashSet<DiskTid>,
    last_dist: f32,
    scratch: Scratch,
    info: IdMap<NodeInfo>,
}

fn state<'a>(scan: pg_sys::IndexScanDesc) -> &'a mut ScanState {
    // SAFETY: `opaque` was set by ambeginscan to a ScanState that lives as
    // long as the scan's memory context.
    unsafe { &mut *(*scan).opaque.cast::<ScanState>() }
}

/// `ambeginscan`.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambeginscan(index: pg_sys::Relation, nkeys: i32, norderbys: i32) -> pg_sys::IndexScanDesc {
    // SAFETY: standard scan descriptor allocation.
    let scan = unsafe { pg_sys::RelationGetIndexScan(index, nkeys, norderbys) };
    let st = ScanState {
        meta: None,
        query: None,
        started: false,
        results: Vec::new(),
        pos: 0,
        ef: 0,
        returned: HashSet::new(),
        last_dist: f32::NEG_INFINITY,
        scratch: Scratch::hashed(),
        info: IdMap::default(),
    };
    let ptr = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(st);
    // SAFETY: scan is a fresh descriptor we own.
    unsafe { (*scan).opaque = ptr.cast() };
    scan
}

/// `amrescan`: takes the query vector from the ORDER BY key.
#[pg_guard]
pub unsafe extern "C-unwind" fn amrescan(
    scan: pg_sys::IndexScanDesc,
    _keys: pg_sys::ScanKey,
    _nkeys: i32,
    orderbys: pg_sys::ScanKey,
    norderbys: i32,
) {
    // SAFETY: copying the executor's order-by keys into the descriptor, as
    // every ordering AM does; both arrays hold numberOfOrderBys keys.
    unsafe {
        if !orderbys.is_null() && (*scan).numberOfOrderBys > 0 {
            std::ptr::copy(orderbys, (*scan).orderByData, (*scan).numberOfOrderBys as usize);
        }
    }
    let st = state(scan);
    st.started = false;
    st.results.clear();
    st.returned.clear();
    st.pos = 0;
    st.last_dist = f32::NEG_INFINITY;
    st.query = None;
    if norderbys < 1 {
        return;
    }
    // SAFETY: orderByData[0] is the `<op> query` key; its argument is a
    // vector datum unless SK_ISNULL is set.
    let key = unsafe { &*(*scan).orderByData };
    if key.sk_flags & pg_sys::SK_ISNULL as i32 != 0 {
        return;
    }
    // SAFETY: index of an open scan.
    let meta = Meta::read(unsafe { (*scan).indexRelation });
    // SAFETY: non-null vector datum (see above).
    let q = unsafe { Vector::from_datum(key.sk_argument) };
    if q.dim() != meta.dims {
        raise(VectorError::DifferentDims(q.dim(), meta.dims), None);
    }
    // A zero query under cosine has no direction: every distance is NaN, so
    // any order is right; search with it unnormalised.
    st.query = Some(prepare_vector(meta.params.metric, q.as_slice()).unwrap_or_else(|| q.as_slice().to_vec()));
    st.meta = Some(meta);
}

/// Runs a search of width `ef`; keeps rows not returned yet.
fn search(scan: pg_sys::IndexScanDesc, st: &mut ScanState, ef: usize) {
    let (Some(meta), Some(q)) = (st.meta, st.query.as_ref()) else { return };
    // SAFETY: index of an open scan.
    let index = unsafe { (*scan).indexRelation };
    let found = graph::search(index, meta, q, ef, &mut st.scratch, &mut st.info);
    st.results = found
        .into_iter()
        .map(|(c, info)| (c.dist, info.heap_tid))
        .filter(|(_, t)| !st.returned.contains(t))
        .collect();
    st.pos = 0;
    st.ef = ef;
}

/// Widens an exhausted iterative scan; false when the budget is spent.
fn widen(scan: pg_sys::IndexScanDesc, st: &mut ScanState) -> bool {
    let mode = ITERATIVE_SCAN.get();
    if mode == IterativeScan::Off {
        return false;
    }
    let max_tuples = MAX_SCAN_TUPLES.get().max(1) as usize;
    // SAFETY: GUC global read on the backend thread.
    let work_mem_kb = unsafe { pg_sys::work_mem } as f64;
    let mem_budget = work_mem_kb * 1024.0 * SCAN_MEM_MULTIPLIER.get();
    // a visited element costs about 100 bytes of scan state
    let by_mem = (mem_budget / 100.0) as usize;
    if st.ef >= max_tuples.min(by_mem) {
        return false;
    }
    let ef = (st.ef * 2).min(max_tuples.min(by_mem)).max(st.ef + 1);
    search(scan, st, ef);
    if mode == IterativeScan::StrictOrder {
        let floor = st.last_dist;
        st.results.retain(|(d, _)| *d >= floor);
    }
    !st.results.is_empty() || st.ef < max_tuples.min(by_mem)
}

/// `amgettuple`: the next row, nearest first.
#[pg_guard]
pub unsafe extern "C-unwind" fn amgettuple(scan: pg_sys::IndexScanDesc, _dir: pg_sys::ScanDirection::Type) -> bool {
    let st = state(scan);
    if st.query.is_none() {
        return false;
    }
    if !st.started {
        st.started = true;
        search(scan, st, EF_SEARCH.get().max(1) as usize);
    }
    while st.pos >= st.results.len() {
        pgrx::check_for_interrupts!();
        if !widen(scan, st) {
            return false;
        }
    }
    let (dist, tid) = st.results[st.pos];
    st.pos += 1;
    st.last_dist = st.last_dist.max(dist);
    st.returned.insert(tid);
    // SAFETY: filling the descriptor's output fields for this row.
    unsafe {
        (*scan).xs_heaptid = pg_sys::ItemPointerData {
            ip_blkid: pg_sys::BlockIdData { bi_hi: tid.hi, bi_lo: tid.lo },
            ip_posid: tid.offset,
        };
        (*scan).xs_recheck = false;
        (*scan).xs_recheckorderby = false;
    }
    true
}

/// `amendscan`: the state goes with the scan's memory context; drop the
/// big buffers now.
#[pg_guard]
pub unsafe extern "C-unwind" fn amendscan(scan: pg_sys::IndexScanDesc) {
    let st = state(scan);
    st.results = Vec::new();
    st.returned = HashSet::new();
    st.scratch = Scratch::hashed();
    st.info = IdMap::default();
}
