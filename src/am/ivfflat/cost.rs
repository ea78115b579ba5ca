//! `amcostestimate`, pgvector's ivfflat cost model: the generic cost of
//! reading the index with half of its pages priced as sequential; the
//! startup cost is the share of the `probes` lists out of all lists; when
//! that share is under half and reads more pages than the table has, the
//! rest of its pages are priced as sequential and the excess dropped. No
//! ORDER BY: infinite cost.

use super::options::PROBES;
use crate::storage::buffer::nblocks;
use crate::storage::ivf::read_info;
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
            *startup = f64::INFINITY;
            *total = f64::INFINITY;
            *selectivity = 0.0;
            *correlation = 0.0;
            *pages = 0.0;
            return;
        }
        let mut costs: pg_sys::GenericCosts = std::mem::zeroed();
        pg_sys::genericcostestimate(root, path, loop_count, &mut costs);
        let info = (*path).indexinfo;
        let lists = {
            let rel = pg_sys::index_open((*info).indexoid, pg_sys::NoLock as i32);
            let lists = if nblocks(rel) > 0 { read_info(rel).lists } else { super::options::LISTS.0 as usize };
            pg_sys::index_close(rel, pg_sys::NoLock as i32);
            lists.max(1) as f64
        };
        let ratio = (PROBES.get() as f64 / lists).min(1.0);
        let mut seq_page_cost = 0.0;
        pg_sys::get_tablespace_page_costs((*info).reltablespace, std::ptr::null_mut(), &mut seq_page_cost);
        let sequential = 0.5;
        let random_extra = costs.spc_random_page_cost - seq_page_cost;
        costs.indexTotalCost -= sequential * costs.numIndexPages * random_extra;
        let mut startup_cost = costs.indexTotalCost * ratio;
        let startup_pages = costs.numIndexPages * ratio;
        let table_pages = (*(*info).rel).pages as f64;
        if startup_pages > table_pages && ratio < 0.5 {
            startup_cost -= (1.0 - sequential) * startup_pages * random_extra;
            startup_cost -= (startup_pages - table_pages) * seq_page_cost;
        }
        *startup = startup_cost;
        *total = costs.indexTotalCost;
        *selectivity = costs.indexSelectivity;
        *correlation = costs.indexCorrelation;
        *pages = costs.numIndexPages;
    }
}
