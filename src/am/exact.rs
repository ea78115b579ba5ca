//! A heap row's exact ORDER BY value, computed by an index scan itself.
//!
//! A quantised index reports a lower bound of each row's distance and the
//! executor re-checks the exact one. Under `hnsw.iterative_scan =
//! strict_order`, a row of a later batch whose bound is below a value
//! already reported may still be at or beyond every row the executor has
//! returned: only its exact distance tells. It is computed here as the
//! executor will compute it: the row is fetched with the scan's heap
//! relation and snapshot (following HOT chains; a row the snapshot does not
//! see is one the executor skips too), the indexed value is formed as for
//! the index (a column or an expression, `FormIndexDatum`), and the ORDER
//! BY key's own function (`sk_func`: the operator's function the executor
//! calls, with its collation and the same query datum) is applied to it.
//! Same function, same arguments: the same float8, bit for bit, whatever
//! the opclass, element type, storage (TOAST, compression) or float4
//! rounding of the operator.
//!
//! Resources: one executor state (its memory holds the index info, the
//! slot and the heap fetch state) per scan, created on first use in the
//! scan's memory context and released by [`HeapDistance::close`] from
//! `amendscan`; after an ERROR the memory goes with the scan's context and
//! the heap buffer pins with the resource owner. The row's pin is dropped
//! and its memory (detoasted values, expression results) reset after every
//! row. No index page is locked or pinned here: the scan's page guards
//! are released before a row is handed out.

use super::item_pointer;
use crate::storage::layout::DiskTid;
use pgrx::pg_sys;
use pgrx::PgMemoryContexts;

/// What the executor will find for an index entry's heap row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Exact {
    /// The scan's snapshot sees no version of the row: the executor skips it.
    Invisible,
    /// The row's ORDER BY value as the executor computes it (NaN for NaN
    /// or NULL: float8's order puts both after every number).
    Value(f64),
}

/// Prepares the index expressions (if any) for `FormIndexDatum`, checking
/// the privileges to call their functions as the table's owner, as index
/// maintenance does: this state is made lazily, on a fetch, possibly by a
/// role other than the one that started the query (a cursor opened by a
/// SECURITY DEFINER function, or before SET ROLE); the executor checked its
/// own copy of these expressions (the ORDER BY's) when the query started
/// and does not check them again. They are evaluated as the current user,
/// as the executor evaluates its ORDER BY.
///
/// # Safety
/// `info` was built for an index of `heap` in `estate`'s query context.
unsafe fn prepare_expressions(info: *mut pg_sys::IndexInfo, heap: pg_sys::Relation, estate: *mut pg_sys::EState) {
    // SAFETY: fields of a live IndexInfo and relation; the user id is
    // switched only around preparing (no user code runs: functions are
    // looked up, not called) and restored after; an ERROR in between is
    // undone by the transaction's abort, as for PostgreSQL's own switches.
    unsafe {
        if (*info).ii_Expressions.is_null() {
            return;
        }
        let (mut user, mut sec) = (pg_sys::Oid::INVALID, 0);
        pg_sys::GetUserIdAndSecContext(&mut user, &mut sec);
        let owner = (*(*heap).rd_rel).relowner;
        pg_sys::SetUserIdAndSecContext(owner, sec | pg_sys::SECURITY_RESTRICTED_OPERATION as i32);
        (*info).ii_ExpressionsState = pg_sys::ExecPrepareExprList((*info).ii_Expressions, estate);
        pg_sys::SetUserIdAndSecContext(user, sec);
    }
}

/// Per-scan state for fetching heap rows and computing their ORDER BY value.
pub(super) struct HeapDistance {
    estate: *mut pg_sys::EState,
    econtext: *mut pg_sys::ExprContext,
    info: *mut pg_sys::IndexInfo,
    fetch: *mut pg_sys::IndexFetchTableData,
    slot: *mut pg_sys::TupleTableSlot,
}

