//! The `ivfflat` index access method: Postgres callbacks around the pure
//! k-means and list assignment in [`crate::ivf`] and the pages in
//! [`crate::storage::ivf`].

pub mod build;
pub mod cost;
pub mod insert;
pub mod options;
pub mod scan;
pub mod vacuum;

use crate::am::Element;
use crate::distance::Metric;
use crate::storage::ivf::layout::MAX_VALUE_BYTES;
use crate::storage::ivf::IvfInfo;
use crate::storage::layout::ValueKind;
use crate::types::RawDatum;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// What FUNCTION 5 of a halfvec opclass returns.
const SUPPORT_HALF: usize = 0x4956_0001;
/// What FUNCTION 5 of a bit opclass returns.
const SUPPORT_BIT: usize = 0x4956_0002;

/// `ivfflat_halfvec_support(internal)`: marks halfvec opclasses.
#[pg_extern(sql = false)]
fn ivfflat_halfvec_support(_arg: RawDatum) -> RawDatum {
    RawDatum(pg_sys::Datum::from(SUPPORT_HALF))
}

/// `ivfflat_bit_support(internal)`: marks bit opclasses.
#[pg_extern(sql = false)]
fn ivfflat_bit_support(_arg: RawDatum) -> RawDatum {
    RawDatum(pg_sys::Datum::from(SUPPORT_BIT))
}

/// `ivfflathandler(internal)`: the access method's routine table.
#[pg_extern(sql = false)]
fn ivfflathandler(_fcinfo: pg_sys::FunctionCallInfo) -> RawDatum {
    let am = crate::am::common::routine(
        5,
        crate::am::common::Callbacks {
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

/// The element type of an index being built (its opclass's FUNCTION 5,
/// absent for vector).
fn element_of(index: pg_sys::Relation) -> Element {
    // SAFETY: cached opclass support procs (InvalidOid when absent).
    let f5 = unsafe { pg_sys::index_getprocid(index, 1, 5) };
    if f5 == pg_sys::InvalidOid {
        return Element::Vector;
    }
    // SAFETY: FUNCTION 5 of a vecstore ivfflat opclass is one of the two
    // support functions above: (internal) -> internal, argument unused.
    let r = unsafe { pg_sys::OidFunctionCall1Coll(f5, pg_sys::InvalidOid, pg_sys::Datum::from(0usize)) };
    match r.value() {
        SUPPORT_HALF => Element::Half,
        SUPPORT_BIT => Element::Bit,
        _ => unsupported_opclass(),
    }
}

fn unsupported_opclass() -> ! {
    ereport!(ERROR, PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, "ivfflat does not support this operator class");
}

/// Most dimensions (bits) an ivfflat column may have: values must fit a page.
fn max_dims(element: Element) -> usize {
    match element {
        Element::Vector => 2000,
        Element::Half => 4000,
        Element::Bit => 64000,
        // ivfflat has no sparsevec opclass (as pgvector)
        _ => unsupported_opclass(),
    }
}

/// Checks the index column and opclass of an index being built and
/// describes it (`lists` from its options).
pub fn describe(index: pg_sys::Relation) -> IvfInfo {
    // SAFETY: an index relation has a tuple descriptor with one attribute.
    let (typmod, typid) = unsafe {
        let att = &*(*(*index).rd_att).attrs.as_ptr();
        (att.atttypmod, att.atttypid)
    };
    if typid == pg_sys::VARBITOID {
        ereport!(ERROR, PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, "type not supported for ivfflat index");
    }
    let element = element_of(index);
    if typmod < 1 {
        ereport!(ERROR, PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, "column does not have dimensions");
    }
    let max = max_dims(element);
    if typmod as usize > max {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!("column cannot have more than {max} dimensions for ivfflat index")
        );
    }
    let metric = element.metric(index);
    if matches!(metric, Metric::InnerProduct | Metric::Cosine) && typmod == 1 {
        ereport!(ERROR, PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, "dimensions must be greater than one for this opclass");
    }
    let value_kind = match element {
        Element::Vector => ValueKind::F32,
        Element::Half => ValueKind::F16,
        Element::Bit => ValueKind::Bit,
        _ => unsupported_opclass(),
    };
    let info = IvfInfo { dims: typmod as usize, lists: options::lists(index), metric, value_kind };
    if info.value_bytes() > MAX_VALUE_BYTES {
        error!("ivfflat: values of {} bytes do not fit a page", info.value_bytes());
    }
    info
}
