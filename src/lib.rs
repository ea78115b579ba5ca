//! vecstore: a drop-in replacement for pgvector, in Rust.
//!
//! Layout: `distance` and `hnsw` are the pure core (crate `vecstore-core`);
//! `types` holds the datums and codecs; `sql_api` the SQL functions declared
//! in `sql/*.sql`; `storage` and `am` the index on Postgres pages.

::pgrx::pg_module_magic!(name, version);

pub mod am;
pub mod sql_api;
pub mod storage;
pub mod types;

/// The pure core, re-exported under the names the extension has always used.
pub use vecstore_core::{distance, half, hnsw, ivf, prepared, quant, rng, space};

// The hand-written SQL surface, in dependency order: types first, then the
// access methods and their operator classes.
pgrx::extension_sql_file!("../sql/vector.sql", name = "vector_type", bootstrap);
pgrx::extension_sql_file!("../sql/halfvec.sql", name = "halfvec_type", requires = ["vector_type"]);
pgrx::extension_sql_file!("../sql/bit.sql", name = "bit_functions", requires = ["vector_type"]);
pgrx::extension_sql_file!("../sql/sparsevec.sql", name = "sparsevec_type", requires = ["vector_type", "halfvec_type"]);
pgrx::extension_sql_file!(
    "../sql/hnsw.sql",
    name = "hnsw_am",
    requires = ["vector_type", "halfvec_type", "bit_functions", "sparsevec_type"]
);
// ivfflat after hnsw only to pin the order of the generated schema (the
// upgrade script is diffed against it)
pgrx::extension_sql_file!("../sql/ivfflat.sql", name = "ivfflat_am", requires = ["vector_type", "halfvec_type", "bit_functions", "hnsw_am"]);

/// Library load: index options and the `hnsw.*` settings.
#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // Errors raised by PostgreSQL functions that vecstore calls travel as
    // Rust panics; with RUST_BACKTRACE set in the server's environment they
    // would carry a Rust backtrace into the user's DETAIL. Library
    // backtraces are off unless explicitly asked for.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    am::options::init();
    am::ivfflat::options::init();
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    /// One-off setup when the test cluster starts.
    pub fn setup(_options: Vec<&str>) {}

    /// postgresql.conf settings for the test cluster.
    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
