//! The `vector`, `halfvec` and `sparsevec` types: errors, text and binary codecs (pure),
//! and the Postgres datum layouts (`datum`, `halfvec`: the unsafe parts).

pub mod binary;
pub mod datum;
pub mod error;
pub mod halfvec;
pub mod input;
pub mod raw;
pub mod sparse;
pub mod sparsevec;
pub mod text;

pub use datum::{raise, raise_as, OrRaise, RawDatum, Vector, VectorBuf};
pub use error::{VectorError, VECTOR_MAX_DIM};
pub use halfvec::{HalfVec, HalfVecBuf, HALFVEC};
