//! Functions and operators over `halfvec`: distances (halves widened to
//! float4, float4 sums, as pgvector), element-wise arithmetic (computed in
//! float4, rounded to half: the same as half arithmetic), comparison, the
//! helpers and the aggregates. Errors are worded for `halfvec`.

use super::aggregates;
use crate::distance::half as kernel;
use crate::half::{from_f32, is_inf, is_zero, to_f32};
use crate::types::error::{check_same_dims, VectorError};
use crate::types::halfvec::half_element;
use crate::types::{raw, HalfVec, HalfVecBuf, OrRaise, RawDatum, HALFVEC};
use pgrx::prelude::*;
use std::cmp::Ordering;

/// Both operands' elements, after checking they have the same length.
fn pair<'a>(a: &HalfVec<'a>, b: &HalfVec<'a>) -> (&'a [u16], &'a [u16]) {
    check_same_dims(a.dim(), b.dim()).or_raise_as(HALFVEC);
    (a.as_slice(), b.as_slice())
}

fn fail(e: VectorError) -> ! {
    Err::<(), _>(e).or_raise_as(HALFVEC);
    unreachable!()
}

/// `l2_distance(halfvec, halfvec)` (`<->`).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_l2_distance(a: HalfVec, b: HalfVec) -> f64 {
    let (x, y) = pair(&a, &b);
    kernel::l2_squared(x, y).sqrt()
}

/// Squared Euclidean distance (hnsw support of halfvec_l2_ops).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_l2_squared_distance(a: HalfVec, b: HalfVec) -> f64 {
    let (x, y) = pair(&a, &b);
    kernel::l2_squared(x, y)
}

/// `inner_product(halfvec, halfvec)`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_inner_product(a: HalfVec, b: HalfVec) -> f64 {
    let (x, y) = pair(&a, &b);
    kernel::inner_product(x, y)
}

/// Negative inner product (`<#>`).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_negative_inner_product(a: HalfVec, b: HalfVec) -> f64 {
    let (x, y) = pair(&a, &b);
    -kernel::inner_product(x, y)
}

/// `cosine_distance(halfvec, halfvec)` (`<=>`); NaN for a zero norm.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_cosine_distance(a: HalfVec, b: HalfVec) -> f64 {
    let (x, y) = pair(&a, &b);
    kernel::cosine_distance(x, y)
}

/// Angle between unit vectors as a fraction of pi.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_spherical_distance(a: HalfVec, b: HalfVec) -> f64 {
    let (x, y) = pair(&a, &b);
    kernel::inner_product(x, y).clamp(-1.0, 1.0).acos() / std::f64::consts::PI
}

/// `l1_distance(halfvec, halfvec)` (`<+>`).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_l1_distance(a: HalfVec, b: HalfVec) -> f64 {
    let (x, y) = pair(&a, &b);
    kernel::l1_distance(x, y)
}

/// `vector_dims(halfvec)`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_vector_dims(a: HalfVec) -> i32 {
    a.dim() as i32
}

/// `l2_norm(halfvec)`: float8 sum.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_l2_norm(a: HalfVec) -> f64 {
    kernel::norm(a.as_slice())
}

/// `l2_normalize(halfvec)`: zero stays zero; a half that overflows is an
/// error.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_l2_normalize(a: HalfVec) -> HalfVecBuf {
    let x = a.as_slice();
    let norm = kernel::norm(x);
    let mut out = HalfVecBuf::zeroed(x.len()).or_raise_as(HALFVEC);
    if norm > 0.0 {
        let r = out.as_mut_slice();
        for (r, &h) in r.iter_mut().zip(x) {
            *r = from_f32((to_f32(h) as f64 / norm) as f32);
        }
        if r.iter().any(|&h| is_inf(h)) {
            fail(VectorError::Overflow);
        }
    }
    out
}

/// `binary_quantize(halfvec)`: a bit set where the element is positive.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_binary_quantize(a: HalfVec) -> RawDatum {
    let bits: Vec<bool> = a.as_slice().iter().map(|&h| to_f32(h) > 0.0).collect();
    raw::varbit(&bits)
}

/// `subvector(halfvec, start, count)`: 1-based, clipped like vector's.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_subvector(a: HalfVec, start: i32, count: i32) -> HalfVecBuf {
    let dim = a.dim() as i64;
    if count < 1 {
        fail(VectorError::TooFewDims);
    }
    let end = (start as i64 + count as i64).min(dim + 1);
    let start = (start as i64).max(1);
    if end <= start {
        fail(VectorError::TooFewDims);
    }
    HalfVecBuf::from_slice(&a.as_slice()[(start - 1) as usize..(end - 1) as usize]).or_raise_as(HALFVEC)
}

