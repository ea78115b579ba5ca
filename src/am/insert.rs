//! `aminsert`: one heap row into the on-disk graph, under the update lock
//! in share mode (see the locking notes in `storage`).

use super::prepare_vector;
use crate::hnsw::{Params, Scratch};
use crate::storage::graph::{self, Meta, META_BLOCK};
use crate::storage::layout::DiskTid;
use crate::rng::Rng;
use crate::types::{raise, Vector, VectorError};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::RefCell;

thread_local! {
    /// Level generator of this backend, seeded per process.
    static LEVELS: RefCell<Rng> = RefCell::new(Rng::new(
        // SAFETY: reading the backend's process id.
        (unsafe { pg_sys::MyProcPid } as u64) << 32 ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    ));
    /// Search scratch reused across inserts of this backend.
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

/// A random level for a new element.
pub fn random_level(params: &Params) -> usize {
    LEVELS.with(|r| params.level_for(1.0 - r.borrow_mut().uniform()))
}

/// `aminsert`.
#[pg_guard]
pub unsafe extern "C-unwind" fn aminsert(
    index: pg_sys::Relation,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    heap_tid: pg_sys::ItemPointer,
    _heap: pg_sys::Relation,
    _unique: pg_sys::IndexUniqueCheck::Type,
    _unchanged: bool,
    _info: *mut pg_sys::IndexInfo,
) -> bool {
    // SAFETY: one indexed column: values[0]/isnull[0] are valid.
    if unsafe { *isnull } {
        return false;
    }
    // SAFETY: a non-null datum of the indexed vector column.
    let v = unsafe { Vector::from_datum(*values) };
    let meta = Meta::read(index);
    if v.dim() != meta.dims {
        raise(VectorError::ExpectedDims { expected: meta.dims as i32, got: v.dim() as i32 }, None);
    }
    let Some(x) = prepare_vector(meta.params.metric, v.as_slice()) else { return false };
    // SAFETY: heap_tid points at the new row's item pointer.
    let t = unsafe { *heap_tid };
    let tid = DiskTid { hi: t.ip_blkid.bi_hi, lo: t.ip_blkid.bi_lo, offset: t.ip_posid };
    let level = random_level(&meta.params);
    // SAFETY: a heavyweight lock on the index; released below or at abort.
    unsafe { pg_sys::LockPage(index, META_BLOCK, pg_sys::ShareLock as i32) };
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        let scratch = s.get_or_insert_with(Scratch::hashed);
        graph::insert(index, tid, &x, level, scratch);
    });
    // SAFETY: releases the lock taken above.
    unsafe { pg_sys::UnlockPage(index, META_BLOCK, pg_sys::ShareLock as i32) };
    false
}
