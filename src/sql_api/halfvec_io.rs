//! Input/output and casts of the `halfvec` type: text, binary, typmod,
//! arrays, vector and `real[]`.

use crate::types::error::{check_dims, check_expected_dims, VECTOR_MAX_DIM};
use crate::types::halfvec::{float4_to_half, half_element};
use crate::types::{binary, raise_as, raw, text, HalfVec, HalfVecBuf, OrRaise, RawDatum, Vector, VectorBuf, HALFVEC};
use pgrx::prelude::*;
use std::ffi::CString;

// `halfvec_in` (text input) is in crate::types::input: its errors echo the
// input byte for byte, which pgrx's error path cannot.

/// `halfvec_out(halfvec)`: `[1,2,3]`, each half in float4's shortest form.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_out(v: HalfVec) -> CString {
    // The printed form never contains NUL.
    CString::new(text::format_halfvec(v.as_slice())).unwrap_or_default()
}

/// `halfvec_typmod_in(cstring[])`: exactly one modifier, 1..16000.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_typmod_in(list: RawDatum) -> i32 {
    let mods = raw::typmods(&list);
    let code = PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE;
    if mods.len() != 1 {
        ereport!(ERROR, code, "invalid type modifier");
    }
    if mods[0] < 1 {
        ereport!(ERROR, code, "dimensions for type halfvec must be at least 1");
    }
    if mods[0] as usize > VECTOR_MAX_DIM {
        ereport!(ERROR, code, format!("dimensions for type halfvec cannot exceed {VECTOR_MAX_DIM}"));
    }
    mods[0]
}

/// `halfvec_recv(internal, oid, int4)`: binary input.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_recv(buf: RawDatum, _typoid: pg_sys::Oid, typmod: i32) -> HalfVecBuf {
    let decoded = raw::with_recv_buffer(&buf, |data| match binary::decode_half(data, typmod) {
        Ok((x, used)) => (Ok(x), used),
        Err(e) => (Err(e), 0),
    });
    match decoded {
        Ok(x) => HalfVecBuf::from_slice(&x).or_raise_as(HALFVEC),
        Err(e) => raise_as(e, HALFVEC, None),
    }
}

/// `halfvec_send(halfvec)`: binary output (bytea).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_send(v: HalfVec) -> Vec<u8> {
    let mut out = Vec::new();
    binary::encode_half(v.as_slice(), &mut out);
    out
}

/// `halfvec(halfvec, int4, bool)`: enforces `halfvec(n)`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec(v: HalfVec, typmod: i32, _explicit: bool) -> HalfVec {
    check_expected_dims(typmod, v.dim()).or_raise_as(HALFVEC);
    v
}

/// `array_to_halfvec(int4[]|real[]|float8[]|numeric[], int4, bool)`:
/// elements become float4 first (float8 ones may become infinite, then
/// refused as infinite), then half (out-of-range error).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn array_to_halfvec(arr: RawDatum, typmod: i32, _explicit: bool) -> HalfVecBuf {
    let x = raw::array_to_floats(&arr, |n| {
        check_dims(n).or_raise_as(HALFVEC);
        check_expected_dims(typmod, n).or_raise_as(HALFVEC);
    })
    .unwrap_or_else(|e| raw::raise_array_error(e));
    // pgvector converts every element before checking any
    let halves: Vec<u16> = x.iter().map(|&v| float4_to_half(v).or_raise_as(HALFVEC)).collect();
    HalfVecBuf::from_slice(&halves).or_raise_as(HALFVEC)
}

/// `halfvec_to_float4(halfvec, int4, bool)`: halfvec to `real[]` (exact).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_to_float4(v: HalfVec, _typmod: i32, _explicit: bool) -> Vec<f32> {
    v.to_f32()
}

/// `vector_to_halfvec(vector, int4, bool)`: rounds each element to half.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_to_halfvec(v: Vector, typmod: i32, _explicit: bool) -> HalfVecBuf {
    check_dims(v.dim()).or_raise_as(HALFVEC);
    check_expected_dims(typmod, v.dim()).or_raise_as(HALFVEC);
    let halves: Vec<u16> = v.as_slice().iter().map(|&x| half_element(x).or_raise_as(HALFVEC)).collect();
    HalfVecBuf::from_slice(&halves).or_raise_as(HALFVEC)
}

/// `halfvec_to_vector(halfvec, int4, bool)`: exact widening.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn halfvec_to_vector(v: HalfVec, typmod: i32, _explicit: bool) -> VectorBuf {
    check_dims(v.dim()).or_raise();
    check_expected_dims(typmod, v.dim()).or_raise();
    VectorBuf::from_slice(&v.to_f32()).or_raise()
}
