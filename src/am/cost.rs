//! `amcostestimate`: the index only helps `ORDER BY <op> LIMIT`; its cost is
//! the part of the index a search touches, and since all the work happens
//! before the first row, startup cost equals total cost (as pgvector).

use super::options::EF_SEARCH;
use crate::storage::graph::Meta;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// `amcostestimate`.
#[pg_guard]
pub unsafe extern "C-unwind" fn amcostestimate(
    root: *mut pg_sys::PlannerInfo,
    path: *mut pg_sys::IndexPath,
    loop_count: f64,
    startup: *mut pg_sys::Cost,
    total: *mut pg_sys::Cost,
    selectivity: *mut pg_sys::Selectivity,
    correlation: *mut f64,
    pages: *mut f64,
) {
    // SAFETY: the planner passes valid pointers for every output and a path
    // whose indexinfo describes this index.
    unsafe {
        if (*path).indexorderbys.is_null() {
            *startup = f64::MAX;
            *total = f64::MAX;
            *selectivity = 0.0;
            *correlation = 0.0;
            *pages = 0.0;
            return;
        }
        let info = (*path).indexinfo;
        let tuples = (*info).tuples.max(1.0);
        let m = {
            let rel = pg_sys::index_open((*info).indexoid, pg_sys::NoLock as i32);
            let m = if pg_sys::RelationGetNumberOfBlocksInFork(rel, pg_sys::ForkNumber::MAIN_FORKNUM) > 0 {
                Meta::read(rel).params.m
            } else {
                16
            };
            pg_sys::index_close(rel, pg_sys::NoLock as i32);
            m as f64
        };
        // pgvector's estimate, which planners in the field are tuned to:
        // (entry level + 2) * m index tuples, scaled by ef_search / 40.
        let entry_level = (tuples.ln() / m.ln().max(1.0)).floor();
        let ef = EF_SEARCH.get() as f64 / 40.0;
        let visited = ((entry_level + 2.0) * m * ef.max(0.25)).min(tuples);
        let mut costs: pg_sys::GenericCosts = std::mem::zeroed();
        costs.numIndexTuples = visited;
        pg_sys::genericcostestimate(root, path, loop_count, &mut costs);
        *startup = costs.indexTotalCost;
        *total = costs.indexTotalCost;
        *selectivity = costs.indexSelectivity;
        *correlation = costs.indexCorrelation;
        *pages = costs.numIndexPages;
    }
}
