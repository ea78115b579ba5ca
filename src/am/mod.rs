//! The `hnsw` index access method: Postgres callbacks around the pure
//! [`crate::hnsw`] algorithm and the page layer in [`crate::storage`].

pub mod build;
pub mod cost;
pub mod element;
pub mod insert;
pub mod options;
pub mod scan;
pub mod vacuum;

#[cfg(any(test, feature = "pg_test"))]
mod tests;

use crate::distance::Metric;
use crate::storage::layout::DiskTid;
use crate::types::RawDatum;
pub use element::Element;
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

/// The index column's declared dimensions, checked against the limits
/// of its element type (a `varbit` column has none: refused as pgvector).
pub fn index_dims(index: pg_sys::Relation, element: Element) -> usize {
    // SAFETY: an index relation has a tuple descriptor with one attribute.
    let (typmod, typid) = unsafe {
        let att = &*(*(*index).rd_att).attrs.as_ptr();
        (att.atttypmod, att.atttypid)
    };
    if typid == pg_sys::VARBITOID {
        ereport!(ERROR, PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, "type not supported for hnsw index");
    }
    let code = PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE;
    if typmod < 1 {
        ereport!(ERROR, code, "column does not have dimensions");
    }
    let max = element.max_dims();
    if typmod as usize > max {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!("column cannot have more than {max} dimensions for hnsw index")
        );
    }
    typmod as usize
}

/// The dimensions a value of the index's column must have: the metapage's
/// (the typmod at build), except for sparsevec indexes, whose metapage
/// holds their room for non-zeros and whose typmod is read here.
pub fn column_dims(index: pg_sys::Relation, meta: &crate::storage::meta::Meta) -> usize {
    if meta.value_kind != crate::storage::layout::ValueKind::Sparse {
        return meta.dims;
    }
    // SAFETY: an index relation has a tuple descriptor with one attribute.
    unsafe { (*(*(*index).rd_att).attrs.as_ptr()).atttypmod.max(0) as usize }
}

/// The metric of the index's opclass (see [`Element::metric`]).
pub fn index_metric(index: pg_sys::Relation) -> Metric {
    Element::of_index(index).metric(index)
}

fn unsupported_opclass() -> ! {
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        "hnsw does not support this operator class",
        "Use an opclass of vector, halfvec, bit or sparsevec (e.g. vector_l2_ops, halfvec_cosine_ops, bit_hamming_ops, sparsevec_ip_ops)."
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

pub mod ivfflat;
