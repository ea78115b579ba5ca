//! The `hnsw` index access method: Postgres callbacks around the pure
//! [`crate::hnsw`] algorithm and the page layer in [`crate::storage`].

pub mod build;
pub mod cost;
pub mod insert;
pub mod options;
pub mod scan;
pub mod vacuum;

#[cfg(any(test, feature = "pg_test"))]
mod tests;

use crate::distance::Metric;
use crate::storage::layout::MAX_DIMS;
use crate::types::RawDatum;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// `hnswhandler(internal)`: the access method's routine table.
#[pg_extern(sql = false)]
fn hnswhandler(_fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    // SAFETY: alloc_node returns a zeroed, palloc'd IndexAmRoutine node that
    // Postgres takes ownership of; every callback below has its C signature.
    unsafe {
        let mut am = PgBox::<pg_sys::IndexAmRoutine>::alloc_node(pg_sys::NodeTag::T_IndexAmRoutine);
        am.amstrategies = 0;
        am.amsupport = 3;
        am.amoptsprocnum = 0;
        am.amcanorder = false;
        am.amcanorderbyop = true;
        am.amcanbackward = false;
        am.amcanunique = false;
        am.amcanmulticol = false;
        am.amoptionalkey = true;
        am.amsearcharray = false;
        am.amsearchnulls = false;
        am.amstorage = false;
        am.amclusterable = false;
        am.ampredlocks = false;
        am.amcanparallel = false;
        am.amcaninclude = false;
        am.amusemaintenanceworkmem = false;
        am.amparallelvacuumoptions = pg_sys::VACUUM_OPTION_PARALLEL_BULKDEL as u8;
        am.amkeytype = pg_sys::InvalidOid;
        am.ambuild = Some(build::ambuild);
        am.ambuildempty = Some(build::ambuildempty);
        am.aminsert = Some(insert::aminsert);
        am.ambulkdelete = Some(vacuum::ambulkdelete);
        am.amvacuumcleanup = Some(vacuum::amvacuumcleanup);
        am.amcanreturn = None;
        am.amcostestimate = Some(cost::amcostestimate);
        am.amoptions = Some(options::amoptions);
        am.amproperty = None;
        am.ambuildphasename = Some(build::ambuildphasename);
        am.amvalidate = Some(amvalidate);
        am.amadjustmembers = None;
        am.ambeginscan = Some(scan::ambeginscan);
        am.amrescan = Some(scan::amrescan);
        am.amgettuple = Some(scan::amgettuple);
        am.amgetbitmap = None;
        am.amendscan = Some(scan::amendscan);
        am.ammarkpos = None;
        am.amrestrpos = None;
        am.amestimateparallelscan = None;
        am.aminitparallelscan = None;
        am.amparallelrescan = None;
        RawDatum(pg_sys::Datum::from(am.into_pg()))
    }
}

/// Opclasses are checked by their SQL definitions; nothing to validate.
#[pg_guard]
unsafe extern "C-unwind" fn amvalidate(_opclass: pg_sys::Oid) -> bool {
    true
}

/// The index column's declared dimensions, checked against the limits.
pub fn index_dims(index: pg_sys::Relation) -> usize {
    // SAFETY: an index relation has a tuple descriptor with one attribute.
    let typmod = unsafe { (*(*(*index).rd_att).attrs.as_ptr()).atttypmod };
    let code = PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE;
    if typmod < 1 {
        ereport!(ERROR, code, "column does not have dimensions");
    }
    if typmod as usize > MAX_DIMS {
        ereport!(ERROR, code, format!("column cannot have more than {MAX_DIMS} dimensions for hnsw index"));
    }
    typmod as usize
}

/// The metric of the index's opclass, from its support functions:
/// FUNCTION 1 names the distance, FUNCTION 2 (norm) marks cosine.
pub fn index_metric(index: pg_sys::Relation) -> Metric {
    // SAFETY: index_getprocid reads the relation's cached opclass support
    // procs; get_func_name returns a palloc'd name or null.
    let (f1, f2) = unsafe { (pg_sys::index_getprocid(index, 1, 1), pg_sys::index_getprocid(index, 1, 2)) };
    let name = |oid: pg_sys::Oid| -> String {
        if oid == pg_sys::InvalidOid {
            return String::new();
        }
        // SAFETY: see above.
        let p = unsafe { pg_sys::get_func_name(oid) };
        if p.is_null() {
            String::new()
        } else {
            // SAFETY: non-null NUL-terminated name.
            unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    };
    match (name(f1).as_str(), f2 != pg_sys::InvalidOid) {
        ("vector_l2_squared_distance", _) => Metric::L2,
        ("vector_negative_inner_product", true) => Metric::Cosine,
        ("vector_negative_inner_product", false) => Metric::InnerProduct,
        ("l1_distance", _) => Metric::L1,
        (other, _) => {
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                format!("hnsw does not support operator class support function \"{other}\"")
            );
        }
    }
}

/// Turns a vector into what the index stores for `metric`: unit length for
/// cosine (None for a zero vector, which cosine cannot index).
pub fn prepare_vector(metric: Metric, x: &[f32]) -> Option<Vec<f32>> {
    if !metric.normalizes() {
        return Some(x.to_vec());
    }
    let norm = crate::distance::norm(x);
    (norm > 0.0).then(|| x.iter().map(|v| (*v as f64 / norm) as f32).collect())
}
