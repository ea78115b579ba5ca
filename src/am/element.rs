//! The indexed column's element type (vector, halfvec, bit, sparsevec),
//! found through the opclass's FUNCTION 3 (`hnsw_halfvec_support`,
//! `hnsw_bit_support`, `hnsw_sparsevec_support`, as pgvector's type-info
//! procs; absent for vector), never by type name. Reads column values and
//! queries as float4 words for the storage layer, which encodes them in the
//! index's [`ValueKind`] (sparse values in the words of
//! [`crate::distance::sparse::encode`]).

use super::options::Quantize;
use crate::distance::{bits, half as half_kernel, index_distance, sparse, Metric};
use crate::half::from_f32_slice;
use crate::space::pack_bits;
use crate::storage::layout::{ValueKind, MAX_BIT_DIMS, MAX_DIMS};
use crate::types::sparsevec::{raise_sparse, SparseVec, SparseVecBuf};
use crate::types::{raw, HalfVec, HalfVecBuf, OrRaise, RawDatum, Vector, VectorBuf};
use pgrx::pg_sys;
use pgrx::prelude::*;

/// What FUNCTION 3 of a halfvec opclass returns.
const SUPPORT_HALF: usize = 0x4856_0001;
/// What FUNCTION 3 of a bit opclass returns.
const SUPPORT_BIT: usize = 0x4856_0002;

/// What FUNCTION 3 of a sparsevec opclass returns.
const SUPPORT_SPARSE: usize = 0x4856_0003;

/// `hnsw_sparsevec_support(internal)`: marks sparsevec opclasses.
#[pg_extern(sql = false)]
fn hnsw_sparsevec_support(_arg: RawDatum) -> RawDatum {
    RawDatum(pg_sys::Datum::from(SUPPORT_SPARSE))
}

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

/// The error for a sparse value with more non-zeros than the index has
/// room for: pgvector's wording (its limit is 1,000, vecstore's default),
/// and how to make room.
fn too_many_nnz(cap: usize) -> ! {
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        format!("sparsevec cannot have more than {cap} non-zero elements for hnsw index"),
        format!(
            "This index has room for {cap} non-zero elements per value; build it WITH (vecstore_max_nnz = n) for up to n (at most {}).",
            crate::storage::layout::MAX_SPARSE_NNZ
        )
    );
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
    /// `sparsevec`.
    Sparse,
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
            SUPPORT_SPARSE => Element::Sparse,
            _ => super::unsupported_opclass(),
        }
    }

    /// The element type of an existing index's values.
    pub fn of_kind(kind: ValueKind) -> Element {
        match kind {
            ValueKind::F32 | ValueKind::Sq8 => Element::Vector,
            ValueKind::F16 => Element::Half,
            ValueKind::Bit => Element::Bit,
            ValueKind::Sparse => Element::Sparse,
        }
    }

    /// How a new index stores values.
    pub fn value_kind(self, quantize: Quantize) -> ValueKind {
        match (self, quantize) {
            (Element::Vector, Quantize::None) => ValueKind::F32,
            (Element::Vector, Quantize::Sq8) => ValueKind::Sq8,
            (Element::Half, Quantize::None) => ValueKind::F16,
            (Element::Bit, Quantize::None) => ValueKind::Bit,
            (Element::Sparse, Quantize::None) => ValueKind::Sparse,
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
            Element::Sparse => crate::types::sparse::SPARSEVEC_MAX_DIM as usize,
        }
    }

    /// The dimensions of a value [`Element::read`] returned.
    pub fn dims_of(self, v: &[f32]) -> usize {
        match self {
            Element::Sparse => sparse::encoded_dim(v).unwrap_or(0).max(0) as usize,
            _ => v.len(),
        }
    }

    /// What the index stores for a value (`cap`: the index's room for
    /// non-zeros, None for a query): unit length for cosine (None for a
    /// zero value, which cosine cannot index). A sparse value with more
    /// non-zeros than the index has room for is an error.
    pub fn prepare(self, metric: Metric, v: &[f32], cap: Option<usize>) -> Option<Vec<f32>> {
        if self != Element::Sparse {
            return super::prepare_vector(metric, v);
        }
        let s = sparse::decode(v)?;
        if let Some(cap) = cap.filter(|&c| s.indices.len() > c) {
            too_many_nnz(cap);
        }
        if !metric.normalizes() {
            return Some(v.to_vec());
        }
        let norm = sparse::norm(s.values);
        if norm.is_nan() || norm <= 0.0 || norm.is_infinite() {
            return None;
        }
        let (i, x) = sparse::normalize(s.indices, s.values)?;
        Some(sparse::encode(s.dim, &i, &x))
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
            Element::Sparse => {
                // SAFETY: as above.
                let s = unsafe { SparseVec::from_datum(datum) };
                sparse::encode(s.dim(), s.indices(), s.values())
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
            Element::Sparse => raise_sparse(crate::types::VectorError::DifferentDims(got, want).into(), None),
        }
    }

    /// A datum of this type holding `x` (probe values for the metric test).
    fn datum(self, x: &[f32]) -> pg_sys::Datum {
        match self {
            Element::Vector => VectorBuf::from_slice(x).or_raise().into_datum(),
            Element::Half => HalfVecBuf::from_slice(&from_f32_slice(x)).or_raise().into_datum(),
            Element::Bit => raw::varbit(&x.iter().map(|v| *v != 0.0).collect::<Vec<_>>()).0,
            Element::Sparse => match crate::types::sparse::from_dense(x, -1) {
                Ok(p) => SparseVecBuf::from_parts(&p).into_datum(),
                Err(e) => raise_sparse(e, None),
            },
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
            Element::Sparse => {
                let enc = |x: &[f32]| {
                    let (i, v): (Vec<i32>, Vec<f32>) =
                        x.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(i, &v)| (i as i32, v)).unzip();
                    sparse::encode(x.len() as i32, &i, &v)
                };
                sparse::index_distance(metric, &enc(a), &enc(b)).unwrap_or(f64::NAN)
            }
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
