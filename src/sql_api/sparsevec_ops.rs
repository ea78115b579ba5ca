//! SQL functions over `sparsevec`: distances (merging index lists), norm,
//! normalisation, btree comparisons.

use crate::distance::sparse as k;
use crate::types::error::VectorError;
use crate::types::sparse::SparseError;
use crate::types::sparsevec::{OrRaiseSparse, SparseVec, SparseVecBuf};
use pgrx::prelude::*;
use std::cmp::Ordering;

fn same_dims(a: &SparseVec, b: &SparseVec) {
    if a.dim() != b.dim() {
        Err::<(), _>(SparseError::Vector(VectorError::DifferentDims(a.dim() as usize, b.dim() as usize)))
            .or_raise_sparse();
    }
}

/// `l2_distance(sparsevec, sparsevec)`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_l2_distance(a: SparseVec, b: SparseVec) -> f64 {
    same_dims(&a, &b);
    k::l2_squared(&a.view(), &b.view()).sqrt()
}

/// `sparsevec_l2_squared_distance(sparsevec, sparsevec)` (hnsw support).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_l2_squared_distance(a: SparseVec, b: SparseVec) -> f64 {
    same_dims(&a, &b);
    k::l2_squared(&a.view(), &b.view())
}

/// `inner_product(sparsevec, sparsevec)`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_inner_product(a: SparseVec, b: SparseVec) -> f64 {
    same_dims(&a, &b);
    k::inner_product(&a.view(), &b.view())
}

/// `sparsevec_negative_inner_product(sparsevec, sparsevec)`: `<#>`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_negative_inner_product(a: SparseVec, b: SparseVec) -> f64 {
    same_dims(&a, &b);
    -k::inner_product(&a.view(), &b.view())
}

/// `cosine_distance(sparsevec, sparsevec)`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_cosine_distance(a: SparseVec, b: SparseVec) -> f64 {
    same_dims(&a, &b);
    k::cosine_distance(&a.view(), &b.view())
}

/// `l1_distance(sparsevec, sparsevec)`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_l1_distance(a: SparseVec, b: SparseVec) -> f64 {
    same_dims(&a, &b);
    k::l1_distance(&a.view(), &b.view())
}

/// `l2_norm(sparsevec)`: Euclidean norm, summed in float8.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_l2_norm(a: SparseVec) -> f64 {
    k::norm(a.values())
}

/// `l2_normalize(sparsevec)`: unit length; values that underflow to 0 are
/// removed; the zero vector is returned as it is.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_l2_normalize(a: SparseVec) -> SparseVecBuf {
    match k::normalize(a.indices(), a.values()) {
        Some((i, v)) => SparseVecBuf::new(a.dim(), &i, &v),
        None => Err::<SparseVecBuf, _>(SparseError::Vector(VectorError::Overflow)).or_raise_sparse(),
    }
}

fn cmp(a: &SparseVec, b: &SparseVec) -> Ordering {
    k::compare(&a.view(), &b.view())
}

/// `sparsevec_lt`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_lt(a: SparseVec, b: SparseVec) -> bool {
    cmp(&a, &b).is_lt()
}

/// `sparsevec_le`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_le(a: SparseVec, b: SparseVec) -> bool {
    cmp(&a, &b).is_le()
}

/// `sparsevec_eq`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_eq(a: SparseVec, b: SparseVec) -> bool {
    cmp(&a, &b).is_eq()
}

/// `sparsevec_ne`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_ne(a: SparseVec, b: SparseVec) -> bool {
    cmp(&a, &b).is_ne()
}

/// `sparsevec_ge`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_ge(a: SparseVec, b: SparseVec) -> bool {
    cmp(&a, &b).is_ge()
}

/// `sparsevec_gt`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_gt(a: SparseVec, b: SparseVec) -> bool {
    cmp(&a, &b).is_gt()
}

/// `sparsevec_cmp`: btree support.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_cmp(a: SparseVec, b: SparseVec) -> i32 {
    cmp(&a, &b) as i32
}