impl HeapDistance {
    /// The state for `scan`, allocated under `cxt` (the scan's memory
    /// context); None when the scan has no heap relation or its ORDER BY
    /// key no function (not an executor's index scan).
    ///
    /// # Safety
    /// `scan` is a live index scan with at least one ORDER BY key, `cxt`
    /// a memory context that lives as long as it.
    pub(super) unsafe fn open(scan: pg_sys::IndexScanDesc, cxt: pg_sys::MemoryContext) -> Option<Self> {
        // SAFETY: fields of a live scan descriptor; the scan has an ORDER
        // BY key (the caller says so).
        let (heap, index, has_fn) =
            unsafe { ((*scan).heapRelation, (*scan).indexRelation, (*(*scan).orderByData).sk_func.fn_addr.is_some()) };
        if heap.is_null() || !has_fn {
            return None;
        }
        // SAFETY: `cxt` is a live context; everything below allocates in
        // it or in the executor state's own context, a child of it.
        unsafe {
            PgMemoryContexts::For(cxt).switch_to(|_| {
                let estate = pg_sys::CreateExecutorState();
                let econtext = pg_sys::MakePerTupleExprContext(estate);
                PgMemoryContexts::For((*estate).es_query_cxt).switch_to(|_| {
                    let info = pg_sys::BuildIndexInfo(index);
                    prepare_expressions(info, heap, estate);
                    let slot = pg_sys::table_slot_create(heap, std::ptr::null_mut());
                    let fetch = pg_sys::table_index_fetch_begin(heap);
                    // FormIndexDatum evaluates index expressions on the
                    // per-tuple context's scan tuple
                    (*econtext).ecxt_scantuple = slot;
                    Some(HeapDistance { estate, econtext, info, fetch, slot })
                })
            })
        }
    }

    /// The ORDER BY value the executor will compute for heap row `tid` of
    /// `scan`, or [`Exact::Invisible`].
    pub(super) fn distance(&mut self, scan: pg_sys::IndexScanDesc, tid: DiskTid) -> Exact {
        let mut tid = item_pointer(tid);
        let (mut call_again, mut all_dead) = (false, false);
        // SAFETY: the fetch state and slot were made for the scan's heap
        // relation in `open`; the snapshot is the scan's (an MVCC one,
        // checked when the scan started, so one version at most and no
        // second call for the same TID).
        let found = unsafe {
            pg_sys::table_index_fetch_tuple(
                self.fetch,
                &mut tid,
                (*scan).xs_snapshot,
                self.slot,
                &mut call_again,
                &mut all_dead,
            )
        };
        if !found {
            return Exact::Invisible;
        }
        // SAFETY: the per-tuple context belongs to our executor state.
        let mem = unsafe { (*self.econtext).ecxt_per_tuple_memory };
        // SAFETY: the slot holds the row (pinned); FormIndexDatum fills one
        // value per index column (at most INDEX_MAX_KEYS) and evaluates
        // expressions in `mem`; the ORDER BY key's function is the
        // operator's, (indexed type, query type) -> float8 (by value),
        // strict, called with a non-null value and the key's non-null query
        // (a NULL query reports no bounds, so never comes here). What it
        // allocates (detoasted copies) goes with the reset below.
        let d = unsafe {
            PgMemoryContexts::For(mem).switch_to(|_| {
                let mut values = [pg_sys::Datum::from(0usize); pg_sys::INDEX_MAX_KEYS as usize];
                let mut isnull = [true; pg_sys::INDEX_MAX_KEYS as usize];
                pg_sys::FormIndexDatum(self.info, self.slot, self.estate, values.as_mut_ptr(), isnull.as_mut_ptr());
                if isnull[0] {
                    return f64::NAN;
                }
                let key = &mut *(*scan).orderByData;
                let r = pg_sys::FunctionCall2Coll(&mut key.sk_func, key.sk_collation, values[0], key.sk_argument);
                f64::from_bits(r.value() as u64)
            })
        };
        // SAFETY: our slot, fetch state and context; nothing read from them
        // is kept. The fetch state would keep the heap page pinned until
        // the next row (or past the FETCH of an idle cursor): released now.
        unsafe {
            pg_sys::ExecClearTuple(self.slot);
            pg_sys::table_index_fetch_reset(self.fetch);
            pg_sys::MemoryContextReset(mem);
        }
        Exact::Value(d)
    }

    /// Releases the heap buffer pins and the memory.
    pub(super) fn close(self) {
        // SAFETY: made in `open` and not used after this; the slot and the
        // fetch state live in the executor state's memory, freed last.
        unsafe {
            pg_sys::table_index_fetch_end(self.fetch);
            pg_sys::ExecDropSingleTupleTableSlot(self.slot);
            pg_sys::FreeExecutorState(self.estate);
        }
    }
}
