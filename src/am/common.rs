//! Glue both access methods (`hnsw`, `ivfflat`) share: the routine table
//! they hand to Postgres, the checks at the start of an ordered scan, scan
//! statistics and build progress.

use pgrx::pg_sys;
use pgrx::prelude::*;

/// The callbacks that differ between the two access methods.
pub(crate) struct Callbacks {
    pub ambuild: pg_sys::ambuild_function,
    pub ambuildempty: pg_sys::ambuildempty_function,
    pub aminsert: pg_sys::aminsert_function,
    pub ambulkdelete: pg_sys::ambulkdelete_function,
    pub amvacuumcleanup: pg_sys::amvacuumcleanup_function,
    pub amcostestimate: pg_sys::amcostestimate_function,
    pub amoptions: pg_sys::amoptions_function,
    pub ambuildphasename: pg_sys::ambuildphasename_function,
    pub ambeginscan: pg_sys::ambeginscan_function,
    pub amrescan: pg_sys::amrescan_function,
    pub amgettuple: pg_sys::amgettuple_function,
    pub amendscan: pg_sys::amendscan_function,
}

/// An `IndexAmRoutine` for an ordering-only access method (one key column,
/// ORDER BY an operator, no bitmap/backward/parallel scans) with
/// `amsupport` support functions.
pub(crate) fn routine(amsupport: u16, cb: Callbacks) -> *mut pg_sys::IndexAmRoutine {
    // SAFETY: alloc_node returns a zeroed, palloc'd IndexAmRoutine node that
    // Postgres takes ownership of; every callback has its C signature (the
    // field types say so). Fields not set stay false/None.
    unsafe {
        let mut am = PgBox::<pg_sys::IndexAmRoutine>::alloc_node(pg_sys::NodeTag::T_IndexAmRoutine);
        am.amstrategies = 0;
        am.amsupport = amsupport;
        am.amcanorderbyop = true;
        am.amoptionalkey = true;
        am.amparallelvacuumoptions = pg_sys::VACUUM_OPTION_PARALLEL_BULKDEL as u8;
        am.amkeytype = pg_sys::InvalidOid;
        am.ambuild = cb.ambuild;
        am.ambuildempty = cb.ambuildempty;
        am.aminsert = cb.aminsert;
        am.ambulkdelete = cb.ambulkdelete;
        am.amvacuumcleanup = cb.amvacuumcleanup;
        am.amcostestimate = cb.amcostestimate;
        am.amoptions = cb.amoptions;
        am.ambuildphasename = cb.ambuildphasename;
        am.amvalidate = Some(amvalidate);
        am.ambeginscan = cb.ambeginscan;
        am.amrescan = cb.amrescan;
        am.amgettuple = cb.amgettuple;
        am.amendscan = cb.amendscan;
        am.into_pg()
    }
}

/// Opclasses are checked by their SQL definitions; nothing to validate.
#[pg_guard]
unsafe extern "C-unwind" fn amvalidate(_opclass: pg_sys::Oid) -> bool {
    true
}

/// Counts the scan in pg_stat_*_indexes, as `pgstat_count_index_scan`.
fn count_scan(rel: pg_sys::Relation) {
    // SAFETY: an open relation; pgstat_assoc_relation attaches its stats
    // entry when statistics are enabled for it.
    unsafe {
        if (*rel).pgstat_info.is_null() {
            if !(*rel).pgstat_enabled {
                return;
            }
            pg_sys::pgstat_assoc_relation(rel);
        }
        if !(*rel).pgstat_info.is_null() {
            (*(*rel).pgstat_info).t_counts.t_numscans += 1;
        }
    }
}

/// The first fetch of a scan of an `am` index: counts it and checks that it
/// orders by an operator under an MVCC snapshot (pgvector's errors).
/// Returns the index.
pub(crate) fn start_ordered_scan(scan: pg_sys::IndexScanDesc, am: &str) -> pg_sys::Relation {
    // SAFETY: fields of a live scan descriptor.
    let (index, norderbys, snapshot) = unsafe { ((*scan).indexRelation, (*scan).numberOfOrderBys, (*scan).xs_snapshot) };
    count_scan(index);
    if norderbys < 1 {
        error!("cannot scan {am} index without order");
    }
    // SAFETY: the executor passes a valid snapshot.
    let mvcc = !snapshot.is_null() && {
        let t = unsafe { (*snapshot).snapshot_type };
        t == pg_sys::SnapshotType::SNAPSHOT_MVCC || t == pg_sys::SnapshotType::SNAPSHOT_HISTORIC_MVCC
    };
    if !mvcc {
        error!("non-MVCC snapshots are not supported with {am}");
    }
    index
}

/// Sets a `pg_stat_progress_create_index` field.
pub(crate) fn progress(param: u32, value: i64) {
    // SAFETY: plain call; a no-op outside a progress-reporting command.
    unsafe { pg_sys::pgstat_progress_update_param(param as i32, value) }
}

/// VACUUM's statistics struct: the one passed in, or a new zeroed one.
pub(crate) fn empty_stats(stats: *mut pg_sys::IndexBulkDeleteResult) -> *mut pg_sys::IndexBulkDeleteResult {
    if stats.is_null() {
        // SAFETY: zeroed result struct in the current (vacuum) context.
        unsafe { pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexBulkDeleteResult>()).cast() }
    } else {
        stats
    }
}

/// Between VACUUM's pages: honours a cancel and `vacuum_cost_delay`.
pub(crate) fn vacuum_pause() {
    pgrx::check_for_interrupts!();
    // SAFETY: plain call on the backend thread during VACUUM.
    unsafe { pg_sys::vacuum_delay_point() };
}
