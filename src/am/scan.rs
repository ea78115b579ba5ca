//! Index scans: `ORDER BY embedding <op> $1 LIMIT k`. The first
//! `amgettuple` descends from the entry point and runs a best-first search
//! of layer 0 with `hnsw.ef_search` candidates; rows then stream nearest
//! first (an element stands for up to 10 identical rows). With
//! `hnsw.iterative_scan`, an exhausted batch continues the same search
//! (nothing visited is forgotten) for the next `ef_search` rows, until
//! `hnsw.max_scan_tuples` elements were visited or the scan's memory
//! reaches `work_mem * hnsw.scan_mem_multiplier`; then the rows it found
//! but did not return yet are handed out, nearest first.
//!
//! A quantised index reports a lower bound of each row's distance, which
//! the executor re-checks (see [`report_row`]); under `strict_order` a row
//! whose bound is below a value already reported is kept only if its exact
//! distance, computed from the table ([`super::exact`]), is not below any
//! row the executor may have returned ([`super::returned`]).
//!
//! A NULL query (or, for cosine, a zero one) has no distances: every
//! element counts as distance 0, as with pgvector, so the scan returns the
//! rows the search reaches in no particular order.

use super::exact::{Exact, HeapDistance};
use super::returned::Returned;
use super::options::{IterativeScan, EF_SEARCH, ITERATIVE_SCAN, MAX_SCAN_TUPLES, SCAN_MEM_MULTIPLIER};
use super::{item_pointer, Element};
use crate::hnsw::{greedy_descent, unusable, Candidate, Scratch, Source, StreamSearch};
use crate::quant::lazy::LazyBounds;
use crate::space::Bytes;
use crate::storage::graph::DiskGraph;
use crate::storage::layout::DiskTid;
use crate::storage::meta::Meta;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

/// Per-scan state, owned by the scan's memory context.
struct ScanState {
    /// The query in the index's query form, or None for a NULL/zero query.
    query: Option<Bytes>,
    started: bool,
    graph: Option<DiskGraph>,
    stream: StreamSearch,
    scratch: Scratch,
    batch: Vec<Candidate>,
    pos: usize,
    /// Heap rows of `batch[pos]` and the next one to return.
    tids: Vec<DiskTid>,
    tid_pos: usize,
    /// For a quantised index (else empty), per row of `batch`: the values
    /// reported with the rows, which the executor re-checks, and the
    /// bounds they come from.
    bounds: LazyBounds,
    /// The largest key (distance or bound) of a row handed out; for a
    /// quantised index `lowered(last_dist)` is the largest value reported
    /// to the executor, so every row it has returned is at most that far.
    last_dist: f64,
    /// The scan's memory context (for [`HeapDistance`]).
    cxt: pg_sys::MemoryContext,
    /// Exact distances of heap rows (strict order on a quantised index),
    /// opened on first use: `None` until then, `Some(None)` when the scan
    /// cannot (no heap relation).
    exact: Option<Option<HeapDistance>>,
    /// Strict order on a quantised index: the rows handed out, for what
    /// the executor may have returned.
    returned: Returned,
}

/// What a finished scan leaves for the backend's next one: its tables and
/// buffers, already grown to a query's size.
struct Pooled {
    stream: StreamSearch,
    scratch: Scratch,
    batch: Vec<Candidate>,
}

/// Scans keep at most this much memory between statements (a query at
/// ef_search 100 over a million rows needs about a megabyte).
const POOL_LIMIT: usize = 2 << 20;

