//! Index scans: `ORDER BY col <op> $1 LIMIT k`. The first `amgettuple`
//! orders the lists by their center's distance to the query, reads the
//! `ivfflat.probes` nearest lists whole and sorts their rows by distance;
//! rows then stream nearest first. With `ivfflat.iterative_scan =
//! relaxed_order`, an exhausted batch is followed by the next `probes`
//! lists, sorted on their own, up to max(`ivfflat.max_probes`, probes)
//! lists in all.
//!
//! A batch holds at most what `work_mem` allows (as pgvector's tuplesort
//! is bounded by it): the nearest candidates of its lists are kept; when
//! they are used up and the lists had more, the same lists are read again
//! for the next nearest ones after the last row returned (distance, then
//! heap TID, so ties are neither lost nor repeated).
//!
//! A NULL query (or, for cosine, a zero one) has no distances: every row
//! counts as distance 0 and the lists are read in their own order.

use super::options::{IterativeScan, ITERATIVE_SCAN, MAX_PROBES, PROBES};
use crate::am::{item_pointer, prepare_vector, Element};
use crate::ivf::nearest_lists;
use crate::space::{Bytes, Space};
use crate::storage::ivf::{for_each_entry, read_info, visit_lists, IvfInfo};
use crate::storage::layout::DiskTid;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

/// Per-scan state, owned by the scan's memory context.
#[derive(Default)]
struct ScanState {
    started: bool,
    info: Option<IvfInfo>,
    query: Option<Bytes>,
    /// First entry page of each list, nearest list first.
    order: Vec<u32>,
    /// Lists read so far.
    probed: usize,
    /// Most lists to read.
    max_probes: usize,
    batch: Vec<(f64, DiskTid)>,
    pos: usize,
    /// Lists of the current batch (positions in `order`).
    batch_lists: std::ops::Range<usize>,
    /// Whether the current batch's lists hold rows after its last one.
    more: bool,
}

/// Candidates a batch keeps under `work_mem` (at most twice that many are
/// held while the lists are read).
fn batch_cap() -> usize {
    // SAFETY: GUC global read on the backend thread.
    let work_mem_kb = unsafe { pg_sys::work_mem }.max(64) as usize;
    (work_mem_kb * 1024 / (2 * std::mem::size_of::<(f64, DiskTid)>())).max(256)
}

/// The order rows are returned in: distance, then heap TID.
fn key(c: &(f64, DiskTid)) -> (f64, u16, u16, u16) {
    (c.0, c.1.hi, c.1.lo, c.1.offset)
}

fn cmp(a: &(f64, DiskTid), b: &(f64, DiskTid)) -> std::cmp::Ordering {
    let (ka, kb) = (key(a), key(b));
    ka.0.total_cmp(&kb.0).then((ka.1, ka.2, ka.3).cmp(&(kb.1, kb.2, kb.3)))
}

/// Keeps the `cap` first of `batch` (in [`cmp`] order), unsorted.
fn keep_first(batch: &mut Vec<(f64, DiskTid)>, cap: usize) {
    if batch.len() > cap {
        batch.select_nth_unstable_by(cap, cmp);
        batch.truncate(cap);
    }
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
    let ptr = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(ScanState::default());
    // SAFETY: scan is a fresh descriptor we own.
    unsafe { (*scan).opaque = ptr.cast() };
    scan
}

/// `amrescan`: takes the query from the ORDER BY key on the next fetch.
#[pg_guard]
pub unsafe extern "C-unwind" fn amrescan(
    scan: pg_sys::IndexScanDesc,
    keys: pg_sys::ScanKey,
    nkeys: i32,
    orderbys: pg_sys::ScanKey,
    _norderbys: i32,
) {
    // SAFETY: copying the executor's keys into the descriptor, as every AM
    // does; the arrays hold numberOfKeys / numberOfOrderBys keys.
    unsafe {
        if !keys.is_null() && nkeys > 0 && (*scan).numberOfKeys > 0 {
            std::ptr::copy(keys, (*scan).keyData, (*scan).numberOfKeys as usize);
        }
        if !orderbys.is_null() && (*scan).numberOfOrderBys > 0 {
            std::ptr::copy(orderbys, (*scan).orderByData, (*scan).numberOfOrderBys as usize);
        }
    }
    *state(scan) = ScanState::default();
}

