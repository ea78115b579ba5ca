//! SQL-callable functions over `vector`. Their SQL declarations (types,
//! operators, casts, aggregates, opclasses) are hand-written in
//! `sql/*.sql` (one file per type and access method), so every `#[pg_extern]` here says `sql = false` and is
//! referenced there by its `<name>_wrapper` symbol.

pub mod aggregates;
pub mod casts;
pub mod io;
pub mod ops;

#[cfg(any(test, feature = "pg_test"))]
mod fuzz_tests;
#[cfg(any(test, feature = "pg_test"))]
mod tests;