thread_local! {
    /// One backend (one thread) runs one statement at a time; nested scans
    /// simply find the pool empty.
    static POOL: std::cell::RefCell<Option<Pooled>> = const { std::cell::RefCell::new(None) };
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
    let pooled = POOL.with(|p| p.borrow_mut().take());
    let (stream, scratch, batch) = match pooled {
        Some(p) => (p.stream, p.scratch, p.batch),
        None => (StreamSearch::default(), Scratch::hashed(), Vec::new()),
    };
    let st = ScanState {
        query: None,
        started: false,
        graph: None,
        stream,
        scratch,
        batch,
        pos: 0,
        tids: Vec::new(),
        tid_pos: 0,
        bounds: LazyBounds::default(),
        last_dist: f64::NEG_INFINITY,
        // SAFETY: reading the backend's current context, which the scan
        // descriptor and this state are allocated in.
        cxt: unsafe { pg_sys::CurrentMemoryContext },
        exact: None,
        returned: Returned::default(),
    };
    let ptr = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(st);
    // SAFETY: scan is a fresh descriptor we own; the order-by value arrays
    // (one entry per order-by key) are how lossy distances reach the
    // executor.
    unsafe {
        (*scan).opaque = ptr.cast();
        let n = norderbys.max(1) as usize;
        (*scan).xs_orderbyvals = pg_sys::palloc0(n * std::mem::size_of::<pg_sys::Datum>()).cast();
        let nulls = pg_sys::palloc(n).cast::<bool>();
        std::ptr::write_bytes(nulls, 1, n);
        (*scan).xs_orderbynulls = nulls;
    }
    scan
}

/// `amrescan`: takes the query vector from the ORDER BY key.
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
    let st = state(scan);
    st.started = false;
    st.batch.clear();
    st.bounds.clear();
    st.pos = 0;
    st.tids.clear();
    st.tid_pos = 0;
    st.last_dist = f64::NEG_INFINITY;
    st.returned.clear();
    st.query = None;
}

/// Reads the query from the order-by key (None: NULL, or zero for cosine).
fn read_query(scan: pg_sys::IndexScanDesc, meta: &Meta) -> Option<Bytes> {
    // SAFETY: the scan has at least one order-by key (checked by the caller).
    let key = unsafe { &*(*scan).orderByData };
    if key.sk_flags & pg_sys::SK_ISNULL as i32 != 0 {
        return None;
    }
    let element = Element::of_kind(meta.value_kind);
    // SAFETY: a non-null key argument of the opclass's type.
    let q = unsafe { element.read(key.sk_argument) };
    // SAFETY: a scan's indexRelation is the open index.
    let want = super::column_dims(unsafe { (*scan).indexRelation }, meta);
    if element.dims_of(&q) != want {
        element.raise_different(element.dims_of(&q), want);
    }
    element.prepare(meta.params.metric, &q, None).map(|x| meta.space().query_of(&x, &q))
}

/// First call: checks, then the descent and the first batch.
fn start(scan: pg_sys::IndexScanDesc, st: &mut ScanState) {
    let index = crate::am::common::start_ordered_scan(scan, "hnsw");
    let meta = Meta::read(index);
    st.query = read_query(scan, &meta);
    // when there is nowhere to start, the search of a rescan or of a pooled
    // earlier scan must not be continued by iterative batches
    let Some((ep, top)) = meta.entry else {
        st.stream.forget();
        return;
    };
    let mut graph = match st.graph.take() {
        Some(mut g) if g.index() == index => {
            g.set_meta(meta);
            g
        }
        _ => DiskGraph::new(index, meta, true),
    };
    graph.reset(st.query.as_deref(), None);
    let start = Candidate { dist: graph.distance(ep, top, f64::INFINITY), id: ep };
    if !unusable(start.dist) {
        let entry = greedy_descent(&mut graph, start, top, 0, &mut st.scratch);
        st.stream.start(&mut graph, &[entry, start]);
        let ef = EF_SEARCH.get().max(1) as usize;
        st.stream.next_batch(&mut graph, ef, usize::MAX, &mut st.batch);
    } else {
        st.stream.forget();
    }
    st.graph = Some(graph);
    fill_bounds(st);
}

