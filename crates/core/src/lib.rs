//! vecstore's core, free of PostgreSQL: distance kernels, the HNSW graph
//! algorithms over a storage trait (with an in-memory store used by index
//! builds and tests), and the level/test random numbers. The extension crate
//! implements the storage trait on index pages.

pub mod distance;
pub mod half;
pub mod hnsw;
pub mod ivf;
pub mod prepared;
pub mod quant;
pub mod rng;
pub mod space;
