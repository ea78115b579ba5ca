//! `avg(vector)` and `sum(vector)`. avg's state is `float8[]` holding
//! `[n, sum_1, ..., sum_d]` so partial states combine across parallel workers.
//! Anyone can call the state functions with any float8[], so states are
//! checked exactly as pgvector checks them (sql-surface "Aggregate state"):
//! the array's shape in `raw::state_array`, the rules below on its values.
//! `sum` is `vector_add` (float4, overflow error) and needs nothing here.

use crate::types::error::{check_dims, check_element, check_expected_dims, VectorError};
use crate::types::{raw, OrRaise, RawDatum, Vector, VectorBuf};
use pgrx::prelude::*;

/// A float8 sum, or pgvector's overflow error.
fn finite_sum(v: f64) -> Result<f64, VectorError> {
    if v.is_infinite() {
        Err(VectorError::Overflow)
    } else {
        Ok(v)
    }
}

/// The number of sums in a state (at least one element: checked by
/// `raw::state_array`).
fn state_dims(state: &[f64]) -> usize {
    state.len() - 1
}

/// Adds `x` to `state`. A state without sums (d = 0, the initial `{0}`)
/// adopts `x`'s dimensions; otherwise they must match.
pub fn accum(state: &[f64], x: &[f32]) -> Result<Vec<f64>, VectorError> {
    let d = state_dims(state);
    let mut out = Vec::with_capacity(x.len() + 1);
    out.push(state[0] + 1.0);
    if d == 0 {
        out.extend(x.iter().map(|&v| v as f64));
        return Ok(out);
    }
    // d < 2^27 (Postgres's array size limit), so it fits in i32.
    check_expected_dims(d as i32, x.len())?;
    for (s, &v) in state[1..].iter().zip(x) {
        out.push(finite_sum(s + v as f64)?);
    }
    Ok(out)
}

/// Merges two partial states: both without sums give `{n1 + n2}`; one
/// without sums gives the other's sums (their count checked); otherwise the
/// counts must match and the sums are added.
pub fn combine(a: &[f64], b: &[f64]) -> Result<Vec<f64>, VectorError> {
    let (d1, d2) = (state_dims(a), state_dims(b));
    let mut out = Vec::with_capacity(d1.max(d2) + 1);
    out.push(a[0] + b[0]);
    if d1 == 0 && d2 == 0 {
        return Ok(out);
    }
    if d1 == 0 || d2 == 0 {
        let sums = if d1 == 0 { &b[1..] } else { &a[1..] };
        check_dims(sums.len())?;
        out.extend_from_slice(sums);
        return Ok(out);
    }
    check_dims(d1)?;
    check_expected_dims(d1 as i32, d2)?;
    for (x, y) in a[1..].iter().zip(&b[1..]) {
        out.push(finite_sum(x + y)?);
    }
    Ok(out)
}

/// The mean `sum_i / n` as float4 elements; None over no rows (n = 0).
pub fn avg(state: &[f64]) -> Result<Option<Vec<f32>>, VectorError> {
    let n = state[0];
    if n == 0.0 {
        return Ok(None);
    }
    check_dims(state_dims(state))?;
    state[1..].iter().map(|s| check_element((s / n) as f32)).collect::<Result<Vec<_>, _>>().map(Some)
}

/// Transition: add one vector to the state.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_accum(state: RawDatum, v: Vector) -> Vec<f64> {
    let state = raw::state_array(&state, "vector_accum");
    accum(&state, v.as_slice()).or_raise()
}

/// Combine: merge two partial states.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_combine(a: RawDatum, b: RawDatum) -> Vec<f64> {
    let a = raw::state_array(&a, "vector_combine");
    let b = raw::state_array(&b, "vector_combine");
    combine(&a, &b).or_raise()
}

/// Final: the mean vector, NULL over no rows.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_avg(state: RawDatum) -> Option<VectorBuf> {
    let state = raw::state_array(&state, "vector_avg");
    avg(&state).or_raise().map(|x| VectorBuf::from_slice(&x).or_raise())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accum_rules() {
        assert_eq!(accum(&[0.0], &[1.0, 2.0]), Ok(vec![1.0, 1.0, 2.0]));
        assert_eq!(accum(&[5.0], &[1.0, 2.0]), Ok(vec![6.0, 1.0, 2.0]));
        assert_eq!(accum(&[0.0, 0.0, 0.0, 0.0], &[1.0, 2.0, 3.0]), Ok(vec![1.0, 1.0, 2.0, 3.0]));
        assert_eq!(accum(&[0.0, 0.0], &[1.0, 2.0, 3.0]), Err(VectorError::ExpectedDims { expected: 1, got: 3 }));
        assert_eq!(accum(&[1.0, f64::INFINITY], &[1.0]), Err(VectorError::Overflow));
        assert_eq!(accum(&[1.0, f64::MAX], &[3e38]), Ok(vec![2.0, f64::MAX]));
        assert!(accum(&[1.0, f64::NAN], &[1.0]).unwrap()[1].is_nan());
    }

    #[test]
    fn combine_rules() {
        assert_eq!(combine(&[2.0], &[3.0]), Ok(vec![5.0]));
        assert_eq!(combine(&[1.0, 1.0], &[2.0]), Ok(vec![3.0, 1.0]));
        assert_eq!(combine(&[2.0], &[1.0, 1.0]), Ok(vec![3.0, 1.0]));
        assert_eq!(combine(&[0.0, 5.0], &[0.0, 7.0]), Ok(vec![0.0, 12.0]));
        assert_eq!(combine(&[1.0, 1.0], &[1.0, 1.0, 2.0]), Err(VectorError::ExpectedDims { expected: 1, got: 2 }));
        assert_eq!(combine(&[1.0, 1e308], &[1.0, 1e308]), Err(VectorError::Overflow));
        assert_eq!(combine(&[1.0, f64::INFINITY], &[1.0]), Ok(vec![2.0, f64::INFINITY]));
        let long = vec![1.0; 16002];
        assert_eq!(combine(&[1.0], &long), Err(VectorError::TooManyDims));
        assert_eq!(combine(&long, &[1.0]), Err(VectorError::TooManyDims));
        assert_eq!(combine(&long, &long), Err(VectorError::TooManyDims));
        assert_eq!(combine(&[1.0], &long[1..]).map(|v| v.len()), Ok(16001));
    }

    #[test]
    fn avg_rules() {
        assert_eq!(avg(&[2.0, 1.0, 3.0]), Ok(Some(vec![0.5, 1.5])));
        assert_eq!(avg(&[0.0, 5.0]), Ok(None));
        assert_eq!(avg(&[1.0]), Err(VectorError::TooFewDims));
        assert_eq!(avg(&[1.0, f64::NAN]), Err(VectorError::NaN));
        assert_eq!(avg(&[1.0, -1e39]), Err(VectorError::Infinite));
        assert_eq!(avg(&[2.0, 6e38]), Ok(Some(vec![3e38])));
        assert_eq!(avg(&vec![1.0; 40001]), Err(VectorError::TooManyDims));
        assert_eq!(avg(&vec![1.0; 16001]).map(|v| v.map(|v| v.len())), Ok(Some(16000)));
    }
}
