//! Insert (the paper's Algorithm 1), written once for every store: find the
//! new element's neighbours layer by layer ([`find_neighbors`]), let the
//! store write the element with its lists, then link the neighbours back
//! ([`link_back`]), pruning full lists with the heuristic. Lists are
//! updated by compare-and-set, so concurrent inserts (rayon workers in
//! memory, backends on disk) never lose each other's links.

use super::bypass::{broken_proofs, Paths, PRUNE_READS};
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
    /// Fixed-capacity lists (on disk). A pruning there drops only links it
    /// cannot show another path to after trying (see `bypass`), so rescues
    /// are few on dense rows (none on 4,000 random 32-d rows); on the hub
    /// rows of sparse L2 a budget of 8 left 21 of 4,000 rows unreachable,
    /// 16 one, 32 none (`tests_insert_cost`); a 2-d integer grid under
    /// inner product with m = 4 needs 64 (`tests_bypass_review`: 32 left
    /// 0 / 2 / 3 of 2,000 with 2 proof reads per pruning).
    pub const DISK: LinkPolicy = LinkPolicy { slack: 0, rescue_budget: 64 };
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
    // the descent may end in a local optimum (data inserted cluster by
    // cluster, inner product): the entry point joins as a second start
    let mut entries = vec![cur];
    if cur.id != ep {
        entries.push(start);
    }
    let layers = level.min(top) + 1;
    found.candidates = vec![Vec::new(); layers];
    found.selected = vec![Vec::new(); layers];
    for layer in (0..layers).rev() {
        search_layer(store, &entries, params.ef_construction, layer, scratch);
        let mut cands = scratch.found.clone();
        if store.approximate() {
            // the search ran on approximate distances: choose on exact ones
            let ids: Vec<NodeId> = cands.iter().map(|c| c.id).collect();
            store.prepare(&ids);
            for c in cands.iter_mut() {
                c.dist = store.exact(c.id, layer);
            }
            cands.retain(|c| !unusable(c.dist));
            cands.sort();
        }
        widen_past_copies(store, params, layer, &mut cands, &mut scratch.neighbor_buf);
        found.selected[layer] = choose(store, params, params.max_neighbors(layer), &cands);
        if !cands.is_empty() {
            entries.clone_from(&cands);
        }
        found.candidates[layer] = cands;
    }
    if level > top && !found.selected[0].iter().any(|c| c.id == ep) {
        // the new element becomes the entry point: every element is
        // reachable from the old one, and stays so from the new one only
        // through a link to it (on tied rows the nearest found can lead to
        // a corner: an insert raising the entry left 106 of 1,950
        // one-hot rows reachable); the farthest choice makes room
        let d = store.exact(ep, 0);
        if !unusable(d) {
            let sel = &mut found.selected[0];
            if sel.len() >= params.max_neighbors(0) {
                sel.pop();
            }
            sel.push(Candidate { dist: d, id: ep });
            sel.sort();
        }
    }
    found
}

/// When the search found nothing but copies of the query's own vector (a
/// pile of identical vectors bigger than `ef_construction`), the new
/// element would get no link out of the pile: add the copies' other
/// neighbours as candidates, so it keeps diverse links too.
fn widen_past_copies<S: GraphStore + ?Sized>(store: &mut S, params: &Params, layer: usize, cands: &mut Vec<Candidate>, buf: &mut Vec<NodeId>) {
    if cands.len() < params.ef_construction || !cands.iter().all(|c| is_copy(params, c.dist)) {
        return;
    }
    let copies: Vec<NodeId> = cands.iter().take(8).map(|c| c.id).collect();
    for id in copies {
        if !store.read_list(id, layer, buf) {
            continue;
        }
        for &x in buf.iter() {
            if cands.iter().any(|c| c.id == x) || !store.is_result(x) {
                continue;
            }
            let d = store.exact(x, layer);
            if !unusable(d) && !is_copy(params, d) {
                cands.push(Candidate { dist: d, id: x });
            }
        }
    }
    cands.sort();
}

