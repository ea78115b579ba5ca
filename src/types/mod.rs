//! The `vector` type: errors, text and binary codecs (pure), and the
//! Postgres datum layout (`datum`, the only unsafe part).

pub mod binary;
pub mod datum;
pub mod error;
pub mod raw;
pub mod text;

pub use datum::{raise, OrRaise, RawDatum, Vector, VectorBuf};
pub use error::{VectorError, VECTOR_MAX_DIM};
