//! The `hnsw` index access method: Postgres callbacks around the pure
//! [`crate::hnsw`] algorithm and the page layer in [`crate::storage`].

pub mod build;
pub(crate) mod common;
pub mod cost;
pub mod element;
mod exact;
pub mod insert;
pub mod options;
mod returned;
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
    let am = common::routine(
        3,
        common::Callbacks {
            ambuild: Some(build::ambuild),
            ambuildempty: Some(build::ambuildempty),
            aminsert: Some(insert::aminsert),
            ambulkdelete: Some(vacuum::ambulkdelete),
            amvacuumcleanup: Some(vacuum::amvacuumcleanup),
            amcostestimate: Some(cost::amcostestimate),
            amoptions: Some(options::amoptions),
            ambuildphasename: Some(build::ambuildphasename),
            ambeginscan: Some(scan::ambeginscan),
            amrescan: Some(scan::amrescan),
            amgettuple: Some(scan::amgettuple),
            amendscan: Some(scan::amendscan),
        },
    );
    RawDatum(pg_sys::Datum::from(am))
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