/// For a quantised index, prepares the values reported with the rows of
/// the batch (see [`LazyBounds`]): the cheap bounds (which cache each
/// row's value, read right after the search), and the full ones of rows
/// without a cheap bound.
fn fill_bounds(st: &mut ScanState) {
    st.bounds.clear();
    let Some(g) = st.graph.as_mut() else { return };
    if !g.reports_bounds() {
        return;
    }
    st.bounds.start(st.batch.iter().map(|c| g.distance_bound(c.id, c.dist)));
    // rows without a cheap bound (a lean scan, which keeps no values; other
    // metrics) get their full one now, read right after the search as
    // the cheap ones were, not later while the rows are handed out
    let batch = &st.batch;
    let mut full_of = |j: usize| g.lower_bound(batch[j].id).unwrap_or(f64::NEG_INFINITY);
    for i in 0..batch.len() {
        if st.bounds.lacks_cheap(i) {
            st.bounds.full(i, &mut full_of);
        }
    }
}

/// The value reported with row `i` of the batch (see
/// [`LazyBounds::reported`]).
fn reported_bound(st: &mut ScanState, i: usize) -> f64 {
    let batch = &st.batch;
    let Some(g) = st.graph.as_mut() else { return f64::NEG_INFINITY };
    st.bounds.reported(i, &mut |j: usize| g.lower_bound(batch[j].id).unwrap_or(f64::NEG_INFINITY))
}

/// Continues an iterative scan; false when nothing is left.
fn next_batch(st: &mut ScanState) -> bool {
    if ITERATIVE_SCAN.get() == IterativeScan::Off {
        return false;
    }
    let Some(graph) = st.graph.as_mut() else { return false };
    // a long iterative scan keeps only what its continuation needs: the
    // search's frontier and results, not the pages' contents
    graph.set_lean();
    // SAFETY: GUC global read on the backend thread.
    let work_mem_kb = unsafe { pg_sys::work_mem } as f64;
    let budget = work_mem_kb * 1024.0 * SCAN_MEM_MULTIPLIER.get();
    // what this scan holds, not the capacity of tables an earlier scan of
    // the backend left (a busy backend stops where a fresh one does)
    let used = (graph.heap_bytes() + st.stream.used_bytes()) as f64;
    let max_visits = if used >= budget { 0 } else { MAX_SCAN_TUPLES.get().max(1) as usize };
    let ef = EF_SEARCH.get().max(1) as usize;
    st.stream.next_batch(graph, ef, max_visits, &mut st.batch);
    st.pos = 0;
    st.tids.clear();
    st.tid_pos = 0;
    fill_bounds(st);
    !st.batch.is_empty()
}

/// `amgettuple`: the next row, nearest first.
#[pg_guard]
pub unsafe extern "C-unwind" fn amgettuple(scan: pg_sys::IndexScanDesc, _dir: pg_sys::ScanDirection::Type) -> bool {
    let st = state(scan);
    if !st.started {
        st.started = true;
        start(scan, st);
    }
    let strict = ITERATIVE_SCAN.get() == IterativeScan::StrictOrder;
    loop {
        while st.pos < st.batch.len() {
            let c = st.batch[st.pos];
            if st.tid_pos == 0 {
                if let Some(g) = st.graph.as_mut() {
                    g.heap_tids(c.id, &mut st.tids);
                }
            }
            let Some(&tid) = st.tids.get(st.tid_pos) else {
                st.pos += 1;
                st.tids.clear();
                st.tid_pos = 0;
                continue;
            };
            st.tid_pos += 1;
            // strict order: nothing nearer than what was already reported
            // (for a quantised index, the bounds the executor orders by)
            let bound = (st.pos < st.bounds.len()).then(|| reported_bound(st, st.pos));
            let key = bound.unwrap_or(c.dist);
            let mut value = bound.map(lowered);
            if strict && key < st.last_dist {
                // a quantised index's row may still be at or beyond every
                // row the executor returned: its exact distance tells
                let Some(v) = value.and_then(|_| behind_everything_returned(scan, st, tid)) else {
                    continue;
                };
                value = Some(v);
            } else if strict && value.is_some() {
                st.returned.handed(tid);
            } else if value.is_some() {
                // handed out without strict order (the setting changed
                // mid-scan): not recorded, so a later strict row is kept
                // only at or beyond the largest value reported
                st.returned.untracked();
            }
            st.last_dist = st.last_dist.max(key);
            report_row(scan, tid, value);
            return true;
        }
        pgrx::check_for_interrupts!();
        if !next_batch(st) {
            return false;
        }
    }
}

