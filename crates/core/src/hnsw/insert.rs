//! Insert (the paper's Algorithm 1), written once for every store: find the
//! new element's neighbours layer by layer ([`find_neighbors`]), let the
//! store write the element with its lists, then link the neighbours back
//! ([`link_back`]), pruning full lists with the heuristic. Lists are
//! updated by compare-and-set, so concurrent inserts (rayon workers in
//! memory, backends on disk) never lose each other's links.

use super::search::{greedy_descent, search_layer, unusable, Candidate, Scratch};
use super::select::select_neighbors;
use super::{GraphStore, NodeId, Params, Replace};

/// How lists grow while linking.
#[derive(Clone, Copy, Debug)]
pub struct LinkPolicy {
    /// Links a list may hold beyond its capacity before it is pruned: an
    /// in-memory build prunes in batches (and once more at the end); on
    /// disk the slots are fixed, so 0.
    pub slack: usize,
    /// Most elements one insert re-links after pruning dropped what may
    /// have been their last incoming link.
    pub rescue_budget: usize,
}

impl LinkPolicy {
    /// Fixed-capacity lists (on disk).
    pub const DISK: LinkPolicy = LinkPolicy { slack: 0, rescue_budget: 8 };
}

/// What the search for a new element's neighbours found.
#[derive(Clone, Debug, Default)]
pub struct Found {
    /// Candidates per layer `0..=min(level, top)`, nearest first: the
    /// `ef_construction` closest elements the store accepts as results.
    pub candidates: Vec<Vec<Candidate>>,
    /// The neighbours chosen from them with the heuristic, per layer.
    pub selected: Vec<Vec<Candidate>>,
}

impl Found {
    /// The chosen neighbour ids per layer.
    pub fn selected_ids(&self) -> Vec<Vec<NodeId>> {
        self.selected.iter().map(|l| l.iter().map(|c| c.id).collect()).collect()
    }
}

/// Chooses up to `cap` neighbours for a base element from `candidates`
/// (sorted nearest first by distance to the base) with the heuristic.
pub fn choose<S: GraphStore + ?Sized>(store: &mut S, params: &Params, cap: usize, candidates: &[Candidate]) -> Vec<Candidate> {
    let mut out = Vec::with_capacity(cap);
    let dedup = params.metric.zero_on_identical();
    select_neighbors(candidates, cap, dedup, &mut |a, b| store.between(a, b), &mut out);
    out
}

/// Searches for the neighbours of the store's query, for an element of
/// `level`, from `entry` (element, its level): greedy descent above
/// `level`, then `ef_construction`-wide searches on each layer below.
pub fn find_neighbors<S: GraphStore + ?Sized>(
    store: &mut S,
    entry: (NodeId, usize),
    level: usize,
    params: &Params,
    scratch: &mut Scratch,
) -> Found {
    let (ep, top) = entry;
    let mut found = Found::default();
    let start = Candidate { dist: store.distance(ep, top, f64::INFINITY), id: ep };
    if unusable(start.dist) {
        return found;
    }
    let cur = if top > level { greedy_descent(store, start, top, level, scratch) } else { start };
    let mut entries = vec![cur];
    let layers = level.min(top) + 1;
    found.candidates = vec![Vec::new(); layers];
    found.selected = vec![Vec::new(); layers];
    for layer in (0..layers).rev() {
        search_layer(store, &entries, params.ef_construction, layer, scratch);
        let cands = scratch.found.clone();
        found.selected[layer] = choose(store, params, params.max_neighbors(layer), &cands);
        if !cands.is_empty() {
            entries.clone_from(&cands);
        }
        found.candidates[layer] = cands;
    }
    found
}

/// Result of adding one back-link.
#[derive(Clone, Debug, Default)]
pub struct Backlink {
    /// The list now holds the new element.
    pub held: bool,
    /// Elements pruning removed from the list.
    pub dropped: Vec<NodeId>,
}

