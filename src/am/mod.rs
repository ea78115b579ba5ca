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
use crate::storage::layout::{DiskTid, MAX_DIMS};
use crate::types::{OrRaise, RawDatum, VectorBuf};
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
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!("column cannot have more than {MAX_DIMS} dimensions for hnsw index")
        );
    }
    typmod as usize
}

/// Calls support function `proc` on two vectors.
fn call_distance(proc: pg_sys::Oid, collation: pg_sys::Oid, a: &[f32], b: &[f32]) -> f64 {
    let (x, y) = (VectorBuf::from_slice(a).or_raise().into_datum(), VectorBuf::from_slice(b).or_raise().into_datum());
    // SAFETY: `proc` is the opclass's FUNCTION 1, declared (vector, vector)
    // -> float8 by the opclass; both arguments are valid vector datums.
    let r = unsafe { pg_sys::OidFunctionCall2Coll(proc, collation, x, y) };
    f64::from_bits(r.value() as u64)
}

/// The metric of the index's opclass, found through its support functions:
/// FUNCTION 1 (the distance the graph orders by) is evaluated on probe
/// vectors and must agree with exactly one of the kernels; FUNCTION 2 (a
/// norm) marks the cosine opclass, whose values are normalised.
pub fn index_metric(index: pg_sys::Relation) -> Metric {
    // SAFETY: index_getprocid reads the relation's cached opclass support
    // procs (InvalidOid when absent); rd_indcollation has one entry.
    let (f1, f2, collation) =
        unsafe { (pg_sys::index_getprocid(index, 1, 1), pg_sys::index_getprocid(index, 1, 2), *(*index).rd_indcollation) };
    let probes: [(&[f32], &[f32]); 3] =
        [(&[3.0, 0.0, 1.0], &[0.0, 4.0, 1.0]), (&[1.0, -2.0, 0.5], &[-0.25, 1.5, 2.0]), (&[0.0, 0.0, 0.0], &[1.0, 1.0, 1.0])];
    let candidates = [Metric::L2, Metric::InnerProduct, Metric::L1];
    let found = (f1 != pg_sys::InvalidOid).then(|| {
        candidates.into_iter().find(|&m| {
            probes.iter().all(|(a, b)| {
                let got = call_distance(f1, collation, a, b);
                let want = crate::distance::index_distance(m, a, b);
                (got - want).abs() <= 1e-6 * (1.0 + want.abs())
            })
        })
    });
    match (found.flatten(), f2 != pg_sys::InvalidOid) {
        (Some(Metric::InnerProduct), true) => Metric::Cosine,
        (Some(m), false) => m,
        _ => unsupported_opclass(),
    }
}

fn unsupported_opclass() -> ! {
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        "hnsw does not support this operator class",
        "Use vector_l2_ops, vector_ip_ops, vector_cosine_ops or vector_l1_ops."
    );
}

/// Turns a vector into what the index stores for `metric`: unit length for
/// cosine (None for a zero vector, which cosine cannot index).
pub fn prepare_vector(metric: Metric, x: &[f32]) -> Option<Vec<f32>> {
    if !metric.normalizes() {
        return Some(x.to_vec());
    }
    let norm = crate::distance::norm(x);
    (norm > 0.0 && norm.is_finite()).then(|| x.iter().map(|v| (*v as f64 / norm) as f32).collect())
}

/// The heap TID as stored in the index.
pub fn disk_tid(t: &pg_sys::ItemPointerData) -> DiskTid {
    DiskTid { hi: t.ip_blkid.bi_hi, lo: t.ip_blkid.bi_lo, offset: t.ip_posid }
}

/// A heap TID from the index's form.
pub fn item_pointer(t: DiskTid) -> pg_sys::ItemPointerData {
    pg_sys::ItemPointerData { ip_blkid: pg_sys::BlockIdData { bi_hi: t.hi, bi_lo: t.lo }, ip_posid: t.offset }
}