/// Element-wise combination in float4 rounded to half (exactly half
/// arithmetic for + - *), with overflow and optional underflow checks.
fn elementwise(a: &HalfVec, b: &HalfVec, f: impl Fn(f32, f32) -> f32, underflow: bool) -> HalfVecBuf {
    let (x, y) = pair(a, b);
    let mut out = HalfVecBuf::zeroed(x.len()).or_raise_as(HALFVEC);
    let r = out.as_mut_slice();
    for ((r, &p), &q) in r.iter_mut().zip(x).zip(y) {
        *r = from_f32(f(to_f32(p), to_f32(q)));
    }
    for ((&r, &p), &q) in r.iter().zip(x).zip(y) {
        if is_inf(r) {
            fail(VectorError::Overflow);
        }
        if underflow && is_zero(r) && !(is_zero(p) || is_zero(q)) {
            fail(VectorError::Underflow);
        }
    }
    out
}

/// `+`
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_add(a: HalfVec, b: HalfVec) -> HalfVecBuf {
    elementwise(&a, &b, |p, q| p + q, false)
}

/// `-`
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_sub(a: HalfVec, b: HalfVec) -> HalfVecBuf {
    elementwise(&a, &b, |p, q| p - q, false)
}

/// `*` (element-wise)
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_mul(a: HalfVec, b: HalfVec) -> HalfVecBuf {
    elementwise(&a, &b, |p, q| p * q, true)
}

/// `||`: concatenation.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_concat(a: HalfVec, b: HalfVec) -> HalfVecBuf {
    let mut out = HalfVecBuf::zeroed(a.dim() + b.dim()).or_raise_as(HALFVEC);
    let r = out.as_mut_slice();
    r[..a.dim()].copy_from_slice(a.as_slice());
    r[a.dim()..].copy_from_slice(b.as_slice());
    out
}

/// Element by element (numerically: -0 = 0), then the shorter first.
pub fn compare(a: &[u16], b: &[u16]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match to_f32(*x).partial_cmp(&to_f32(*y)) {
            Some(Ordering::Less) => return Ordering::Less,
            Some(Ordering::Greater) => return Ordering::Greater,
            _ => {}
        }
    }
    a.len().cmp(&b.len())
}

/// btree support function 1.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_cmp(a: HalfVec, b: HalfVec) -> i32 {
    compare(a.as_slice(), b.as_slice()) as i32
}

/// `<`
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_lt(a: HalfVec, b: HalfVec) -> bool {
    compare(a.as_slice(), b.as_slice()).is_lt()
}

/// `<=`
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_le(a: HalfVec, b: HalfVec) -> bool {
    compare(a.as_slice(), b.as_slice()).is_le()
}

/// `=`
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_eq(a: HalfVec, b: HalfVec) -> bool {
    compare(a.as_slice(), b.as_slice()).is_eq()
}

/// `<>`
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_ne(a: HalfVec, b: HalfVec) -> bool {
    compare(a.as_slice(), b.as_slice()).is_ne()
}

/// `>=`
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_ge(a: HalfVec, b: HalfVec) -> bool {
    compare(a.as_slice(), b.as_slice()).is_ge()
}

/// `>`
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_gt(a: HalfVec, b: HalfVec) -> bool {
    compare(a.as_slice(), b.as_slice()).is_gt()
}

/// avg transition: the float8 state of vector's avg, over widened halves.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_accum(state: RawDatum, v: HalfVec) -> Vec<f64> {
    let state = raw::state_array(&state, "halfvec_accum");
    aggregates::accum(&state, &v.to_f32()).or_raise_as(HALFVEC)
}

/// avg final: each mean as float4, then half (range error quoting the
/// float4 value; an infinite float4 is refused as infinite).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_avg(state: RawDatum) -> Option<HalfVecBuf> {
    let state = raw::state_array(&state, "halfvec_avg");
    let n = state[0];
    if n == 0.0 {
        return None;
    }
    crate::types::error::check_dims(state.len() - 1).or_raise_as(HALFVEC);
    let halves: Vec<u16> = state[1..].iter().map(|s| half_element((s / n) as f32).or_raise_as(HALFVEC)).collect();
    Some(HalfVecBuf::from_slice(&halves).or_raise_as(HALFVEC))
}