/// The value reported for a row whose bound is `lb`: lowered a little more
/// for the float4 rounding of the operator's own arithmetic.
fn lowered(lb: f64) -> f64 {
    lb - (1e-4 * lb.abs() + 1e-5)
}

/// Hands heap row `tid` out with `value` (a quantised index: a value its
/// exact distance is not below; None: the search's distance is exact).
fn report_row(scan: pg_sys::IndexScanDesc, tid: DiskTid, value: Option<f64>) {
    // SAFETY: filling the descriptor's output fields for this row; the
    // order-by arrays were allocated in ambeginscan.
    unsafe {
        (*scan).xs_heaptid = item_pointer(tid);
        (*scan).xs_recheck = false;
        match value {
            // A quantised index knows only a lower bound of the distance:
            // the executor computes the exact one from the row, returns
            // rows in exact order, and returns a row once its exact
            // distance is at most the value last reported.
            Some(v) => {
                *(*scan).xs_orderbyvals = pg_sys::Datum::from(v.to_bits() as usize);
                *(*scan).xs_orderbynulls = false;
                (*scan).xs_recheckorderby = true;
            }
            None => (*scan).xs_recheckorderby = false,
        }
    }
}

/// Strict order, a quantised index: the value to report with heap row
/// `tid`, whose bound is below a value already reported, when its exact
/// distance is at or beyond every row the executor may have returned (see
/// [`Returned`]); None to skip the row. At or beyond the largest value
/// reported, it is reported with that value (not above its exact
/// distance, and the values do not decrease); between, with a value just
/// below its exact distance (the executor queues it until a later value
/// reaches it). Rows the snapshot does not see are skipped (the executor
/// would skip them), and every such row when the distance cannot be
/// computed (no heap relation).
fn behind_everything_returned(scan: pg_sys::IndexScanDesc, st: &mut ScanState, tid: DiskTid) -> Option<f64> {
    let cxt = st.cxt;
    // SAFETY: a started scan has an ORDER BY key; `cxt` is the context
    // the scan state lives in.
    let exact = st.exact.get_or_insert_with(|| unsafe { HeapDistance::open(scan, cxt) }).as_mut()?;
    let reported = lowered(st.last_dist);
    let Exact::Value(d) = exact.distance(scan, tid) else { return None };
    if d.is_nan() || d >= reported {
        st.returned.handed_exact(d);
        return Some(reported);
    }
    let value = lowered(d);
    let returned = st.returned.max_returned(reported, &mut |t| exact.distance(scan, t));
    // `value <= d` fails only for an infinite d (a NaN value)
    if d < returned || !(value <= d) {
        return None;
    }
    st.returned.handed_exact(d);
    Some(value)
}

/// `amendscan`: the state goes with the scan's memory context; drop the
/// big buffers now.
#[pg_guard]
pub unsafe extern "C-unwind" fn amendscan(scan: pg_sys::IndexScanDesc) {
    let st = state(scan);
    if let Some(Some(h)) = st.exact.take() {
        h.close();
    }
    // the graph leaves its memory to the backend's next graph when dropped
    st.graph = None;
    let stream = std::mem::take(&mut st.stream);
    if stream.heap_bytes() <= POOL_LIMIT {
        let mut batch = std::mem::take(&mut st.batch);
        batch.clear();
        let scratch = std::mem::replace(&mut st.scratch, Scratch::hashed());
        POOL.with(|p| *p.borrow_mut() = Some(Pooled { stream, scratch, batch }));
    }
    st.batch = Vec::new();
}
