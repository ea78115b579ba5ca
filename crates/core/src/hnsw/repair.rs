//! Repair after deletions (VACUUM), written once for every store. An
//! element whose lists point at removed elements, or whose bottom list is
//! not full, gets its neighbours searched for again from the entry point,
//! as an insert would (removed elements are traversed but never chosen,
//! and the element itself is excluded by the store), merged with its
//! remaining live neighbours; then its new neighbours link back to it.
//! Searching from the entry keeps long-range links that patching lists
//! locally would lose: with low `m` and heavy deletes local patching
//! leaves whole regions unreachable.

use super::insert::{choose, find_neighbors, link_back, LinkPolicy};
use super::search::{unusable, Candidate, Scratch};
use super::{GraphStore, NodeId, Params, Replace};

/// Whether element `id` (of `level`) needs repair: a list holds a removed
/// element, or its bottom list has free slots.
pub fn needs_repair<S: GraphStore + ?Sized>(store: &mut S, id: NodeId, level: usize, params: &Params, removed: &dyn Fn(NodeId) -> bool) -> bool {
    let mut list = Vec::new();
    for layer in 0..=level {
        if !store.read_list(id, layer, &mut list) {
            return false;
        }
        if list.iter().any(|&x| removed(x)) || (layer == 0 && list.len() < params.max_neighbors(0)) {
            return true;
        }
    }
    false
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
