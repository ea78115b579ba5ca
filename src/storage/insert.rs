//! The on-disk insert (aminsert, and builds that outgrow
//! maintenance_work_mem): search with the core algorithm, merge an exact
//! duplicate into an existing element's heap rows, else place the new
//! element and link it back, then raise the entry point if needed.
//!
//! The update lock is held shared; exclusive when the index has no entry
//! point yet or the new element's level is above the entry point's, so two
//! concurrent first inserts cannot both become disconnected entry points.

use super::graph::DiskGraph;
use super::layout::DiskTid;
use super::meta::{update_meta, Meta, UpdateLock};
use super::place::{add_duplicate, place, NewElement};
use crate::hnsw::{find_neighbors, greedy_descent, link_back, search_layer, unusable, Candidate, Found, LinkPolicy, Scratch, Source};
use pgrx::pg_sys;

/// The new row of an UPDATE that left the vector unchanged (PostgreSQL
/// says so through `indexUnchanged`): a short search finds the element
/// holding the old row (the exact vector: distance as to itself), and the
/// new row joins it if it has room. False if that did not work out (the
/// caller then inserts normally).
pub fn insert_unchanged(index: pg_sys::Relation, heap: DiskTid, x: &[f32], code: &[u8], scratch: &mut Scratch) -> bool {
    let _lock = UpdateLock::share(index);
    let meta = Meta::read(index);
    let Some((ep, top)) = meta.entry else { return false };
    let space = meta.space();
    let query = space.query(x);
    let own = space.distance(&query, code);
    let mut graph = DiskGraph::new(index, meta, false);
    graph.reset(Some(&query), None);
    let start = Candidate { dist: graph.distance(ep, top, f64::INFINITY), id: ep };
    if unusable(start.dist) {
        return false;
    }
    let entry = greedy_descent(&mut graph, start, top, 0, scratch);
    search_layer(&mut graph, &[entry], UNCHANGED_EF, 0, scratch);
    let tolerance = 1e-6 * (1.0 + own.abs());
    scratch.found.iter().any(|c| (c.dist - own).abs() <= tolerance && add_duplicate(index, &meta, c.id, heap, code))
}

/// Candidate list of the search for an unchanged row's element.
const UNCHANGED_EF: usize = 16;

/// Inserts one prepared vector (normalised already for cosine) for heap
/// row `heap` with a level drawn by the caller; `code` is its stored form
/// ([`crate::space::Space::encode_of`]).
pub fn insert(index: pg_sys::Relation, heap: DiskTid, x: &[f32], code: &[u8], level: usize, scratch: &mut Scratch) {
    let mut lock = UpdateLock::share(index);
    let mut meta = Meta::read(index);
    let raises = |meta: &Meta| meta.entry.is_none_or(|(_, top)| level.min(meta.params.max_level) > top);
    if raises(&meta) {
        drop(lock);
        lock = UpdateLock::exclusive(index);
        meta = Meta::read(index);
    }
    let level = level.min(meta.params.max_level);
    let space = meta.space();
    let query = space.query(x);
    let mut graph = DiskGraph::new(index, meta, false);
    graph.reset(Some(&query), None);
    let found = match meta.entry {
        Some(entry) => find_neighbors(&mut graph, entry, level, &meta.params, scratch),
        None => Found::default(),
    };
    // an identical vector shares an element with room (as pgvector does)
    let own = space.distance(&query, code);
    let tolerance = 1e-6 * (1.0 + own.abs());
    for c in found.candidates.first().map(Vec::as_slice).unwrap_or(&[]) {
        if (c.dist - own).abs() <= tolerance && add_duplicate(index, &meta, c.id, heap, code) {
            return;
        }
    }
    let lists: Vec<Vec<DiskTid>> =
        found.selected.iter().map(|l| l.iter().map(|c| DiskTid::from_node(c.id)).collect()).collect();
    let id = place(index, &meta, &NewElement { heap, value: code, level, lists: &lists });
    link_back(&mut graph, id, &found.selected, found.candidates.first().map_or(&[], Vec::as_slice), &meta.params, &LinkPolicy::DISK);
    if raises(&meta) {
        // we hold the update lock exclusive: nobody moved the entry meanwhile
        update_meta(index, |m| {
            m.entry = DiskTid::from_node(id);
            m.entry_level = level as u8;
        });
    }
    drop(lock);
}