/// The query in the index's query form (None: NULL, or zero for cosine).
fn read_query(scan: pg_sys::IndexScanDesc, info: &IvfInfo) -> Option<Bytes> {
    // SAFETY: the scan has at least one order-by key (checked by the caller).
    let key = unsafe { &*(*scan).orderByData };
    if key.sk_flags & pg_sys::SK_ISNULL as i32 != 0 {
        return None;
    }
    let element = Element::of_kind(info.value_kind);
    // SAFETY: a non-null key argument of the opclass's type.
    let q = unsafe { element.read(key.sk_argument) };
    if q.len() != info.dims {
        element.raise_different(info.dims, q.len());
    }
    prepare_vector(info.metric, &q).map(|x| info.space().query_of(&x, &q))
}

/// First fetch: checks, list order, first batch.
fn start(scan: pg_sys::IndexScanDesc, st: &mut ScanState) {
    let index = crate::am::common::start_ordered_scan(scan, "ivfflat");
    let info = read_info(index);
    st.query = read_query(scan, &info);
    let (space, query) = (info.space(), st.query.as_deref());
    // distances on the list pages' own bytes (no copy of the centers); a
    // missing query keeps the lists' own order (every distance 0)
    let mut dist: Vec<(f64, u32)> = Vec::with_capacity(info.lists);
    let mut starts: Vec<u32> = Vec::with_capacity(info.lists);
    visit_lists(index, &info, &mut |_, start, _, center| {
        dist.push((query.map_or(0.0, |q| space.distance(q, center)), starts.len() as u32));
        starts.push(start);
    });
    let probes = (PROBES.get().max(1) as usize).min(starts.len());
    st.max_probes = match ITERATIVE_SCAN.get() {
        IterativeScan::Off => probes,
        IterativeScan::RelaxedOrder => (MAX_PROBES.get().max(1) as usize).max(probes).min(starts.len()),
    };
    // only the lists a scan may read are put in order
    st.order = nearest_lists(dist, st.max_probes).into_iter().map(|i| starts[i as usize]).collect();
    st.info = Some(info);
    read_batch(index, st, probes);
}

/// Reads the next `probes` lists (at most up to `max_probes`) into a new
/// batch sorted by distance; false when no list is left.
fn read_batch(index: pg_sys::Relation, st: &mut ScanState, probes: usize) -> bool {
    let end = (st.probed + probes).min(st.max_probes);
    if st.probed >= end {
        return false;
    }
    st.batch_lists = st.probed..end;
    st.probed = end;
    fill(index, st, None);
    true
}

/// Fills the batch from the lists of `st.batch_lists` with the nearest
/// candidates after `after` (all of them, when None), as many as
/// [`batch_cap`] allows, sorted.
fn fill(index: pg_sys::Relation, st: &mut ScanState, after: Option<(f64, DiskTid)>) {
    let Some(info) = st.info else { return };
    let space: Space = info.space();
    let cap = batch_cap();
    st.batch.clear();
    st.pos = 0;
    let query = st.query.as_deref();
    let batch = &mut st.batch;
    let mut seen = 0usize;
    for &start in &st.order[st.batch_lists.clone()] {
        for_each_entry(index, start, info.value_bytes(), &mut |tid, value| {
            let c = (query.map_or(0.0, |q| space.distance(q, value)), tid);
            if after.is_some_and(|a| cmp(&c, &a) != std::cmp::Ordering::Greater) {
                return;
            }
            seen += 1;
            batch.push(c);
            if batch.len() >= 2 * cap {
                keep_first(batch, cap);
            }
        });
    }
    keep_first(batch, cap);
    st.more = seen > batch.len();
    batch.sort_by(cmp);
}

/// `amgettuple`: the next row, nearest first within its batch.
#[pg_guard]
pub unsafe extern "C-unwind" fn amgettuple(scan: pg_sys::IndexScanDesc, _dir: pg_sys::ScanDirection::Type) -> bool {
    let st = state(scan);
    if !st.started {
        st.started = true;
        start(scan, st);
    }
    // SAFETY: field of a live scan descriptor.
    let index = unsafe { (*scan).indexRelation };
    loop {
        if let Some(&(_, tid)) = st.batch.get(st.pos) {
            st.pos += 1;
            // SAFETY: filling the descriptor's output fields for this row.
            unsafe {
                (*scan).xs_heaptid = item_pointer(tid);
                (*scan).xs_recheck = false;
                (*scan).xs_recheckorderby = false;
            }
            return true;
        }
        pgrx::check_for_interrupts!();
        if st.more {
            let last = st.batch.last().copied();
            fill(index, st, last);
            continue;
        }
        let probes = (PROBES.get().max(1) as usize).max(1);
        if !read_batch(index, st, probes) {
            return false;
        }
    }
}

/// `amendscan`: drop the big buffers now.
#[pg_guard]
pub unsafe extern "C-unwind" fn amendscan(scan: pg_sys::IndexScanDesc) {
    let st = state(scan);
    st.batch = Vec::new();
    st.order = Vec::new();
}
