//! VACUUM: `ambulkdelete` walks every list's pages and removes entries of
//! dead heap rows (one GenericXLog record per changed page);
//! `amvacuumcleanup` reports the index's size.

use crate::am::common::{empty_stats, vacuum_pause};
use crate::am::item_pointer;
use crate::storage::buffer::nblocks;
use crate::storage::ivf::{read_info, read_lists, vacuum_list};
use pgrx::pg_sys;
use pgrx::prelude::*;

/// `ambulkdelete`.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambulkdelete(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
    callback: pg_sys::IndexBulkDeleteCallback,
    callback_state: *mut std::ffi::c_void,
) -> *mut pg_sys::IndexBulkDeleteResult {
    let stats = empty_stats(stats);
    // SAFETY: VACUUM passes a valid info struct.
    let (index, strategy) = unsafe { ((*info).index, (*info).strategy) };
    let Some(cb) = callback else { return stats };
    let meta = read_info(index);
    let mut dead = |t| {
        let mut ip = item_pointer(t);
        // SAFETY: the callback VACUUM gave us, with its own state.
        unsafe { cb(&mut ip, callback_state) }
    };
    let (mut removed, mut kept) = (0usize, 0usize);
    for list in read_lists(index, &meta) {
        let (r, k) = vacuum_list(index, &list, strategy, &mut dead, &vacuum_pause);
        removed += r;
        kept += k;
    }
    // SAFETY: `stats` is a valid (possibly fresh) result struct.
    unsafe {
        (*stats).tuples_removed += removed as f64;
        (*stats).num_index_tuples = kept as f64;
        (*stats).estimated_count = false;
    }
    stats
}

/// `amvacuumcleanup`.
#[pg_guard]
pub unsafe extern "C-unwind" fn amvacuumcleanup(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: VACUUM passes a valid info struct.
    if unsafe { (*info).analyze_only } || stats.is_null() {
        return stats;
    }
    // SAFETY: a valid result struct from ambulkdelete.
    unsafe { (*stats).num_pages = nblocks((*info).index) };
    stats
}
