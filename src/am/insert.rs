//! `aminsert`: one heap row into the on-disk graph (see
//! [`crate::storage::insert`] for the algorithm and its locking).

use super::{disk_tid, Element};
use crate::hnsw::{Params, Scratch};
use crate::rng::Rng;
use crate::storage::insert::{insert, insert_unchanged};
use crate::storage::meta::Meta;
use crate::types::{raise, VectorError};
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

/// Runs `f` with this backend's search scratch.
pub fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        f(s.get_or_insert_with(Scratch::hashed))
    })
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
    unchanged: bool,
    _info: *mut pg_sys::IndexInfo,
) -> bool {
    // SAFETY: one indexed column: values[0]/isnull[0] are valid.
    if unsafe { *isnull } {
        return false;
    }
    let meta = Meta::read(index);
    // SAFETY: a non-null datum of the indexed column, whose type the
    // index's value kind was chosen for.
    let element = Element::of_kind(meta.value_kind);
    let v = unsafe { element.read(*values) };
    let (got, want) = (element.dims_of(&v), super::column_dims(index, &meta));
    if got != want {
        raise(VectorError::ExpectedDims { expected: want as i32, got: got as i32 }, None);
    }
    let Some(x) = element.prepare(meta.params.metric, &v, Some(meta.dims)) else { return false };
    let code = meta.space().encode_of(&x, &v);
    // SAFETY: heap_tid points at the new row's item pointer.
    let tid = disk_tid(unsafe { &*heap_tid });
    let level = random_level(&meta.params);
    with_scratch(|scratch| {
        // an UPDATE that did not change the vector: the new row joins the
        // element of the old one instead of a full insert
        if !(unchanged && insert_unchanged(index, tid, &x, &code, scratch)) {
            insert(index, tid, &x, &code, level, scratch);
        }
    });
    false
}
