//! SQL-callable functions over `vector`, `halfvec`, `sparsevec` and `bit`. Their SQL
//! declarations (types, operators, casts, aggregates, opclasses) are
//! hand-written in `sql/*.sql` (one file per type and access method), so
//! every `#[pg_extern]` here says `sql = false` and is referenced there by
//! its `<name>_wrapper` symbol.

pub mod aggregates;
pub mod bits;
pub mod casts;
pub mod halfvec_io;
pub mod halfvec_ops;
pub mod io;
pub mod ops;
pub mod sparsevec_io;
pub mod sparsevec_ops;

#[cfg(any(test, feature = "pg_test"))]
mod fuzz_tests;
#[cfg(any(test, feature = "pg_test"))]
mod halfvec_tests;
#[cfg(any(test, feature = "pg_test"))]
mod sparsevec_tests;
#[cfg(any(test, feature = "pg_test"))]
mod tests;