/// Result of adding one back-link.
#[derive(Clone, Debug, Default)]
pub struct Backlink {
    /// The list now holds the new element.
    pub held: bool,
    /// Elements pruning removed from the list (on fixed-size layer-0
    /// lists, only those the list no longer reaches through another link).
    pub dropped: Vec<NodeId>,
    /// The paths the pruning gave links up for, (t, w): w's list was seen
    /// linking to t; to read again (see [`broken_proofs`]) unless
    /// [`add_backlink`] did.
    pub proofs: Vec<(NodeId, NodeId)>,
}

/// Whether an element at distance `d` from a base is a copy of it
/// (identical vector, for metrics where identical means distance 0).
#[inline]
fn is_copy(params: &Params, d: f64) -> bool {
    d <= 0.0 && params.metric.zero_on_identical()
}

/// Most copies of its own vector a list of capacity `cap` keeps (as
/// [`select_neighbors`] does): enough to link a pile of identical vectors
/// into a tree, few enough that every list keeps links out of the pile.
#[inline]
pub fn copy_quota(cap: usize) -> usize {
    (cap / 2).max(2)
}

/// Splits a list's candidates (with distances to its base) into the copies
/// of the base, which lists keep, and the rest, sorted nearest first.
pub fn split_copies(params: &Params, cands: Vec<Candidate>) -> (Vec<Candidate>, Vec<Candidate>) {
    let (copies, mut rest): (Vec<Candidate>, Vec<Candidate>) = cands.into_iter().partition(|c| is_copy(params, c.dist));
    rest.sort();
    (copies, rest)
}

/// Cuts a list's candidates to `cap`: copies of the base stay, the rest is
/// chosen with the heuristic (used when a build's lists outgrow capacity).
pub fn prune<S: GraphStore + ?Sized>(store: &mut S, params: &Params, cap: usize, cands: Vec<Candidate>) -> Vec<Candidate> {
    let (mut copies, rest) = split_copies(params, cands);
    copies.truncate(cap);
    let room = cap - copies.len();
    copies.extend(choose(store, params, room, &rest));
    copies
}

/// A back-link to add to a list: `new`, at `dist` from the list's owner,
/// on `layer`.
#[derive(Clone, Copy)]
pub struct Back<'a> {
    pub new: NodeId,
    pub dist: f64,
    pub layer: usize,
    /// `new` takes the place of the farthest link if the heuristic would
    /// not keep it (a layer-0 element's only way in, or a rescue)
    pub force: bool,
    /// `new`'s layer-0 list as written: a path through it needs no read
    pub new_links: &'a [NodeId],
    /// elements this insert's rescues linked: a forced link gives them up last
    pub keep: &'a [NodeId],
    /// give up only links the list can show another path to (a last
    /// rescue, which must not orphan anything in turn)
    pub strict: bool,
}

/// Adds `back.new` (at distance `back.dist` from `node`) to `node`'s list on `back.layer`,
/// pruning with the heuristic when full, retrying when a concurrent writer
/// changed the list. With `force`, `new` takes the place of the farthest
/// link if the heuristic would not keep it.
///
/// Copies of `node`'s own vector in its list are never dropped (up to the
/// copy quota), and a new copy only ever replaces a link that is not one:
/// so an element of a pile of identical vectors, once linked from a copy,
/// stays linked.
///
/// A forced link gives up a link not in `keep` when it can (the elements
/// this insert's rescues linked already).
pub fn add_backlink<S: GraphStore + ?Sized>(store: &mut S, node: NodeId, back: &Back, params: &Params, policy: &LinkPolicy) -> Backlink {
    let mut r = add_backlink_unchecked(store, node, back, params, policy);
    let proofs: Vec<(NodeId, NodeId, NodeId)> = r.proofs.drain(..).map(|(t, w)| (t, w, node)).collect();
    for (t, _) in broken_proofs(store, &proofs) {
        if !r.dropped.contains(&t) {
            r.dropped.push(t);
        }
    }
    r
}

