//! Distances, element-wise arithmetic, comparison and the small helpers
//! (`vector_dims`, `vector_norm`, `l2_normalize`, `binary_quantize`,
//! `subvector`). Each checks dimensions the way pgvector does.

use crate::distance;
use crate::types::error::{check_same_dims, VectorError};
use crate::types::{raw, OrRaise, RawDatum, Vector, VectorBuf};
use pgrx::prelude::*;
use std::cmp::Ordering;

/// Both operands' elements, after checking they have the same length.
fn pair<'a>(a: &Vector<'a>, b: &Vector<'a>) -> (&'a [f32], &'a [f32]) {
    check_same_dims(a.dim(), b.dim()).or_raise();
    (a.as_slice(), b.as_slice())
}

/// Euclidean distance (`<->`).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn l2_distance(a: Vector, b: Vector) -> f64 {
    let (x, y) = pair(&a, &b);
    distance::l2_squared(x, y).sqrt()
}

/// Squared Euclidean distance (hnsw support function of vector_l2_ops).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_l2_squared_distance(a: Vector, b: Vector) -> f64 {
    let (x, y) = pair(&a, &b);
    distance::l2_squared(x, y)
}

/// Inner product.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn inner_product(a: Vector, b: Vector) -> f64 {
    let (x, y) = pair(&a, &b);
    distance::inner_product(x, y)
}

/// Negative inner product (`<#>`).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_negative_inner_product(a: Vector, b: Vector) -> f64 {
    let (x, y) = pair(&a, &b);
    -distance::inner_product(x, y)
}

/// Cosine distance (`<=>`); NaN when either norm is zero.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn cosine_distance(a: Vector, b: Vector) -> f64 {
    let (x, y) = pair(&a, &b);
    distance::cosine_distance(x, y)
}

/// Angle between unit vectors as a fraction of pi (pgvector's ivfflat
/// spherical distance).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_spherical_distance(a: Vector, b: Vector) -> f64 {
    let (x, y) = pair(&a, &b);
    distance::inner_product(x, y).clamp(-1.0, 1.0).acos() / std::f64::consts::PI
}

/// Taxicab distance (`<+>`).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn l1_distance(a: Vector, b: Vector) -> f64 {
    let (x, y) = pair(&a, &b);
    distance::l1_distance(x, y)
}

/// Number of dimensions.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_dims(a: Vector) -> i32 {
    a.dim() as i32
}

/// Euclidean norm.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_norm(a: Vector) -> f64 {
    distance::norm(a.as_slice())
}

/// Fails with float4 overflow if any element became infinite.
fn check_overflow(x: &[f32]) {
    if x.iter().any(|v| v.is_infinite()) {
        Err::<(), _>(VectorError::Overflow).or_raise();
    }
}

/// Unit vector in the same direction; the zero vector stays zero. The norm
/// is a float8 sum, as pgvector's, so `[3e38]` becomes `[1]`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn l2_normalize(a: Vector) -> VectorBuf {
    let x = a.as_slice();
    let norm = distance::norm(x);
    let mut out = VectorBuf::zeroed(x.len()).or_raise();
    if norm > 0.0 {
        let r = out.as_mut_slice();
        for (r, v) in r.iter_mut().zip(x) {
            *r = (*v as f64 / norm) as f32;
        }
        check_overflow(r);
    }
    out
}

/// `bit(dim)` with a bit set where the element is positive.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn binary_quantize(a: Vector) -> RawDatum {
    let bits: Vec<bool> = a.as_slice().iter().map(|&v| v > 0.0).collect();
    raw::varbit(&bits)
}

/// Elements `start .. start+count-1` (1-based, clipped like `substring`).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn subvector(a: Vector, start: i32, count: i32) -> VectorBuf {
    let dim = a.dim() as i64;
    if count < 1 {
        Err::<(), _>(VectorError::TooFewDims).or_raise();
    }
    let end = (start as i64 + count as i64).min(dim + 1);
    let start = (start as i64).max(1);
    if end <= start {
        Err::<(), _>(VectorError::TooFewDims).or_raise();
    }
    VectorBuf::from_slice(&a.as_slice()[(start - 1) as usize..(end - 1) as usize]).or_raise()
}

/// Element-wise combination with overflow (and optional underflow) checks.
fn elementwise(a: &Vector, b: &Vector, f: impl Fn(f32, f32) -> f32, underflow: bool) -> VectorBuf {
    let (x, y) = pair(a, b);
    let mut out = VectorBuf::zeroed(x.len()).or_raise();
    let r = out.as_mut_slice();
    for ((r, &p), &q) in r.iter_mut().zip(x).zip(y) {
        *r = f(p, q);
        if underflow && *r == 0.0 && p != 0.0 && q != 0.0 {
            Err::<(), _>(VectorError::Underflow).or_raise();
        }
    }
    check_overflow(r);
    out
}

/// `+`
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_add(a: Vector, b: Vector) -> VectorBuf {
    elementwise(&a, &b, |p, q| p + q, false)
}

/// `-`
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_sub(a: Vector, b: Vector) -> VectorBuf {
    elementwise(&a, &b, |p, q| p - q, false)
}

/// `*` (element-wise)
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_mul(a: Vector, b: Vector) -> VectorBuf {
    elementwise(&a, &b, |p, q| p * q, true)
}

/// `||`: concatenation.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_concat(a: Vector, b: Vector) -> VectorBuf {
    // zeroed checks the sum against 16000 (usize: no wrap before the check).
    let mut out = VectorBuf::zeroed(a.dim() + b.dim()).or_raise();
    let r = out.as_mut_slice();
    r[..a.dim()].copy_from_slice(a.as_slice());
    r[a.dim()..].copy_from_slice(b.as_slice());
    out
}

/// Element by element, then the shorter vector first.
pub fn compare(a: &[f32], b: &[f32]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        if x < y {
            return Ordering::Less;
        }
        if x > y {
            return Ordering::Greater;
        }
    }
    a.len().cmp(&b.len())
}

/// btree support function 1.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_cmp(a: Vector, b: Vector) -> i32 {
    compare(a.as_slice(), b.as_slice()) as i32
}

/// `<`
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_lt(a: Vector, b: Vector) -> bool {
    compare(a.as_slice(), b.as_slice()).is_lt()
}

/// `<=`
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_le(a: Vector, b: Vector) -> bool {
    compare(a.as_slice(), b.as_slice()).is_le()
}

/// `=`
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_eq(a: Vector, b: Vector) -> bool {
    compare(a.as_slice(), b.as_slice()).is_eq()
}

/// `<>`
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_ne(a: Vector, b: Vector) -> bool {
    compare(a.as_slice(), b.as_slice()).is_ne()
}

/// `>=`
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_ge(a: Vector, b: Vector) -> bool {
    compare(a.as_slice(), b.as_slice()).is_ge()
}

/// `>`
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_gt(a: Vector, b: Vector) -> bool {
    compare(a.as_slice(), b.as_slice()).is_gt()
}
