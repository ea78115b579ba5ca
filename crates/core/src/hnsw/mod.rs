//! HNSW (Malkov & Yashunin) without Postgres: level assignment, the
//! heuristic neighbour selection, `search_layer` with reusable scratch space,
//! and an in-memory graph that builds in parallel. Storage is reached only
//! through the [`Source`] trait, so the same search runs over memory (build,
//! tests) and over index pages (scans, inserts).

pub mod build;
pub mod search;
pub mod select;

pub use build::MemGraph;
pub use search::{search_layer, Candidate, Scratch};
pub use select::select_neighbors;

use crate::distance::Metric;

/// An element's address, opaque to the algorithm (a dense index in memory,
/// a packed item pointer on disk).
pub type NodeId = u64;

/// Highest layer an element can get (keeps per-element storage bounded).
pub const MAX_LEVEL: usize = 15;

/// What a graph search needs from storage.
pub trait Source {
    /// Distance from the current query to element `id`.
    fn distance(&mut self, id: NodeId) -> f32;
    /// Appends the neighbours of `id` at `layer` to `out`.
    fn neighbors(&mut self, id: NodeId, layer: usize, out: &mut Vec<NodeId>);
}

/// Index parameters (`WITH (m = .., ef_construction = ..)` and the opclass).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// Neighbours per element on upper layers (2*m on layer 0).
    pub m: usize,
    /// Candidate list size while building.
    pub ef_construction: usize,
    /// Distance the graph is built for.
    pub metric: Metric,
    /// Highest level an element may get (storage bounds it by page size).
    pub max_level: usize,
}

impl Params {
    /// Neighbour slots at `layer`.
    #[inline]
    pub fn max_neighbors(&self, layer: usize) -> usize {
        if layer == 0 {
            2 * self.m
        } else {
            self.m
        }
    }

    /// Level for an element given a uniform random number in (0, 1]:
    /// floor(-ln(u) * mL) with mL = 1/ln(m), capped at `max_level`.
    pub fn level_for(&self, uniform: f64) -> usize {
        let ml = 1.0 / (self.m as f64).ln();
        let u = uniform.clamp(f64::MIN_POSITIVE, 1.0);
        ((-u.ln() * ml).floor() as usize).min(self.max_level.min(MAX_LEVEL))
    }
}

/// Greedy descent from `entry` through layers `top..=bottom+1`, returning the
/// closest element found at `bottom + 1` (the entry for layer `bottom`).
pub fn greedy_descent<S: Source>(
    src: &mut S,
    entry: Candidate,
    top: usize,
    bottom: usize,
    scratch: &mut Scratch,
) -> Candidate {
    let mut best = entry;
    let mut layer = top;
    while layer > bottom {
        loop {
            let mut improved = false;
            scratch.neighbor_buf.clear();
            src.neighbors(best.id, layer, &mut scratch.neighbor_buf);
            for i in 0..scratch.neighbor_buf.len() {
                let id = scratch.neighbor_buf[i];
                let d = src.distance(id);
                if d < best.dist {
                    best = Candidate { dist: d, id };
                    improved = true;
                }
            }
            if !improved {
                break;
            }
        }
        layer -= 1;
    }
    best
}

#[cfg(test)]
mod tests;