/// [`add_backlink`] without the second reads of its proofs' lists: the
/// caller reads them (once per list for all its prunings).
fn add_backlink_unchecked<S: GraphStore + ?Sized>(store: &mut S, node: NodeId, back: &Back, params: &Params, policy: &LinkPolicy) -> Backlink {
    let &Back { new, dist, layer, force, new_links, keep, strict } = back;
    let cap = params.max_neighbors(layer);
    let quota = copy_quota(cap);
    let mut old = Vec::with_capacity(cap + policy.slack);
    loop {
        if node == new || !store.read_list(node, layer, &mut old) {
            return Backlink::default();
        }
        if old.contains(&new) {
            return Backlink { held: true, ..Backlink::default() };
        }
        let full = old.len() >= cap + policy.slack;
        // the new element did not make it into a list the build let grow
        // past capacity: the list is still cut to what the heuristic kept
        let mut refused = false;
        let mut cands: Vec<Candidate> = Vec::with_capacity(old.len() + 1);
        if full || is_copy(params, dist) {
            store.prepare(&old);
            for &x in &old {
                if store.is_live(x) {
                    cands.push(Candidate { dist: store.between(node, x), id: x });
                }
            }
        }
        let copies = cands.iter().filter(|c| is_copy(params, c.dist)).count();
        // on fixed-size layer-0 lists, the links to give up in place of
        // one the list may be the only way to: farthest first, no copies
        let mut far_first: Vec<NodeId> = Vec::new();
        if policy.slack == 0 && layer == 0 {
            let mut far: Vec<Candidate> = cands.iter().filter(|c| !is_copy(params, c.dist)).copied().collect();
            far.sort_by(|a, b| b.cmp(a));
            far_first = far.iter().map(|c| c.id).collect();
        }
        let mut list: Vec<NodeId> = if is_copy(params, dist) {
            if !full {
                old.iter().copied().chain([new]).collect()
            } else {
                // a forced link (the new copy's only way in) may go past the
                // quota, but a full list keeps one link out of the pile
                if copies >= quota && !(force && copies + 1 < cap) {
                    return Backlink::default();
                }
                // replace the farthest link that is not a copy
                let others = || cands.iter().filter(|c| !is_copy(params, c.dist));
                let Some(far) = others().filter(|c| !keep.contains(&c.id)).max().or_else(|| others().max()) else {
                    return Backlink::default();
                };
                old.iter().map(|&x| if x == far.id { new } else { x }).collect()
            }
        } else if !full {
            old.iter().copied().chain([new]).collect()
        } else {
            cands.push(Candidate { dist, id: new });
            let (kept_copies, mut rest) = split_copies(params, cands);
            let room = cap.saturating_sub(kept_copies.len());
            let mut kept = choose(store, params, room, &rest);
            let in_kept = |kept: &[Candidate], id: NodeId| kept.iter().any(|k| k.id == id);
            // a forced link (a rescue) whose heuristic choice would give up
            // an element this insert rescued gives up the farthest instead
            let undoes = force && rest.iter().any(|c| keep.contains(&c.id) && !in_kept(&kept, c.id));
            if !in_kept(&kept, new) || undoes {
                if !force || room == 0 {
                    // (fixed-size lists, slack 0, keep what they had)
                    if policy.slack == 0 {
                        return Backlink::default();
                    }
                    // otherwise every later back-link to this element
                    // (a hub) would prune the same full list again; the
                    // nearest links it would drop stay, up to half the
                    // slack (cut to capacity, recall at ef_search 40 fell
                    // by 0.02 on SPLADE-like L2 rows; a hub's extra links
                    // help the searches until the final prune)
                    refused = true;
                    let more: Vec<Candidate> =
                        rest.iter().filter(|c| c.id != new && !kept.iter().any(|k| k.id == c.id)).take(policy.slack / 2).copied().collect();
                    kept.extend(more);
                } else {
                    rest.retain(|c| c.id != new && !unusable(c.dist));
                    // the farthest links go, but not ones in `keep`: rescues
                    // would otherwise chase each other around full lists
                    // (inner product: two hubs' lists, three elements with
                    // nobody else linking in, budget spent, one lost)
                    while rest.len() > room - 1 {
                        let i = rest.iter().rposition(|c| !keep.contains(&c.id)).unwrap_or(rest.len() - 1);
                        rest.remove(i);
                    }
                    kept = rest;
                    kept.push(Candidate { dist, id: new });
                }
            }
            kept_copies.iter().chain(kept.iter()).map(|c| c.id).collect()
        };
        let mut dropped: Vec<NodeId> = old.iter().copied().filter(|x| !list.contains(x)).collect();
        let mut proofs = Vec::new();
        if policy.slack == 0 && layer == 0 {
            // fixed-size lists have no final pass to re-link what a pruning
            // strands: what the list still reaches through another link
            // needs nothing; otherwise the list gives up the farthest link
            // it can show is not needed instead, else the caller rescues
            // what it dropped
            let mut paths = Paths::new(node, PRUNE_READS, new, new_links);
            dropped.retain(|&t| !paths.bypassed(store, t, new, &list));
            if !dropped.is_empty() {
                if let Some(swapped) = paths.swap(store, &old, new, &far_first) {
                    (list, dropped) = (swapped, Vec::new());
                }
            }
            proofs = paths.proofs_of_drops(&old, &list);
            if strict && !dropped.is_empty() {
                return Backlink::default();
            }
        }
        match store.replace_list(node, layer, &old, &list) {
            Replace::Done => return Backlink { held: !refused, dropped, proofs },
            Replace::Changed => continue,
            Replace::Gone => return Backlink::default(),
        }
    }
}

