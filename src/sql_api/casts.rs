//! Casts: typmod coercion, arrays to vector, vector to real[].

use crate::types::error::{check_dims, check_element, check_expected_dims};
use crate::types::{raw, OrRaise, RawDatum, Vector, VectorBuf};
use pgrx::prelude::*;

/// `vector(vector, int4, bool)`: enforces `vector(n)` on assignment and cast.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector(v: Vector, typmod: i32, _explicit: bool) -> Vector {
    check_expected_dims(typmod, v.dim()).or_raise();
    v
}

/// `array_to_vector(int4[]|real[]|float8[]|numeric[], int4, bool)`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn array_to_vector(arr: RawDatum, typmod: i32, _explicit: bool) -> VectorBuf {
    // pgvector's order: shape, NULLs, dimensions, typmod, then the elements.
    let x = raw::array_to_floats(&arr, |n| {
        check_dims(n).or_raise();
        check_expected_dims(typmod, n).or_raise();
    })
    .unwrap_or_else(|e| raw::raise_array_error(e));
    for v in &x {
        check_element(*v).or_raise();
    }
    VectorBuf::from_slice(&x).or_raise()
}

/// `vector_to_float4(vector, int4, bool)`: vector to `real[]`.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn vector_to_float4(v: Vector, _typmod: i32, _explicit: bool) -> Vec<f32> {
    v.as_slice().to_vec()
}
