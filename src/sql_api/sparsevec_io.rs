//! Input/output and casts of the `sparsevec` type: text, binary, typmod,
//! arrays, vector and halfvec.

use crate::types::error::{check_dims, check_element, check_expected_dims};
use crate::types::halfvec::float4_to_half;
use crate::types::sparse::{self, check_dim, check_expected, check_nnz, SparseError, SparseParts, SPARSEVEC_MAX_DIM};
use crate::types::sparsevec::{OrRaiseSparse, SparseVec, SparseVecBuf};
use crate::types::{raw, HalfVec, HalfVecBuf, OrRaise, RawDatum, Vector, VectorBuf, HALFVEC};
use pgrx::prelude::*;
use std::ffi::CString;

// `sparsevec_in` (text input) is in crate::types::input: its errors echo the
// input byte for byte, which pgrx's error path cannot.

/// `sparsevec_out(sparsevec)`: `{1:1.5,3:2}/5`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_out(v: SparseVec) -> CString {
    // The printed form never contains NUL.
    CString::new(sparse::format(v.dim(), v.indices(), v.values())).unwrap_or_default()
}

/// `sparsevec_typmod_in(cstring[])`: exactly one modifier, 1..1e9.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_typmod_in(list: RawDatum) -> i32 {
    let mods = raw::typmods(&list);
    let code = PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE;
    if mods.len() != 1 {
        ereport!(ERROR, code, "invalid type modifier");
    }
    if mods[0] < 1 {
        ereport!(ERROR, code, "dimensions for type sparsevec must be at least 1");
    }
    if mods[0] as i64 > SPARSEVEC_MAX_DIM {
        ereport!(ERROR, code, format!("dimensions for type sparsevec cannot exceed {SPARSEVEC_MAX_DIM}"));
    }
    mods[0]
}

/// `sparsevec_recv(internal, oid, int4)`: binary input.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_recv(buf: RawDatum, _typoid: pg_sys::Oid, typmod: i32) -> SparseVecBuf {
    let decoded = raw::with_recv_buffer(&buf, |data| match sparse::decode(data, typmod) {
        Ok((p, used)) => (Ok(p), used),
        Err(e) => (Err(e), 0),
    });
    SparseVecBuf::from_parts(&decoded.or_raise_sparse())
}

/// `sparsevec_send(sparsevec)`: binary output (bytea).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_send(v: SparseVec) -> Vec<u8> {
    let mut out = Vec::new();
    sparse::encode(v.dim(), v.indices(), v.values(), &mut out);
    out
}

/// `sparsevec(sparsevec, int4, bool)`: enforces `sparsevec(n)`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec(v: SparseVec, typmod: i32, _explicit: bool) -> SparseVec {
    check_expected(typmod, v.dim()).or_raise_sparse();
    v
}

/// `vector_to_sparsevec(vector, int4, bool)`: zeros (and -0) dropped.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_to_sparsevec(v: Vector, typmod: i32, _explicit: bool) -> SparseVecBuf {
    SparseVecBuf::from_parts(&sparse::from_dense(v.as_slice(), typmod).or_raise_sparse())
}

/// `halfvec_to_sparsevec(halfvec, int4, bool)`: zeros dropped, values
/// widened exactly.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_to_sparsevec(v: HalfVec, typmod: i32, _explicit: bool) -> SparseVecBuf {
    SparseVecBuf::from_parts(&sparse::from_dense(&v.to_f32(), typmod).or_raise_sparse())
}

/// `array_to_sparsevec(int4[]|real[]|float8[]|numeric[], int4, bool)`:
/// elements become float4, zeros are dropped, the count of the rest is
/// checked before their finiteness (pgvector's order).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn array_to_sparsevec(arr: RawDatum, typmod: i32, _explicit: bool) -> SparseVecBuf {
    let x = raw::array_to_floats(&arr, |n| {
        check_dim(n as i64).or_raise_sparse();
        check_expected(typmod, n as i32).or_raise_sparse();
    })
    .unwrap_or_else(|e| raw::raise_array_error(e));
    let nnz = x.iter().filter(|v| **v != 0.0).count();
    check_nnz(nnz as i64, x.len() as i64).or_raise_sparse();
    let p = SparseParts {
        dim: x.len() as i32,
        indices: (0..x.len() as i32).filter(|&i| x[i as usize] != 0.0).collect(),
        values: x.iter().copied().filter(|v| *v != 0.0).collect(),
    };
    for v in &p.values {
        check_element(*v).map_err(SparseError::Vector).or_raise_sparse();
    }
    SparseVecBuf::from_parts(&p)
}

/// `sparsevec_to_vector(sparsevec, int4, bool)`: the dense expansion.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_to_vector(v: SparseVec, typmod: i32, _explicit: bool) -> VectorBuf {
    let dim = v.dim().max(0) as usize;
    check_dims(dim).or_raise();
    check_expected_dims(typmod, dim).or_raise();
    let mut x = vec![0f32; dim];
    for (&i, &val) in v.indices().iter().zip(v.values()) {
        if let Some(slot) = x.get_mut(i as usize) {
            *slot = val;
        }
    }
    VectorBuf::from_slice(&x).or_raise()
}

/// `sparsevec_to_halfvec(sparsevec, int4, bool)`: the dense expansion,
/// each value rounded to half (out-of-range error).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn sparsevec_to_halfvec(v: SparseVec, typmod: i32, _explicit: bool) -> HalfVecBuf {
    let dim = v.dim().max(0) as usize;
    check_dims(dim).or_raise_as(HALFVEC);
    check_expected_dims(typmod, dim).or_raise_as(HALFVEC);
    let mut out = HalfVecBuf::zeroed(dim).or_raise_as(HALFVEC);
    let x = out.as_mut_slice();
    for (&i, &val) in v.indices().iter().zip(v.values()) {
        let h = float4_to_half(val).or_raise_as(HALFVEC);
        if let Some(slot) = x.get_mut(i as usize) {
            *slot = h;
        }
    }
    out
}