/// Makes sure `node` stays reachable on layer 0 after a pruning of
/// `parent`'s fixed-size list gave up its link to it without showing
/// another path.
/// `parent` is reachable (the insert's search reached it, or a rescue
/// linked it from such an element), so `node` is safe if one of
/// `parent`'s links, the nearest to `node` first, links to it. Whether
/// `node`'s own neighbours link back says nothing: in a pile of ties, or a
/// cluster of far rows, elements link each other and nobody outside links
/// in. Otherwise the nearest of `parent`'s links that takes it links it.
/// Returns what that pruning dropped in turn, with the element it was
/// dropped from.
#[allow(clippy::too_many_arguments)]
fn rescue<S: GraphStore + ?Sized>(
    store: &mut S,
    node: NodeId,
    parent: NodeId,
    rescued: &[NodeId],
    strict: bool,
    params: &Params,
    policy: &LinkPolicy,
) -> Vec<(NodeId, NodeId)> {
    let mut outs = Vec::new();
    if !store.is_live(node) || !store.read_list(parent, 0, &mut outs) || outs.contains(&node) {
        return Vec::new();
    }
    let mut near: Vec<Candidate> = Vec::with_capacity(outs.len());
    store.prepare(&outs);
    for &w in &outs {
        if w != node && store.is_live(w) {
            let d = store.between(node, w);
            if !unusable(d) {
                near.push(Candidate { dist: d, id: w });
            }
        }
    }
    near.sort();
    let mut theirs = Vec::new();
    if near.iter().take(PRUNE_READS).any(|w| store.read_list(w.id, 0, &mut theirs) && theirs.contains(&node)) {
        return Vec::new();
    }
    for c in &near {
        let back = Back { new: node, dist: c.dist, layer: 0, force: true, new_links: &[], keep: rescued, strict };
        let r = add_backlink(store, c.id, &back, params, policy);
        if r.held {
            return r.dropped.into_iter().map(|x| (x, c.id)).collect();
        }
    }
    Vec::new()
}

