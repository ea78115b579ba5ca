//! Repair after deletions (VACUUM), written once for every store.
//!
//! An element that lost a few neighbours is patched locally, as
//! FreshDiskANN does: its remaining live neighbours and the live neighbours
//! of the removed ones are candidates, pruned with the heuristic. An
//! element that lost many (half a list or more), or
//! whose bottom list is short, gets its neighbours searched for again from
//! the entry point, as an insert would (removed elements are traversed but
//! never chosen, and the element itself is excluded by the store), merged
//! with its remaining live neighbours; then its new neighbours link back
//! to it. The search keeps long-range links that patching alone would lose
//! under heavy deletes at low `m`.

use super::insert::{choose, find_neighbors, link_back, prune, LinkPolicy};
use super::search::{unusable, Candidate, Scratch};
use super::{GraphStore, NodeId, Params, Replace};

/// What an element needs after deletions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repair {
    /// Its lists are fine.
    None,
    /// A few neighbours are gone: patch from the neighbours' neighbours.
    Local,
    /// Many are gone, or its bottom list is short: search again.
    Full,
}

/// What element `id` (of `level`) needs.
pub fn needs_repair<S: GraphStore + ?Sized>(store: &mut S, id: NodeId, level: usize, params: &Params, removed: &dyn Fn(NodeId) -> bool) -> Repair {
    let mut list = Vec::new();
    let mut out = Repair::None;
    for layer in 0..=level {
        if !store.read_list(id, layer, &mut list) {
            return Repair::None;
        }
        let gone = list.iter().filter(|&&x| removed(x)).count();
        let live = list.len() - gone;
        let short = layer == 0 && (live < params.max_neighbors(0) / 2 || (gone == 0 && live < params.max_neighbors(0)));
        if short || (gone > 0 && 2 * gone >= list.len()) {
            return Repair::Full;
        }
        if gone > 0 {
            out = Repair::Local;
        }
    }
    out
}

/// Patches element `id`'s lists that point at removed elements: its live
/// neighbours and the live neighbours of the removed ones are candidates,
/// chosen with the heuristic (copies of its own vector kept). `store` may
/// be bound to any query. False if the element could not be read.
pub fn repair_local<S: GraphStore + ?Sized>(store: &mut S, id: NodeId, level: usize, params: &Params, removed: &dyn Fn(NodeId) -> bool) -> bool {
    let mut current = Vec::new();
    let mut theirs = Vec::new();
    for layer in 0..=level {
        loop {
            if !store.read_list(id, layer, &mut current) {
                return false;
            }
            if !current.iter().any(|&x| removed(x)) {
                break;
            }
            let mut ids: Vec<NodeId> = Vec::with_capacity(current.len() * 4);
            for &x in &current {
                if !removed(x) {
                    ids.push(x);
                } else if store.read_list(x, layer, &mut theirs) {
                    ids.extend(theirs.iter().copied().filter(|&y| !removed(y)));
                }
            }
            ids.sort_unstable();
            ids.dedup();
            ids.retain(|&y| y != id);
            let mut cands: Vec<Candidate> = Vec::with_capacity(ids.len());
            store.prepare(&ids);
            for y in ids {
                if !store.is_live(y) {
                    continue;
                }
                let d = store.between(id, y);
                if !unusable(d) {
                    cands.push(Candidate { dist: d, id: y });
                }
            }
            let kept = prune(store, params, params.max_neighbors(layer), cands);
            let new: Vec<NodeId> = kept.iter().map(|c| c.id).collect();
            match store.replace_list(id, layer, &current, &new) {
                Replace::Done => break,
                Replace::Changed => continue,
                Replace::Gone => return false,
            }
        }
    }
    true
}

/// Re-links element `id` of `level`. `store` must be bound to `id`'s own
/// vector as its query, exclude `id` from results and treat removed
/// elements as not live. Returns the candidates the search found on layer
/// 0, nearest first (empty if the element could not be read).
#[allow(clippy::too_many_arguments)]
pub fn repair_element<S: GraphStore + ?Sized>(
    store: &mut S,
    id: NodeId,
    level: usize,
    entry: (NodeId, usize),
    params: &Params,
    policy: &LinkPolicy,
    scratch: &mut Scratch,
    removed: &dyn Fn(NodeId) -> bool,
) -> Vec<Candidate> {
    let found = find_neighbors(store, entry, level, params, scratch);
    let mut chosen: Vec<Vec<Candidate>> = Vec::with_capacity(level + 1);
    let mut current = Vec::new();
    for layer in 0..=level {
        loop {
            if !store.read_list(id, layer, &mut current) {
                return Vec::new();
            }
            let mut cands: Vec<Candidate> = found.candidates.get(layer).cloned().unwrap_or_default();
            for &x in &current {
                if x != id && !removed(x) && store.is_live(x) && !cands.iter().any(|c| c.id == x) {
                    let d = store.distance(x, layer, f64::INFINITY);
                    if !unusable(d) {
                        cands.push(Candidate { dist: d, id: x });
                    }
                }
            }
            cands.sort();
            let kept = choose(store, params, params.max_neighbors(layer), &cands);
            let ids: Vec<NodeId> = kept.iter().map(|c| c.id).collect();
            match store.replace_list(id, layer, &current, &ids) {
                Replace::Done => {
                    chosen.push(kept);
                    break;
                }
                Replace::Changed => continue,
                Replace::Gone => return Vec::new(),
            }
        }
    }
    link_back(store, id, &chosen, found.candidates.first().map_or(&[], Vec::as_slice), params, policy);
    found.candidates.into_iter().next().unwrap_or_default()
}
