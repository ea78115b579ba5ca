//! `amcostestimate`, with the same cost model as pgvector so that the same
//! queries get the same kind of plan (applications and ORMs are tuned to
//! it). The index is only useful for `ORDER BY <op>`; without it the cost
//! is infinite. The total cost is the generic cost of reading the whole
//! index, so a LIMIT over a selective filter (whose rows the search would
//! have to wade through) prefers other plans; the startup cost is the part
//! a search touches before its first row: about `entry level * m` elements
//! above layer 0 plus a share of `2m * ef_search` on layer 0 that shrinks
//! as revisits grow (scaled by 0.55, pgvector's empirical factor). When
//! that part is under half of an index larger than the table, its pages
//! are priced as sequential and the excess over the table's size dropped,
//! since a sequential scan of the table would read no TOAST either.

use super::options::EF_SEARCH;
use crate::storage::buffer::nblocks;
use crate::storage::meta::Meta;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// Fraction of the index a search reads before its first row.
pub fn startup_ratio(tuples: f64, m: f64, ef_search: f64) -> f64 {
    if tuples <= 0.0 {
        return 1.0;
    }
    let entry_level = (tuples.ln() / m.ln()).floor().max(0.0);
    let layer0_max = 2.0 * m * ef_search;
    let layer0_share = 0.55 * tuples.ln() / (m.ln() * (1.0 + ef_search.ln()));
    ((entry_level * m + layer0_max * layer0_share) / tuples).min(1.0)
}

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
        let m = {
            let rel = pg_sys::index_open((*info).indexoid, pg_sys::NoLock as i32);
            let m = if nblocks(rel) > 0 { Meta::read(rel).params.m } else { 16 };
            pg_sys::index_close(rel, pg_sys::NoLock as i32);
            m as f64
        };
        let ratio = startup_ratio((*info).tuples, m, EF_SEARCH.get() as f64);
        let mut seq_page_cost = 0.0;
        pg_sys::get_tablespace_page_costs((*info).reltablespace, std::ptr::null_mut(), &mut seq_page_cost);
        let mut startup_cost = costs.indexTotalCost * ratio;
        let startup_pages = costs.numIndexPages * ratio;
        let table_pages = (*(*info).rel).pages as f64;
        if startup_pages > table_pages && ratio < 0.5 {
            startup_cost -= startup_pages * (costs.spc_random_page_cost - seq_page_cost);
            startup_cost -= (startup_pages - table_pages) * seq_page_cost;
        }
        *startup = startup_cost;
        *total = costs.indexTotalCost;
        *selectivity = costs.indexSelectivity;
        *correlation = costs.indexCorrelation;
        *pages = costs.numIndexPages;
    }
}
