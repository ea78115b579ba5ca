//! Reachability repair, written once for every store: on layer 0, a search
//! from the entry point must be able to reach every live element. Pruning
//! (concurrent inserts, deletes) can strand a few: elements no search
//! reaches, and elements only far-away elements point at (none of their own
//! neighbours links back), which a search rarely expands. Not under inner
//! product, where unreachable small vectors are the nature of the graph. Each is linked
//! from its nearest reachable neighbour; an element with no usable
//! outgoing link is re-linked from scratch by the caller's `relink`.

use super::idmap::NodeMap;
use super::search::{unusable, Candidate};
use super::{GraphStore, NodeId, Params, Replace};

/// A snapshot of layer 0 with dense indices.
pub struct Adjacency {
    /// Dense index to element id.
    pub ids: Vec<NodeId>,
    /// Whether each element is live.
    pub live: Vec<bool>,
    /// Out-links of each element (dense indices of known elements only).
    pub lists: Vec<Vec<u32>>,
    index: NodeMap<u32>,
}

impl Default for Adjacency {
    fn default() -> Self {
        Adjacency { ids: Vec::new(), live: Vec::new(), lists: Vec::new(), index: NodeMap::new(u32::MAX) }
    }
}

impl Adjacency {
    /// Adds an element (its list comes later, see [`Adjacency::set_list`]).
    pub fn add(&mut self, id: NodeId, live: bool) -> u32 {
        let i = self.ids.len() as u32;
        self.ids.push(id);
        self.live.push(live);
        self.lists.push(Vec::new());
        self.index.insert(id, i);
        i
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Dense index of `id`.
    pub fn index_of(&self, id: NodeId) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// Sets element `i`'s out-links from ids (unknown ids are dropped).
    pub fn set_list(&mut self, i: u32, list: &[NodeId]) {
        let mapped: Vec<u32> = list.iter().filter_map(|&x| self.index_of(x)).collect();
        self.lists[i as usize] = mapped;
    }

    /// Approximate bytes of the snapshot (for memory budgets).
    pub fn bytes(elements: usize, m: usize) -> usize {
        elements * (8 + 1 + 24 + 4 * 2 * m + 24)
    }

    fn mark_from(&self, start: u32, reached: &mut [bool], stack: &mut Vec<u32>) {
        if std::mem::replace(&mut reached[start as usize], true) {
            return;
        }
        stack.push(start);
        while let Some(x) = stack.pop() {
            for &y in &self.lists[x as usize] {
                if !std::mem::replace(&mut reached[y as usize], true) {
                    stack.push(y);
                }
            }
        }
    }

    /// Live elements a search from `entry` cannot reach.
    pub fn unreachable(&self, entry: NodeId) -> Vec<NodeId> {
        let mut reached = vec![false; self.len()];
        if let Some(e) = self.index_of(entry) {
            self.mark_from(e, &mut reached, &mut Vec::new());
        }
        (0..self.len()).filter(|&i| self.live[i] && !reached[i]).map(|i| self.ids[i]).collect()
    }
}

/// Re-reads element `i`'s list from the store into the snapshot.
fn refresh<S: GraphStore + ?Sized>(store: &mut S, adj: &mut Adjacency, i: u32, buf: &mut Vec<NodeId>) {
    if store.read_list(adj.ids[i as usize], 0, buf) {
        adj.set_list(i, buf);
    }
}

/// Puts a link `from -> u` into `from`'s list: in a free slot, else in
/// place of a link whose target has other incoming links from live
/// elements (never one that would lose its last): a dead target first,
/// then the farthest link the neighbour selection would not keep (see
/// [`redundant`]). Only when `must` (`u` is unreachable) may it take the
/// farthest link even if the selection would keep it: a reachable `u` is
/// not worth one of `from`'s long links, which searches need to cross the
/// graph. A target replaced is also linked from `u` when `u`'s list has
/// room, so the path through `from` it lost goes on through `u`. False if
/// there is no slot.
#[allow(clippy::too_many_arguments)]
fn link_into<S: GraphStore + ?Sized>(
    store: &mut S,
    adj: &mut Adjacency,
    indegree: &mut [u32],
    from: u32,
    u: u32,
    cap: usize,
    must: bool,
    buf: &mut Vec<NodeId>,
) -> bool {
    let (from_id, u_id) = (adj.ids[from as usize], adj.ids[u as usize]);
    loop {
        if !store.read_list(from_id, 0, buf) {
            return false;
        }
        if buf.contains(&u_id) {
            return true;
        }
        let mut list = buf.clone();
        let mut victim = None;
        if list.len() < cap {
            list.push(u_id);
        } else {
            // links whose target keeps another incoming link (a dead
            // target counts as farthest), nearest first
            let mut cands: Vec<(Candidate, usize, u32)> = (0..list.len())
                .filter_map(|k| adj.index_of(list[k]).map(|t| (k, t)))
                .filter(|&(_, t)| indegree[t as usize] > 1 || !adj.live[t as usize])
                .map(|(k, t)| {
                    let d = if adj.live[t as usize] { store.between(from_id, list[k]) } else { f64::INFINITY };
                    (Candidate { dist: if d.is_nan() { f64::INFINITY } else { d }, id: list[k] }, k, t)
                })
                .collect();
            cands.sort_by(|a, b| a.0.cmp(&b.0));
            let spare = redundant(store, from_id, u_id, &list);
            let pick = cands.iter().rev().find(|c| c.0.dist == f64::INFINITY || spare.contains(&c.0.id));
            let pick = if must { pick.or(cands.last()) } else { pick };
            let Some(&(_, k, t)) = pick else { return false };
            list[k] = u_id;
            victim = Some(t);
        }
        match store.replace_list(from_id, 0, buf, &list) {
            Replace::Done => {
                indegree[u as usize] += 1;
                adj.set_list(from, &list);
                if let Some(t) = victim {
                    indegree[t as usize] = indegree[t as usize].saturating_sub(1);
                    if adj.live[t as usize] && t != u {
                        splice(store, adj, indegree, u, t, cap, buf);
                    }
                }
                return true;
            }
            Replace::Changed => continue,
            Replace::Gone => return false,
        }
    }
}

/// The links of `from`'s full `list` that the neighbour selection (see
/// [`super::select`]) would not keep once `u` is in it: taken nearest
/// first, a link is redundant when a kept link (or `u`) nearer to `from`
/// is nearer to its target than `from` is. Those are the slots the build
/// filled with the nearest pruned candidates; the kept ones include the
/// long links across the graph.
fn redundant<S: GraphStore + ?Sized>(store: &mut S, from: NodeId, u: NodeId, list: &[NodeId]) -> Vec<NodeId> {
    let mut ids = list.to_vec();
    ids.push(u);
    store.prepare(&ids);
    let mut order: Vec<Candidate> = ids.iter().map(|&x| Candidate { dist: store.between(from, x), id: x }).collect();
    order.retain(|c| !unusable(c.dist));
    order.sort();
    let mut kept: Vec<Candidate> = Vec::new();
    let mut out = Vec::new();
    for c in order {
        let dominated = kept.iter().any(|r| store.between(c.id, r.id) < c.dist);
        if c.id == u || !dominated {
            kept.push(c);
        } else {
            out.push(c.id);
        }
    }
    out
}

/// Adds `u -> t` to `u`'s list if it has a free slot (no replacement).
fn splice<S: GraphStore + ?Sized>(store: &mut S, adj: &mut Adjacency, indegree: &mut [u32], u: u32, t: u32, cap: usize, buf: &mut Vec<NodeId>) {
    let (u_id, t_id) = (adj.ids[u as usize], adj.ids[t as usize]);
    loop {
        if !store.read_list(u_id, 0, buf) || buf.contains(&t_id) || buf.len() >= cap {
            return;
        }
        let mut list = buf.clone();
        list.push(t_id);
        match store.replace_list(u_id, 0, buf, &list) {
            Replace::Done => {
                indegree[t as usize] += 1;
                adj.set_list(u, &list);
                return;
            }
            Replace::Changed => continue,
            Replace::Gone => return,
        }
    }
}

/// Passes of [`connect`] at most (each re-marks what the entry reaches;
/// a link replaced in one pass is mended in the next).
const PASSES: usize = 8;

/// Links every weakly linked live element (see the module docs), in up to
/// [`PASSES`] passes. Each is linked from its nearest reachable out-neighbour;
/// one without any is handed to `find(store, id)`, which searches for its
/// neighbours from the entry point (it may also write the element's own
/// list) and returns them nearest first. `keep_going` is asked between
/// elements (interrupt checks). Returns how many elements were linked.
pub fn connect<S: GraphStore + ?Sized>(
    store: &mut S,
    adj: &mut Adjacency,
    entry: NodeId,
    params: &Params,
    find: &mut dyn FnMut(&mut S, NodeId) -> Vec<Candidate>,
    keep_going: &mut dyn FnMut() -> bool,
) -> usize {
    let Some(entry_i) = adj.index_of(entry) else { return 0 };
    if !params.metric.zero_on_identical() {
        // Under inner product, vectors of small norm are nobody's best
        // match and, rightly, nobody's neighbour: thousands of them can be
        // unreachable in a healthy graph, and forcing links to them takes
        // links from the vectors searches need (recall@10 fell from 0.97
        // to 0.85 on clustered data). pgvector does not link them either.
        return 0;
    }
    let n = adj.len();
    let cap = params.max_neighbors(0);
    // incoming links from live elements (a dead one's links go with it)
    let mut indegree = vec![0u32; n];
    for (from, list) in adj.lists.iter().enumerate() {
        if adj.live[from] {
            for &t in list {
                indegree[t as usize] += 1;
            }
        }
    }
    let mut made = 0;
    let mut buf = Vec::new();
    let mut stack = Vec::new();
    for _pass in 0..PASSES {
        let mut reached = vec![false; n];
        let mut full = vec![false; n];
        adj.mark_from(entry_i, &mut reached, &mut stack);
        let mut progress = false;
        for u in 0..n as u32 {
            if !adj.live[u as usize] || u == entry_i {
                continue;
            }
            // reachable elements that only far ones point at are relinked too
            let reciprocal = adj.lists[u as usize].iter().any(|&o| adj.lists[o as usize].contains(&u));
            if reached[u as usize] && (reciprocal || adj.lists[u as usize].is_empty()) {
                continue;
            }
            if !keep_going() {
                return made;
            }
            let id = adj.ids[u as usize];
            let mut froms: Vec<(Candidate, u32)> = Vec::new();
            for k in 0..adj.lists[u as usize].len() {
                let o = adj.lists[u as usize][k];
                if reached[o as usize] && adj.live[o as usize] {
                    let c = Candidate { dist: store.between(id, adj.ids[o as usize]), id: adj.ids[o as usize] };
                    if !unusable(c.dist) {
                        froms.push((c, o));
                    }
                }
            }
            if froms.is_empty() {
                for c in find(store, id) {
                    if let Some(o) = adj.index_of(c.id) {
                        if reached[o as usize] && adj.live[o as usize] && o != u {
                            froms.push((c, o));
                        }
                    }
                }
                refresh(store, adj, u, &mut buf);
            }
            froms.sort_by(|a, b| a.0.cmp(&b.0));
            // every candidate is first asked for a free or redundant slot;
            // only an unreachable element may then cost someone a kept link
            // (on SPLADE-like rows under L2, a fifth of the elements are
            // unreachable and their candidates are the same few hub rows:
            // taking the nearest one's farthest link each time cost recall@10
            // at ef_search 10 0.67 -> 0.56 on 4,000 rows)
            // (a list found without such a slot is not asked again this pass)
            let must = !reached[u as usize];
            let linked = froms.iter().any(|&(_, o)| {
                !full[o as usize] && {
                    let done = link_into(store, adj, &mut indegree, o, u, cap, false, &mut buf);
                    full[o as usize] = !done;
                    done
                }
            }) || (must && froms.iter().any(|&(_, o)| link_into(store, adj, &mut indegree, o, u, cap, true, &mut buf)));
            if linked {
                made += 1;
                progress = true;
                reached[u as usize] = false;
                adj.mark_from(u, &mut reached, &mut stack);
            }
        }
        if !progress {
            break;
        }
    }
    made
}
