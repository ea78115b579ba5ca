//! IVFFlat without Postgres: k-means over a sample ([`kmeans`]) gives the
//! list centers; every value then goes to its nearest center under the
//! index's [`Space`] ([`nearest`], [`assign`]); a scan reads the lists of the
//! `probes` nearest centers ([`probe_order`]).

pub mod assign_fast;
pub mod kernel;
pub mod kmeans;
pub mod samples;
mod seed;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_sphere;

use crate::space::Space;
use rayon::prelude::*;

/// The list whose center (stored form, as [`Space::encode`] made it) is
/// nearest to `query` (query form); ties go to the lower list, and a query
/// with no finite distance to any center goes to list 0.
pub fn nearest(space: &Space, centers: &[impl std::ops::Deref<Target = [u8]>], query: &[u8]) -> usize {
    let mut best = (f64::INFINITY, 0usize);
    for (i, c) in centers.iter().enumerate() {
        let d = space.distance(query, &c[..]);
        if d < best.0 {
            best = (d, i);
        }
    }
    best.1
}

/// [`nearest`] for many queries on worker threads (no Postgres calls: the
/// caller's thread waits).
/// Queries go by blocks of [`ASSIGN_BLOCK`], centers outer, so each center
/// is read once for the block (the same result as [`nearest`] per query).
pub fn assign(space: &Space, centers: &[impl std::ops::Deref<Target = [u8]> + Sync], queries: &[&[u8]], pool: &rayon::ThreadPool) -> Vec<u32> {
    let mut out = vec![0u32; queries.len()];
    pool.install(|| {
        out.par_chunks_mut(ASSIGN_BLOCK).zip(queries.par_chunks(ASSIGN_BLOCK)).with_min_len(8).for_each(|(out, qs)| {
            let mut best = [f64::INFINITY; ASSIGN_BLOCK];
            for (i, c) in centers.iter().enumerate() {
                for ((q, b), o) in qs.iter().zip(best.iter_mut()).zip(out.iter_mut()) {
                    let d = space.distance(q, &c[..]);
                    if d < *b {
                        *b = d;
                        *o = i as u32;
                    }
                }
            }
        })
    });
    out
}

/// Queries [`assign`] compares with each center together.
const ASSIGN_BLOCK: usize = 8;

/// Lists ordered by their center's distance to `query`, nearest first (a
/// missing query, NULL or zero for cosine, keeps the lists' own order, as
/// every distance is then taken as 0).
pub fn probe_order(space: &Space, centers: &[impl std::ops::Deref<Target = [u8]>], query: Option<&[u8]>) -> Vec<u32> {
    let Some(q) = query else { return (0..centers.len() as u32).collect() };
    let d: Vec<(f64, u32)> = centers.iter().enumerate().map(|(i, c)| (space.distance(q, &c[..]), i as u32)).collect();
    nearest_lists(d, centers.len())
}

/// The `need` first lists of `(distance, list)` pairs in (distance, list)
/// order: the start of the full sort, without sorting what is not needed.
pub fn nearest_lists(mut d: Vec<(f64, u32)>, need: usize) -> Vec<u32> {
    let by = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    if need == 0 {
        return Vec::new();
    }
    if need < d.len() {
        d.select_nth_unstable_by(need - 1, by);
        d.truncate(need);
    }
    d.sort_unstable_by(by);
    d.into_iter().map(|(_, i)| i).collect()
}
