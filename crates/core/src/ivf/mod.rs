//! IVFFlat without Postgres: k-means over a sample ([`kmeans`]) gives the
//! list centers; every value then goes to its nearest center under the
//! index's [`Space`] ([`nearest`], [`assign`]); a scan reads the lists of the
//! `probes` nearest centers ([`probe_order`]).

pub mod kmeans;
pub mod samples;
mod seed;
#[cfg(test)]
mod tests;

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
pub fn assign(space: &Space, centers: &[impl std::ops::Deref<Target = [u8]> + Sync], queries: &[&[u8]], pool: &rayon::ThreadPool) -> Vec<u32> {
    pool.install(|| queries.par_iter().with_min_len(64).map(|q| nearest(space, centers, q) as u32).collect())
}

/// Lists ordered by their center's distance to `query`, nearest first (a
/// missing query, NULL or zero for cosine, keeps the lists' own order, as
/// every distance is then taken as 0).
pub fn probe_order(space: &Space, centers: &[impl std::ops::Deref<Target = [u8]>], query: Option<&[u8]>) -> Vec<u32> {
    let Some(q) = query else { return (0..centers.len() as u32).collect() };
    let mut d: Vec<(f64, u32)> = centers.iter().enumerate().map(|(i, c)| (space.distance(q, &c[..]), i as u32)).collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    d.into_iter().map(|(_, i)| i).collect()
}
