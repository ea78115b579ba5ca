//! `aminsert`: a row goes to the list of its nearest center (by the
//! opclass's distance), appended to the list's insert page (see
//! [`crate::storage::ivf::append`] for locking and WAL).

use crate::am::{disk_tid, prepare_vector, Element};
use crate::space::Bytes;
use crate::storage::ivf::{append, read_info, visit_lists, ListInfo};
use crate::types::{raise, VectorError};
use pgrx::pg_sys;
use pgrx::prelude::*;

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
    let info = read_info(index);
    // SAFETY: a non-null datum of the indexed column's type.
    let v = unsafe { Element::of_kind(info.value_kind).read(*values) };
    if v.len() != info.dims {
        raise(VectorError::ExpectedDims { expected: info.dims as i32, got: v.len() as i32 }, None);
    }
    // cosine: zero vectors are not indexed
    let Some(x) = prepare_vector(info.metric, &v) else { return false };
    let space = info.space();
    let value = space.encode_of(&x, &v);
    // the nearest center as `nearest` picks it (the first of equals; the
    // first list when none is below infinity), measured on the list pages:
    // only a new best center is copied
    let mut best: (f64, Option<ListInfo>) = (f64::INFINITY, None);
    visit_lists(index, &info, &mut |at, start, insert, center| {
        let d = space.distance(&value, center);
        if best.1.is_none() || d < best.0 {
            let d = if best.1.is_none() && !(d < f64::INFINITY) { f64::INFINITY } else { d };
            best = (d, Some(ListInfo { at, start, insert, center: Bytes::from_slice(center) }));
        }
    });
    let Some(list) = best.1 else { error!("ivfflat index has no lists") };
    // SAFETY: heap_tid points at the new row's item pointer.
    append(index, &list, disk_tid(unsafe { &*heap_tid }), &value);
    false
}