/// Links element `id`'s chosen neighbours (`selected`, per layer) back to
/// it. On layer 0 someone must link to it or no search could reach it: if
/// the heuristic refused every back-link, the nearest element of
/// `fallback` (the search's layer-0 candidates, all reachable) that can
/// make room takes it.
/// On fixed-size lists a back-link gives up only links whose targets the
/// list still reaches through another link; what a forced one drops
/// without such a path is rescued (up to the policy's budget).
pub fn link_back<S: GraphStore + ?Sized>(
    store: &mut S,
    id: NodeId,
    selected: &[Vec<Candidate>],
    fallback: &[Candidate],
    params: &Params,
    policy: &LinkPolicy,
) {
    let mut orphans = Vec::new();
    // the back-links' proofs through the new element's own list (most of
    // them: it holds what the search found near each), read again once
    // all back-links are written: one read. This insert changes no other
    // list's links but by its back-links, so those through other lists
    // are read again at once (a later back-link of its own may prune the
    // list, with a proof of its own: not a broken path).
    let mut proofs: Vec<(NodeId, NodeId, NodeId)> = Vec::new();
    let mut add = |store: &mut S, c: &Candidate, back: &Back, orphans: &mut Vec<(NodeId, NodeId)>| {
        let r = add_backlink_unchecked(store, c.id, back, params, policy);
        let (mine, others): (Vec<_>, Vec<_>) = r.proofs.iter().map(|&(t, w)| (t, w, c.id)).partition(|p| p.1 == id);
        proofs.extend(mine);
        let mut dropped = r.dropped;
        for (t, _) in broken_proofs(store, &others) {
            if !dropped.contains(&t) {
                dropped.push(t);
            }
        }
        if back.layer == 0 {
            orphans.extend(dropped.iter().map(|&x| (x, c.id)));
        }
        r.held
    };
    // the new element's layer-0 list as written: a path through it needs
    // no read
    let own: Vec<NodeId> = selected.first().map(|l| l.iter().map(|c| c.id).collect()).unwrap_or_default();
    // a forced layer-0 back-link from `c`
    let to = |c: &Candidate| Back { new: id, dist: c.dist, layer: 0, force: true, new_links: &own[..], keep: &[], strict: false };
    for (layer, list) in selected.iter().enumerate() {
        let mut linked = false;
        // among copies of the new element's own vector, one link in is
        // enough (a pile of copies grows as a tree): every slot a copy
        // takes is one less for the copies after it
        let mut copy_linked = false;
        for c in list {
            if copy_linked && is_copy(params, c.dist) {
                continue;
            }
            let held = add(store, c, &Back { layer, force: false, ..to(c) }, &mut orphans);
            linked |= held;
            copy_linked |= held && is_copy(params, c.dist);
        }
        if layer == 0 && !copy_linked {
            // a copy's links from other elements churn (copies are
            // interchangeable to them); one from another copy never does
            for c in list.iter().chain(fallback).filter(|c| is_copy(params, c.dist)) {
                if add(store, c, &to(c), &mut orphans) {
                    linked = true;
                    break;
                }
            }
        }
        if layer == 0 && !linked {
            for c in list.iter().chain(fallback) {
                if add(store, c, &to(c), &mut orphans) {
                    break;
                }
            }
        }
    }
    for (t, node) in broken_proofs(store, &proofs) {
        if !orphans.iter().any(|o| o.0 == t) {
            orphans.push((t, node));
        }
    }
    let mut budget = policy.rescue_budget;
    let mut rescued = Vec::new();
    while budget > 0 {
        let Some((o, parent)) = orphans.pop() else {
            break;
        };
        budget -= 1;
        // what a rescue linked, the next rescues' forced links keep
        rescued.push(o);
        orphans.extend(rescue(store, o, parent, &rescued, false, params, policy));
    }
    // budget spent (concurrent inserts' rescues can chase each other):
    // the rest only take links that orphan nothing (builds, with no
    // budget, leave them to their final reachability pass)
    for (o, parent) in orphans.into_iter().filter(|_| policy.rescue_budget > 0) {
        rescue(store, o, parent, &rescued, true, params, policy);
    }
}
