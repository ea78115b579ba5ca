//! `avg(vector)` and `sum(vector)`. avg's state is `float8[]` holding
//! `[n, sum_1, ..., sum_d]` so partial states combine across parallel workers.

use crate::types::error::{check_expected_dims, VectorError};
use crate::types::{OrRaise, Vector, VectorBuf};
use pgrx::prelude::*;

fn overflow_check(sums: &[f64]) {
    if sums.iter().any(|v| v.is_infinite()) {
        Err::<(), _>(VectorError::Overflow).or_raise();
    }
}

/// Transition: add one vector to the state.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_accum(state: Vec<f64>, v: Vector) -> Vec<f64> {
    let x = v.as_slice();
    let n = state.first().copied().unwrap_or(0.0);
    if n == 0.0 {
        let mut out = Vec::with_capacity(x.len() + 1);
        out.push(1.0);
        out.extend(x.iter().map(|&v| v as f64));
        return out;
    }
    check_expected_dims(state.len() as i32 - 1, x.len()).or_raise();
    let mut out = state;
    out[0] = n + 1.0;
    for (s, &v) in out[1..].iter_mut().zip(x) {
        *s += v as f64;
    }
    overflow_check(&out[1..]);
    out
}

/// Combine: merge two partial states.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_combine(a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
    let na = a.first().copied().unwrap_or(0.0);
    let nb = b.first().copied().unwrap_or(0.0);
    if nb == 0.0 {
        return a;
    }
    if na == 0.0 {
        return b;
    }
    check_expected_dims(a.len() as i32 - 1, b.len() - 1).or_raise();
    let mut out = a;
    out[0] = na + nb;
    for (s, v) in out[1..].iter_mut().zip(&b[1..]) {
        *s += v;
    }
    overflow_check(&out[1..]);
    out
}

/// Final: the mean vector, NULL over no rows.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_avg(state: Vec<f64>) -> Option<VectorBuf> {
    let n = state.first().copied().unwrap_or(0.0);
    if n == 0.0 {
        return None;
    }
    let mut out = VectorBuf::zeroed(state.len() - 1);
    let r = out.as_mut_slice();
    for (r, s) in r.iter_mut().zip(&state[1..]) {
        *r = (s / n) as f32;
    }
    if r.iter().any(|v| v.is_infinite()) {
        Err::<(), _>(VectorError::Overflow).or_raise();
    }
    Some(out)
}
