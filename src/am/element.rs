//! The indexed column's element type (vector, halfvec, bit), found through
//! the opclass's FUNCTION 3 (`hnsw_halfvec_support`, `hnsw_bit_support`,
//! as pgvector's type-info procs; absent for vector), never by type name.
//! Reads column values and queries as float4 for the storage layer, which
//! encodes them in the index's [`ValueKind`].

use super::options::Quantize;
use crate::distance::{bits, half as half_kernel, index_distance, Metric};
use crate::half::from_f32_slice;
use crate::space::pack_bits;
use crate::storage::layout::{ValueKind, MAX_BIT_DIMS, MAX_DIMS};
use crate::types::{raw, HalfVec, HalfVecBuf, OrRaise, RawDatum, Vector, VectorBuf};
use pgrx::pg_sys;
use pgrx::prelude::*;

/// What FUNCTION 3 of a halfvec opclass returns.
const SUPPORT_HALF: usize = 0x4856_0001;
/// What FUNCTION 3 of a bit opclass returns.
const SUPPORT_BIT: usize = 0x4856_0002;

/// `hnsw_halfvec_support(internal)`: marks halfvec opclasses.
#[pg_extern(sql = false)]
fn hnsw_halfvec_support(_arg: RawDatum) -> RawDatum {
    RawDatum(pg_sys::Datum::from(SUPPORT_HALF))
}

/// `hnsw_bit_support(internal)`: marks bit opclasses.
#[pg_extern(sql = false)]
fn hnsw_bit_support(_arg: RawDatum) -> RawDatum {
    RawDatum(pg_sys::Datum::from(SUPPORT_BIT))
}

/// Probe value pairs for the metric test.
type Probes = &'static [(&'static [f32], &'static [f32])];

/// Element type of an index column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Element {
    /// `vector`: float4.
    Vector,
    /// `halfvec`: IEEE half.
    Half,
    /// `bit(n)`.
    Bit,
}

impl Element {
    /// The element type of an index being built (its opclass's FUNCTION 3).
    pub fn of_index(index: pg_sys::Relation) -> Element {
        // SAFETY: index_getprocid reads the relation's cached opclass
        // support procs (InvalidOid when absent).
        let f3 = unsafe { pg_sys::index_getprocid(index, 1, 3) };
        if f3 == pg_sys::InvalidOid {
            return Element::Vector;
        }
        // SAFETY: FUNCTION 3 of a vecstore hnsw opclass is one of the two
        // support functions above: (internal) -> internal, argument unused.
        let r = unsafe { pg_sys::OidFunctionCall1Coll(f3, pg_sys::InvalidOid, pg_sys::Datum::from(0usize)) };
        match r.value() {
            SUPPORT_HALF => Element::Half,
            SUPPORT_BIT => Element::Bit,
            _ => super::unsupported_opclass(),
        }
    }

    /// The element type of an existing index's values.
    pub fn of_kind(kind: ValueKind) -> Element {
        match kind {
            ValueKind::F32 | ValueKind::Sq8 => Element::Vector,
            ValueKind::F16 => Element::Half,
            ValueKind::Bit => Element::Bit,
        }
    }

    /// How a new index stores values.
    pub fn value_kind(self, quantize: Quantize) -> ValueKind {
        match (self, quantize) {
            (Element::Vector, Quantize::None) => ValueKind::F32,
            (Element::Vector, Quantize::Sq8) => ValueKind::Sq8,
            (Element::Half, Quantize::None) => ValueKind::F16,
            (Element::Bit, Quantize::None) => ValueKind::Bit,
            (_, Quantize::Sq8) => {
                ereport!(
                    ERROR,
                    PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                    "vecstore_quantize = sq8 is only supported for vector columns"
                );
            }
        }
    }

    /// Most dimensions (bits) an index column may declare.
    pub fn max_dims(self) -> usize {
        match self {
            Element::Vector | Element::Half => MAX_DIMS,
            Element::Bit => MAX_BIT_DIMS,
        }
    }

