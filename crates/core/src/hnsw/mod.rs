//! HNSW (Malkov & Yashunin) without Postgres. The algorithm is written once
//! against two traits: [`Source`] (what a search reads) and [`GraphStore`]
//! (what insert and repair also write). The in-memory graph used by index
//! builds and tests ([`MemGraph`]) and the extension's index pages both
//! implement them, so build, on-disk insert and VACUUM's repair run the
//! same code.
//!
//! Concurrency contract of a store: neighbour lists are read as snapshots
//! and replaced with compare-and-set ([`GraphStore::replace_list`]), so
//! concurrent writers never lose each other's updates and no lock is held
//! while distances are computed.

mod bypass;
pub mod codes;
mod codes8;
pub mod dedup;
pub mod idmap;
pub mod insert;
mod lists;
pub mod mem;
pub mod memstore;
pub mod reach;
pub mod repair;
pub mod search;
pub mod select;

pub use idmap::{NodeMap, NodeSet};
pub use insert::{find_neighbors, link_back, Found, LinkPolicy};
pub use mem::{BuildError, MemGraph};
pub use search::{greedy_descent, search_layer, unusable, Candidate, Scratch, StreamSearch, UNREADABLE};
pub use select::select_neighbors;

use crate::distance::Metric;

/// An element's address, opaque to the algorithm (a dense index in memory,
/// a packed item pointer on disk).
pub type NodeId = u64;

/// Highest layer an element can get (keeps per-element storage bounded).
pub const MAX_LEVEL: usize = 15;

/// What a graph search reads. The query is bound into the implementation.
pub trait Source {
    /// Distance from the query to element `id`; [`UNREADABLE`] (NaN) when
    /// `id` names no readable element (a stale link), which searches skip. A
    /// result below `bound` means `id` may be expanded on `layer` next, so
    /// a storage may keep that neighbour list at hand.
    fn distance(&mut self, id: NodeId, layer: usize, bound: f64) -> f64;

    /// Distances to several elements (same contract as [`Source::distance`]),
    /// appended to `out`; a storage may group reads by page.
    fn distances(&mut self, ids: &[NodeId], layer: usize, bound: f64, out: &mut Vec<f64>) {
        for &id in ids {
            let d = self.distance(id, layer, bound);
            out.push(d);
        }
    }

    /// Whether [`Source::distance`] approximates (an in-memory build
    /// searching on compact codes): callers that keep what a search found
    /// score it again with [`Source::exact`]. False by default.
    fn approximate(&self) -> bool {
        false
    }

    /// The exact distance to `id` (what [`Source::distance`] gives when
    /// it does not approximate, which is the default).
    fn exact(&mut self, id: NodeId, layer: usize) -> f64 {
        self.distance(id, layer, f64::NEG_INFINITY)
    }

    /// Appends the neighbours of `id` on `layer` to `out`.
    fn neighbors(&mut self, id: NodeId, layer: usize, out: &mut Vec<NodeId>);

    /// Whether visited element `id` may be returned: live, not excluded.
    fn is_result(&mut self, id: NodeId) -> bool;

    /// A hint that `id`'s neighbours on `layer` are likely asked for after
    /// the next [`Source::distances`] (a storage may start fetching them).
    /// Nothing by default.
    fn will_expand(&mut self, _id: NodeId, _layer: usize) {}
}

/// Outcome of a compare-and-set on a neighbour list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replace {
    /// The list was as expected and now holds the new one.
    Done,
    /// Someone changed the list meanwhile: read it again and retry.
    Changed,
    /// The element or list no longer exists (or has no such layer).
    Gone,
}

/// What insert and repair need besides searching.
pub trait GraphStore: Source {
    /// A hint that `between` and `is_live` are about to be asked about
    /// `ids` (a store on pages reads them in one batch); nothing by default.
    fn prepare(&mut self, _ids: &[NodeId]) {}
    /// Distance between two stored elements ([`UNREADABLE`] if unreadable).
    fn between(&mut self, a: NodeId, b: NodeId) -> f64;
    /// Whether `id` may be linked to (live: not deleted, not being removed).
    fn is_live(&mut self, id: NodeId) -> bool;
    /// A snapshot of `id`'s list on `layer` into `out` (cleared first);
    /// false if it cannot be read.
    fn read_list(&mut self, id: NodeId, layer: usize, out: &mut Vec<NodeId>) -> bool;
    /// Replaces `id`'s list on `layer` with `new` if it still equals `expected`.
    fn replace_list(&mut self, id: NodeId, layer: usize, expected: &[NodeId], new: &[NodeId]) -> Replace;
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
    /// Neighbour slots on `layer`.
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

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_codes;
#[cfg(test)]
mod tests_sparse;
#[cfg(test)]
mod tests_ties;
#[cfg(test)]
mod tests_reach_review;
#[cfg(test)]
mod tests_insert_ties;
#[cfg(test)]
mod tests_insert_cost;
#[cfg(test)]
mod tests_bypass_review;
#[cfg(test)]
mod tests_insert_review;
