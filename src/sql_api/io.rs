//! Input/output functions of the `vector` type: text, binary, typmod.

use crate::types::error::VECTOR_MAX_DIM;
use crate::types::{binary, raise, raw, text, OrRaise, RawDatum, Vector, VectorBuf};
use pgrx::prelude::*;
use std::ffi::CString;

// `vector_in` (text input) is in crate::types::input: its errors echo the
// input byte for byte, which pgrx's error path cannot.

/// `vector_out(vector)`: `[1,2,3]` with shortest round-trip floats.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_out(v: Vector) -> CString {
    // The printed form never contains NUL.
    CString::new(text::format_vector(v.as_slice())).unwrap_or_default()
}

/// `vector_typmod_in(cstring[])`: exactly one modifier, 1..16000.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_typmod_in(list: RawDatum) -> i32 {
    let mods = raw::typmods(&list);
    let code = PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE;
    if mods.len() != 1 {
        ereport!(ERROR, code, "invalid type modifier");
    }
    if mods[0] < 1 {
        ereport!(ERROR, code, "dimensions for type vector must be at least 1");
    }
    if mods[0] as usize > VECTOR_MAX_DIM {
        ereport!(ERROR, code, format!("dimensions for type vector cannot exceed {VECTOR_MAX_DIM}"));
    }
    mods[0]
}

/// `vector_recv(internal, oid, int4)`: binary input.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_recv(buf: RawDatum, _typoid: pg_sys::Oid, typmod: i32) -> VectorBuf {
    let decoded = raw::with_recv_buffer(&buf, |data| match binary::decode(data, typmod) {
        Ok((x, used)) => (Ok(x), used),
        Err(e) => (Err(e), 0),
    });
    match decoded {
        Ok(x) => VectorBuf::from_slice(&x).or_raise(),
        Err(e) => raise(e, None),
    }
}

/// `vector_send(vector)`: binary output (bytea).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_send(v: Vector) -> Vec<u8> {
    let mut out = Vec::new();
    binary::encode(v.as_slice(), &mut out);
    out
}
