//! vecstore: a drop-in replacement for pgvector, in Rust.
//!
//! Layout (see `../shared/docs/style.md`): `distance` and `hnsw` are pure
//! Rust; `types` holds the `vector` datum and codecs; `sql_api` the SQL
//! functions declared in `sql/vecstore.sql`.

::pgrx::pg_module_magic!(name, version);

pub mod am;
pub mod sql_api;
pub mod storage;
pub mod types;

/// The pure core, re-exported under the names the extension has always used.
pub use vecstore_core::{distance, hnsw, rng};

pgrx::extension_sql_file!("../sql/vecstore.sql", name = "vecstore_surface", bootstrap);

/// Library load: index options and the `hnsw.*` settings.
#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    am::options::init();
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