/// Adds `new` (at distance `dist` from `node`) to `node`'s list on `layer`,
/// pruning with the heuristic when full, retrying when a concurrent writer
/// changed the list. With `force`, `new` takes the place of the farthest
/// link if the heuristic would not keep it.
#[allow(clippy::too_many_arguments)]
pub fn add_backlink<S: GraphStore + ?Sized>(
    store: &mut S,
    node: NodeId,
    new: NodeId,
    dist: f64,
    layer: usize,
    force: bool,
    params: &Params,
    policy: &LinkPolicy,
) -> Backlink {
    let cap = params.max_neighbors(layer);
    let mut old = Vec::with_capacity(cap + policy.slack);
    loop {
        if node == new || !store.read_list(node, layer, &mut old) {
            return Backlink::default();
        }
        if old.contains(&new) {
            return Backlink { held: true, dropped: Vec::new() };
        }
        let list: Vec<NodeId> = if old.len() < cap + policy.slack {
            old.iter().copied().chain([new]).collect()
        } else {
            let mut cands: Vec<Candidate> = Vec::with_capacity(old.len() + 1);
            for &x in &old {
                if store.is_live(x) {
                    cands.push(Candidate { dist: store.between(node, x), id: x });
                }
            }
            cands.push(Candidate { dist, id: new });
            cands.sort();
            let mut kept = choose(store, params, cap, &cands);
            if !kept.iter().any(|c| c.id == new) {
                if !force {
                    return Backlink::default();
                }
                cands.retain(|c| c.id != new && !unusable(c.dist));
                cands.truncate(cap.saturating_sub(1));
                kept = cands;
                kept.push(Candidate { dist, id: new });
            }
            kept.iter().map(|c| c.id).collect()
        };
        let dropped: Vec<NodeId> = old.iter().copied().filter(|x| !list.contains(x)).collect();
        match store.replace_list(node, layer, &old, &list) {
            Replace::Done => return Backlink { held: true, dropped },
            Replace::Changed => continue,
            Replace::Gone => return Backlink::default(),
        }
    }
}

/// Makes sure `node` keeps an incoming link on layer 0 after a pruning
/// dropped one: if none of its own neighbours links back to it, its nearest
/// live neighbour takes it. Returns what that pruning dropped in turn.
fn rescue<S: GraphStore + ?Sized>(store: &mut S, node: NodeId, params: &Params, policy: &LinkPolicy) -> Vec<NodeId> {
    let mut outs = Vec::new();
    if !store.is_live(node) || !store.read_list(node, 0, &mut outs) {
        return Vec::new();
    }
    let mut theirs = Vec::new();
    for &o in &outs {
        if store.read_list(o, 0, &mut theirs) && theirs.contains(&node) {
            return Vec::new();
        }
    }
    let mut nearest: Option<Candidate> = None;
    for &o in &outs {
        if !store.is_live(o) {
            continue;
        }
        let c = Candidate { dist: store.between(node, o), id: o };
        if !unusable(c.dist) && nearest.is_none_or(|n| c < n) {
            nearest = Some(c);
        }
    }
    match nearest {
        Some(n) => add_backlink(store, n.id, node, n.dist, 0, true, params, policy).dropped,
        None => Vec::new(),
    }
}

/// Links element `id`'s chosen neighbours (`selected`, per layer) back to
/// it. On layer 0 someone must link to it or no search could reach it: if
/// the heuristic refused every back-link, its nearest neighbour makes room.
/// Elements that pruning dropped are then checked (up to the policy's
/// budget) and re-linked if they lost their last reciprocal link.
pub fn link_back<S: GraphStore + ?Sized>(store: &mut S, id: NodeId, selected: &[Vec<Candidate>], params: &Params, policy: &LinkPolicy) {
    let mut orphans = Vec::new();
    for (layer, list) in selected.iter().enumerate() {
        let mut linked = false;
        for c in list {
            let r = add_backlink(store, c.id, id, c.dist, layer, false, params, policy);
            linked |= r.held;
            if layer == 0 {
                orphans.extend(r.dropped);
            }
        }
        if layer == 0 && !linked {
            if let Some(c) = list.first() {
                orphans.extend(add_backlink(store, c.id, id, c.dist, 0, true, params, policy).dropped);
            }
        }
    }
    let mut budget = policy.rescue_budget;
    while budget > 0 {
        let Some(o) = orphans.pop() else { break };
        budget -= 1;
        orphans.extend(rescue(store, o, params, policy));
    }
}