    /// A column value or query as float4 (halves widened exactly; bits as
    /// 0 and 1) with its dimensions.
    ///
    /// # Safety
    /// `datum` must be a non-null datum of this element type.
    pub unsafe fn read(self, datum: pg_sys::Datum) -> Vec<f32> {
        match self {
            // SAFETY: the caller guarantees the datum's type.
            Element::Vector => unsafe { Vector::from_datum(datum) }.as_slice().to_vec(),
            // SAFETY: as above.
            Element::Half => unsafe { HalfVec::from_datum(datum) }.to_f32(),
            Element::Bit => {
                let d = RawDatum(datum);
                let (n, bytes) = raw::varbit_bits(&d);
                (0..n).map(|i| ((bytes[i / 8] >> (7 - i % 8)) & 1) as f32).collect()
            }
        }
    }

    /// The error for a query of `got` dimensions against an index of `want`.
    pub fn raise_different(self, got: usize, want: usize) -> ! {
        match self {
            Element::Vector => crate::types::raise(crate::types::VectorError::DifferentDims(got, want), None),
            Element::Half => crate::types::raise_as(crate::types::VectorError::DifferentDims(got, want), "halfvec", None),
            Element::Bit => {
                ereport!(ERROR, PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, format!("different bit lengths {got} and {want}"));
            }
        }
    }

    /// A datum of this type holding `x` (probe values for the metric test).
    fn datum(self, x: &[f32]) -> pg_sys::Datum {
        match self {
            Element::Vector => VectorBuf::from_slice(x).or_raise().into_datum(),
            Element::Half => HalfVecBuf::from_slice(&from_f32_slice(x)).or_raise().into_datum(),
            Element::Bit => raw::varbit(&x.iter().map(|v| *v != 0.0).collect::<Vec<_>>()).0,
        }
    }

    /// The kernel's index distance for `metric` on probe values.
    fn kernel(self, metric: Metric, a: &[f32], b: &[f32]) -> f64 {
        match self {
            Element::Vector => index_distance(metric, a, b),
            Element::Half => half_kernel::index_distance(metric, &from_f32_slice(a), &from_f32_slice(b)),
            Element::Bit => match metric {
                Metric::Hamming => bits::hamming(&pack_bits(a), &pack_bits(b)),
                _ => bits::jaccard(&pack_bits(a), &pack_bits(b)),
            },
        }
    }

    /// The metric of the index's opclass: FUNCTION 1 (the distance the
    /// graph orders by) is evaluated on probe values and must agree with
    /// exactly one kernel; FUNCTION 2 (a norm) marks cosine.
    pub fn metric(self, index: pg_sys::Relation) -> Metric {
        // SAFETY: cached opclass support procs; rd_indcollation has one entry.
        let (f1, f2, collation) =
            unsafe { (pg_sys::index_getprocid(index, 1, 1), pg_sys::index_getprocid(index, 1, 2), *(*index).rd_indcollation) };
        let (probes, candidates): (Probes, &[Metric]) = match self {
            Element::Bit => (
                &[(&[1.0, 1.0, 0.0, 1.0, 0.0], &[1.0, 0.0, 1.0, 1.0, 0.0]), (&[1.0, 1.0, 1.0, 1.0, 1.0], &[0.0, 0.0, 0.0, 0.0, 1.0])],
                &[Metric::Hamming, Metric::Jaccard],
            ),
            _ => (
                &[(&[3.0, 0.0, 1.0], &[0.0, 4.0, 1.0]), (&[1.0, -2.0, 0.5], &[-0.25, 1.5, 2.0]), (&[0.0, 0.0, 0.0], &[1.0, 1.0, 1.0])],
                &[Metric::L2, Metric::InnerProduct, Metric::L1],
            ),
        };
        let found = (f1 != pg_sys::InvalidOid).then(|| {
            candidates.iter().copied().find(|&m| {
                probes.iter().all(|(a, b)| {
                    let (x, y) = (self.datum(a), self.datum(b));
                    // SAFETY: `f1` is the opclass's FUNCTION 1, declared
                    // (T, T) -> float8 for this element type T; both
                    // arguments are valid datums of T.
                    let r = unsafe { pg_sys::OidFunctionCall2Coll(f1, collation, x, y) };
                    let got = f64::from_bits(r.value() as u64);
                    let want = self.kernel(m, a, b);
                    (got - want).abs() <= 1e-6 * (1.0 + want.abs())
                })
            })
        });
        match (found.flatten(), f2 != pg_sys::InvalidOid) {
            (Some(Metric::InnerProduct), true) => Metric::Cosine,
            (Some(m), false) => m,
            _ => super::unsupported_opclass(),
        }
    }
}
