//! Distances between `bit` strings: `hamming_distance` (`<~>`) and
//! `jaccard_distance` (`<%>`), pgvector's functions over PostgreSQL's own
//! type (varbit arguments arrive through its implicit varbit -> bit cast).

use crate::distance::bits;
use crate::types::{raw, RawDatum};
use pgrx::prelude::*;

/// Both operands' bytes, after checking they have the same bit length.
fn pair<'a>(a: &'a RawDatum, b: &'a RawDatum) -> (&'a [u8], &'a [u8]) {
    let ((la, x), (lb, y)) = (raw::varbit_bits(a), raw::varbit_bits(b));
    if la != lb {
        ereport!(ERROR, PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, format!("different bit lengths {la} and {lb}"));
    }
    (x, y)
}

/// `hamming_distance(bit, bit)`: number of differing bits.
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn hamming_distance(a: RawDatum, b: RawDatum) -> f64 {
    let (x, y) = pair(&a, &b);
    bits::hamming(x, y)
}

/// `jaccard_distance(bit, bit)`: 1 - |a AND b| / |a OR b| (1 when no bit
/// is set in both).
#[pg_extern(immutable, strict, parallel_safe, sql = false)]
fn jaccard_distance(a: RawDatum, b: RawDatum) -> f64 {
    let (x, y) = pair(&a, &b);
    bits::jaccard(x, y)
}
