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

/// A snapshot of layer 0 with dense indices, compact: it is taken while
/// the whole graph is in memory (a build's final pass, VACUUM within
/// maintenance_work_mem). Every list has a slot of the lists' capacity in
/// one flat array (a longer list, which no store holds, goes to a map),
/// and ids that are already dense (`0..n` in order, a build's) need no
/// map either.
pub struct Adjacency {
    /// Dense index to element id.
    pub ids: Vec<NodeId>,
    /// Whether each element is live.
    pub live: Vec<bool>,
    /// Links in each element's slot ([`LONG`]: in `long`).
    count: Vec<u16>,
    /// Out-links (dense indices of known elements only), `stride` per
    /// element.
    flat: Vec<u32>,
    stride: usize,
    long: std::collections::HashMap<u32, Vec<u32>>,
    /// Id to dense index; None while ids increase (found by binary
    /// search over `ids`, or equal to their index: a build's).
    index: Option<NodeMap<u32>>,
    /// Every id so far equals its index.
    dense: bool,
    /// Room the map is made with when the first other id comes.
    expected: usize,
}

/// Dense index of `id` among `ids`: through `index`, else `id` itself
/// (`dense`) or by binary search (ids increase).
fn dense_index(index: &Option<NodeMap<u32>>, dense: bool, ids: &[NodeId], id: NodeId) -> Option<u32> {
    match index {
        Some(map) => map.get(id).copied(),
        None if dense => (id < ids.len() as NodeId).then_some(id as u32),
        None => ids.binary_search(&id).ok().map(|i| i as u32),
    }
}

/// `count` of a list kept in `long`.
const LONG: u16 = u16::MAX;

impl Adjacency {
    /// An empty snapshot of lists of up to `cap` links, with room for
    /// `n` elements.
    pub fn new(n: usize, cap: usize) -> Self {
        Adjacency {
            ids: Vec::with_capacity(n),
            live: Vec::with_capacity(n),
            count: Vec::with_capacity(n),
            flat: Vec::with_capacity(n * cap),
            stride: cap,
            long: Default::default(),
            index: None,
            dense: true,
            expected: n,
        }
    }

    /// Adds an element (its list comes later, see [`Adjacency::set_list`]).
    pub fn add(&mut self, id: NodeId, live: bool) -> u32 {
        let i = self.ids.len() as u32;
        self.dense &= id == i as NodeId;
        if self.index.is_none() && self.ids.last().is_some_and(|&last| id <= last) {
            let mut map = NodeMap::with_capacity(self.expected.max(self.ids.len() + 1), u32::MAX);
            for (k, &x) in self.ids.iter().enumerate() {
                map.insert(x, k as u32);
            }
            self.index = Some(map);
        }
        if let Some(map) = self.index.as_mut() {
            map.insert(id, i);
        }
        self.ids.push(id);
        self.live.push(live);
        self.count.push(0);
        self.flat.resize(self.flat.len() + self.stride, 0);
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
        dense_index(&self.index, self.dense, &self.ids, id)
    }

    /// Element `i`'s out-links (dense indices).
    #[inline]
    pub fn list(&self, i: u32) -> &[u32] {
        match self.count[i as usize] {
            LONG => &self.long[&i],
            c => &self.flat[i as usize * self.stride..][..c as usize],
        }
    }

    /// Sets element `i`'s out-links from ids (unknown ids are dropped).
    pub fn set_list(&mut self, i: u32, list: &[NodeId]) {
        let (index, dense, ids) = (&self.index, self.dense, &self.ids);
        let mapped = list.iter().filter_map(|&x| dense_index(index, dense, ids, x));
        let slot = &mut self.flat[i as usize * self.stride..][..self.stride];
        let mut c = 0;
        let mut over = Vec::new();
        for t in mapped {
            match slot.get_mut(c) {
                Some(s) => *s = t,
                None => over.push(t),
            }
            c += 1;
        }
        if over.is_empty() {
            self.long.remove(&i);
            self.count[i as usize] = c as u16;
        } else {
            let mut all = slot.to_vec();
            all.extend(over);
            self.long.insert(i, all);
            self.count[i as usize] = LONG;
        }
    }

    /// Heap bytes held (without the pass's own state).
    pub fn heap_bytes(&self) -> usize {
        let map = self.index.as_ref().map_or(0, NodeMap::heap_bytes);
        let long: usize = self.long.values().map(|l| 24 + 4 * l.capacity()).sum();
        self.ids.capacity() * 8 + self.live.capacity() + self.count.capacity() * 2 + self.flat.capacity() * 4 + long + map
    }

    /// Heap bytes of a snapshot of `elements` with `m` (lists of up to
    /// 2m links), with ids that need a map (`mapped`: not added in
    /// increasing order), and the pass's own
    /// per-element state (see [`connect`]); for memory budgets.
    pub fn bytes(elements: usize, m: usize, mapped: bool) -> usize {
        let map = if mapped { NodeMap::<u32>::bytes_with_capacity(elements) } else { 0 };
        elements * (8 + 1 + 2 + 4 * 2 * m + PASS_BYTES) + map
    }

    fn mark_from(&self, start: u32, reached: &mut [bool], stack: &mut Vec<u32>) {
        if std::mem::replace(&mut reached[start as usize], true) {
            return;
        }
        stack.push(start);
        while let Some(x) = stack.pop() {
            for &y in self.list(x) {
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

/// Labels of what the entry reaches, kept sound while the pass edits
/// lists: the entry is 0 and every other labelled element has an incoming
/// link from a live element of smaller label (`parents` counts those), so
/// by induction every labelled element is reachable. A link may be taken
/// from a list only if its target keeps such a parent; then no replacement
/// strands anyone, nor anything only that target leads to. (Counting any
/// incoming link, as before, let a target keep only a link from an
/// unreachable element or from its own descendants: on one-hot rows, where
/// every distance ties, each pass stranded as many elements as it linked,
/// 66 of 2,732 still unreachable after eight passes.) Breadth-first levels
/// are [`STEP`] apart, so an element linked from `o` (label of `o` plus 1)
/// sits between `o` and `o`'s other children and can adopt one of them.
struct Levels {
    label: Vec<u64>,
    parents: Vec<u32>,
    queue: std::collections::VecDeque<u32>,
}

const NONE: u64 = u64::MAX;
/// Heap bytes per element [`connect`] holds besides the snapshot: a
/// pass's labels (8), parent counts (4), its queue (4, up to twice that
/// as it doubles) and full-list marks (1), and the reach marks of
/// [`Adjacency::unreachable`] (1), rounded up.
pub(super) const PASS_BYTES: usize = 24;
const STEP: u64 = 1 << 20;

impl Levels {
    fn new(adj: &Adjacency, entry: u32) -> Self {
        let n = adj.len();
        let mut lv = Levels { label: vec![NONE; n], parents: vec![0; n], queue: Default::default() };
        lv.label[entry as usize] = 0;
        lv.spread(adj, entry);
        lv
    }

    fn reached(&self, i: u32) -> bool {
        self.label[i as usize] != NONE
    }

    /// Whether the link `from -> t` makes `from` a parent of `t`. A dead
    /// element's links do not count: they go with it.
    fn counts(&self, adj: &Adjacency, from: u32, t: u32) -> bool {
        let l = self.label[from as usize];
        l != NONE && (adj.live[from as usize] || l == 0) && self.label[t as usize] != NONE && l < self.label[t as usize]
    }

    /// Whether `from`'s link to `t` may be replaced without stranding `t`.
    fn may_drop(&self, adj: &Adjacency, from: u32, t: u32) -> bool {
        !adj.live[t as usize] || !self.counts(adj, from, t) || self.parents[t as usize] > 1
    }

    /// Bookkeeping for a link `from -> t` added (`add`) or removed.
    fn edge(&mut self, adj: &Adjacency, from: u32, t: u32, add: bool) {
        if add && !self.reached(t) && self.reached(from) && (adj.live[from as usize] || self.label[from as usize] == 0) {
            self.label[t as usize] = self.label[from as usize] + 1;
            self.parents[t as usize] = 1;
            self.spread(adj, t);
        } else if self.counts(adj, from, t) {
            let p = &mut self.parents[t as usize];
            *p = if add { *p + 1 } else { p.saturating_sub(1) };
        }
    }

    /// Labels unreached `u`, linked from a labelled element, with `label`
    /// (between its parent's and those of the children it adopts).
    fn adopt(&mut self, adj: &Adjacency, u: u32, label: u64) {
        self.label[u as usize] = label;
        self.parents[u as usize] = 1;
        self.spread(adj, u);
    }

    /// Labels what `start` (labelled) leads to that is not labelled yet,
    /// breadth first, and counts its links to labelled elements above it;
    /// parents among elements labelled earlier may be undercounted, which
    /// only makes the pass more careful.
    fn spread(&mut self, adj: &Adjacency, start: u32) {
        self.queue.clear();
        self.queue.push_back(start);
        while let Some(x) = self.queue.pop_front() {
            let lx = self.label[x as usize];
            if !adj.live[x as usize] && lx != 0 {
                continue;
            }
            for &y in adj.list(x) {
                if self.label[y as usize] == NONE {
                    self.label[y as usize] = lx + STEP;
                    self.parents[y as usize] = 1;
                    self.queue.push_back(y);
                } else if lx < self.label[y as usize] {
                    self.parents[y as usize] += 1;
                }
            }
        }
    }
}

/// Re-reads element `i`'s list from the store into the snapshot.
fn refresh<S: GraphStore + ?Sized>(store: &mut S, adj: &mut Adjacency, lv: &mut Levels, i: u32, buf: &mut Vec<NodeId>) {
    if !store.read_list(adj.ids[i as usize], 0, buf) {
        return;
    }
    let old = adj.list(i).to_vec();
    adj.set_list(i, buf);
    let new = adj.list(i).to_vec();
    for &t in old.iter().filter(|t| !new.contains(t)) {
        lv.edge(adj, i, t, false);
    }
    for &t in new.iter().filter(|t| !old.contains(t)) {
        lv.edge(adj, i, t, true);
    }
}

/// Puts a link `from -> u` into `from`'s list: in a free slot, else in
/// place of a link [`Levels::may_drop`] allows (never one that would
/// strand its target): a dead target first,
/// then the farthest link the neighbour selection would not keep (see
/// [`dominated`]). Only when `must` (`u` is unreachable) may it take the
/// farthest link even if the selection would keep it: a reachable `u` is
/// not worth one of `from`'s long links, which searches need to cross the
/// graph. A target replaced is also linked from `u` when `u`'s list has
/// room, so the path through `from` it lost goes on through `u`. False if
/// there is no slot.
#[allow(clippy::too_many_arguments)]
fn link_into<S: GraphStore + ?Sized>(
    store: &mut S,
    adj: &mut Adjacency,
    lv: &mut Levels,
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
                .filter(|&(_, t)| lv.may_drop(adj, from, t))
                .map(|(k, t)| {
                    let d = if adj.live[t as usize] { store.between(from_id, list[k]) } else { f64::INFINITY };
                    (Candidate { dist: if d.is_nan() { f64::INFINITY } else { d }, id: list[k] }, k, t)
                })
                .collect();
            cands.sort_by(|a, b| a.0.cmp(&b.0));
            let near = nearer_links(store, from_id, u_id, &list);
            let pick = cands.iter().rev().find(|c| c.0.dist == f64::INFINITY || dominated(store, &near, &c.0));
            let pick = if must { pick.or(cands.last()) } else { pick };
            match pick {
                Some(&(_, k, t)) => {
                    list[k] = u_id;
                    victim = Some(t);
                }
                None if must => return hand_over(store, adj, lv, from, u, cap, buf),
                None => return false,
            }
        }
        match store.replace_list(from_id, 0, buf, &list) {
            Replace::Done => {
                if let Some(t) = victim {
                    lv.edge(adj, from, t, false);
                }
                adj.set_list(from, &list);
                lv.edge(adj, from, u, true);
                if let Some(t) = victim {
                    if adj.live[t as usize] && t != u {
                        splice(store, adj, lv, u, t, cap, buf);
                    }
                }
                return true;
            }
            Replace::Changed => continue,
            Replace::Gone => return false,
        }
    }
}

/// Links unreachable `u` from `from` when every link of `from`'s (full)
/// list is its target's only way in: `u` takes the farthest of them, `t`,
/// and `from -> t` becomes `from -> u -> t` (`u`'s own farthest link to a
/// reachable element makes room; that element keeps its other parents).
/// Many rows at one distance give such lists: every row links the same
/// few, which link only each other and the rows they adopted.
#[allow(clippy::too_many_arguments)]
fn hand_over<S: GraphStore + ?Sized>(
    store: &mut S,
    adj: &mut Adjacency,
    lv: &mut Levels,
    from: u32,
    u: u32,
    cap: usize,
    buf: &mut Vec<NodeId>,
) -> bool {
    let (from_id, u_id) = (adj.ids[from as usize], adj.ids[u as usize]);
    let lu = lv.label[from as usize] + 1;
    // u's slot for t: free, or its farthest link to a labelled element (u
    // labelled lu is then that element's extra parent, or none)
    let farthest = |store: &mut S, adj: &Adjacency, owner: NodeId, list: &[NodeId], ok: &dyn Fn(u32) -> bool| {
        (0..list.len())
            .filter_map(|k| adj.index_of(list[k]).filter(|&x| ok(x)).map(|x| (k, x)))
            .map(|(k, x)| (Candidate { dist: store.between(owner, list[k]), id: list[k] }, k, x))
            .filter(|c| !unusable(c.0.dist))
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, k, x)| (k, x))
    };
    if !store.read_list(u_id, 0, buf) {
        return false;
    }
    let u_list = buf.clone();
    if u_list.len() >= cap && farthest(store, adj, u_id, &u_list, &|x| lv.reached(x)).is_none() {
        return false;
    }
    // from's link to hand over: a live target labelled above lu
    let t = loop {
        if !store.read_list(from_id, 0, buf) {
            return false;
        }
        if buf.contains(&u_id) {
            return true;
        }
        let mut list = buf.clone();
        let Some((k, t)) = farthest(store, adj, from_id, &list, &|x| x != u && adj.live[x as usize] && lv.label[x as usize] != NONE && lv.label[x as usize] > lu) else {
            return false;
        };
        list[k] = u_id;
        match store.replace_list(from_id, 0, buf, &list) {
            Replace::Done => {
                lv.edge(adj, from, t, false);
                adj.set_list(from, &list);
                // u's label halves the gap between from and t (not from's
                // plus 1): u can later be handed over in turn, and from's
                // other children stay above it (with lists of 4 links, the
                // few reachable rows every one-hot row links were used up
                // after as many hand-overs a pass: 891 of 2,732 left after
                // eight passes)
                let (lf, lt) = (lv.label[from as usize], lv.label[t as usize]);
                match lv.reached(u) {
                    true => lv.edge(adj, from, u, true),
                    false => lv.adopt(adj, u, lf + (lt - lf) / 2),
                }
                break t;
            }
            Replace::Changed => continue,
            Replace::Gone => return false,
        }
    };
    let t_id = adj.ids[t as usize];
    loop {
        if !store.read_list(u_id, 0, buf) {
            return true;
        }
        if buf.contains(&t_id) {
            // counted when u was labelled if its snapshot list has it
            // (not twice: a later replacement could take t's last parent)
            if !adj.list(u).contains(&t) {
                refresh(store, adj, lv, u, buf);
            }
            return true;
        }
        let mut list = buf.clone();
        let mut dropped = None;
        if list.len() < cap {
            list.push(t_id);
        } else {
            let Some((k, x)) = farthest(store, adj, u_id, &list, &|x| x != t && lv.may_drop(adj, u, x)) else { return true };
            list[k] = t_id;
            dropped = Some(x);
        }
        match store.replace_list(u_id, 0, buf, &list) {
            Replace::Done => {
                if let Some(x) = dropped {
                    lv.edge(adj, u, x, false);
                }
                adj.set_list(u, &list);
                lv.edge(adj, u, t, true);
                return true;
            }
            Replace::Changed => continue,
            Replace::Gone => return true,
        }
    }
}

/// `from`'s links and `u` with their distances from `from`, nearest first.
fn nearer_links<S: GraphStore + ?Sized>(store: &mut S, from: NodeId, u: NodeId, list: &[NodeId]) -> Vec<Candidate> {
    let mut ids = list.to_vec();
    ids.push(u);
    store.prepare(&ids);
    let mut near: Vec<Candidate> = ids.iter().map(|&x| Candidate { dist: store.between(from, x), id: x }).collect();
    near.retain(|c| !unusable(c.dist));
    near.sort();
    near
}

/// Whether the neighbour selection (see [`super::select`]) would not keep
/// link `c`: some link of the same list (`near`, nearest first, `u`
/// among them) nearer to its owner is nearer to `c` than the owner is.
/// Such slots hold pruned candidates the build filled in; the kept links
/// include the long ones across the graph. Stops at the first witness
/// (the full selection compared every pair of a list for each ask: 16×
/// the old pass's time on 10,000 SPLADE-like rows).
fn dominated<S: GraphStore + ?Sized>(store: &mut S, near: &[Candidate], c: &Candidate) -> bool {
    near.iter().take_while(|r| r.dist < c.dist).any(|r| r.id != c.id && store.between(r.id, c.id) < c.dist)
}

/// The live elements other than `u` the entry reaches nearest to `u`,
/// nearest first (at most `ef`): a beam search over the snapshot's layer
/// 0 from the entry, which only walks what the entry reaches (through live
/// elements, as [`Levels`] counts reach). The fallback when `find` (which
/// descends the upper layers) returns only unreached elements: an
/// upper-layer element inside a blob cut off on layer 0 leads the search
/// into that blob, and nothing there can link it.
fn reachable_near<S: GraphStore + ?Sized>(store: &mut S, adj: &Adjacency, lv: &Levels, entry: u32, u: u32, ef: usize) -> Vec<(Candidate, u32)> {
    use std::cmp::Reverse;
    let id = adj.ids[u as usize];
    let key = |store: &mut S, x: u32| Candidate { dist: store.between(id, adj.ids[x as usize]), id: adj.ids[x as usize] };
    // what a link from `x` may serve: live, and not `u` itself (dead
    // elements' links do not count, so they are not walked either; a
    // dead entry is walked but links nothing)
    let usable = |x: u32| x != u && adj.live[x as usize];
    let mut seen = std::collections::HashSet::new();
    seen.insert(entry);
    let mut todo = std::collections::BinaryHeap::new();
    // the best `ef` so far, farthest on top
    let mut best: std::collections::BinaryHeap<(Candidate, u32)> = std::collections::BinaryHeap::new();
    let first = key(store, entry);
    todo.push(Reverse((first, entry)));
    if usable(entry) && !unusable(first.dist) {
        best.push((first, entry));
    }
    let mut ids = Vec::new();
    while let Some(Reverse((c, x))) = todo.pop() {
        if best.len() >= ef && best.peek().is_some_and(|b| c > b.0) {
            break;
        }
        let next: Vec<u32> = adj.list(x).iter().copied().filter(|&y| usable(y) && lv.reached(y) && seen.insert(y)).collect();
        ids.clear();
        ids.extend(next.iter().map(|&y| adj.ids[y as usize]));
        store.prepare(&ids);
        for y in next {
            let cy = key(store, y);
            if unusable(cy.dist) || (best.len() >= ef && best.peek().is_some_and(|b| cy > b.0)) {
                continue;
            }
            todo.push(Reverse((cy, y)));
            best.push((cy, y));
            if best.len() > ef {
                best.pop();
            }
        }
    }
    best.into_sorted_vec()
}

/// Adds `u -> t` to `u`'s list if it has a free slot (no replacement).
fn splice<S: GraphStore + ?Sized>(store: &mut S, adj: &mut Adjacency, lv: &mut Levels, u: u32, t: u32, cap: usize, buf: &mut Vec<NodeId>) {
    let (u_id, t_id) = (adj.ids[u as usize], adj.ids[t as usize]);
    loop {
        if !store.read_list(u_id, 0, buf) || buf.contains(&t_id) || buf.len() >= cap {
            return;
        }
        let mut list = buf.clone();
        list.push(t_id);
        match store.replace_list(u_id, 0, buf, &list) {
            Replace::Done => {
                adj.set_list(u, &list);
                lv.edge(adj, u, t, true);
                return;
            }
            Replace::Changed => continue,
            Replace::Gone => return,
        }
    }
}

/// Passes of [`connect`] at most (each labels what the entry reaches
/// afresh; a pass strands nobody, see [`Levels`], so a second one only
/// finds what concurrent writers or a failed search left).
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
    let mut made = 0;
    let mut buf = Vec::new();
    let mut searched = false;
    for _pass in 0..PASSES {
        if std::mem::take(&mut searched) {
            // searches (`find`) wrote lists the snapshot did not follow
            // (their back-links cut others'): read every list again
            for i in 0..n as u32 {
                if i % 256 == 0 && !keep_going() {
                    return made;
                }
                if store.read_list(adj.ids[i as usize], 0, &mut buf) {
                    adj.set_list(i, &buf);
                }
            }
        }
        let mut lv = Levels::new(adj, entry_i);
        let mut full = vec![false; n];
        let mut progress = false;
        for u in 0..n as u32 {
            if !adj.live[u as usize] || u == entry_i {
                continue;
            }
            // reachable elements that only far ones point at are relinked too
            let reciprocal = adj.list(u).iter().any(|&o| adj.list(o).contains(&u));
            let must = !lv.reached(u);
            if !must && (reciprocal || adj.list(u).is_empty()) {
                continue;
            }
            if !keep_going() {
                return made;
            }
            let id = adj.ids[u as usize];
            let mut froms: Vec<(Candidate, u32)> = Vec::new();
            for k in 0..adj.list(u).len() {
                let o = adj.list(u)[k];
                if lv.reached(o) && adj.live[o as usize] {
                    let c = Candidate { dist: store.between(id, adj.ids[o as usize]), id: adj.ids[o as usize] };
                    if !unusable(c.dist) {
                        froms.push((c, o));
                    }
                }
            }
            if froms.is_empty() {
                // the search writes u's list and links back from what it
                // found (which may cut their lists): the snapshot takes
                // those lists again, or a later pass would count on links
                // no longer there
                let found = find(store, id);
                searched = true;
                refresh(store, adj, &mut lv, u, &mut buf);
                for c in found {
                    if let Some(o) = adj.index_of(c.id) {
                        refresh(store, adj, &mut lv, o, &mut buf);
                        if lv.reached(o) && adj.live[o as usize] && o != u {
                            froms.push((c, o));
                        }
                    }
                }
                if froms.is_empty() {
                    froms = reachable_near(store, adj, &lv, entry_i, u, params.ef_construction.max(cap));
                }
            }
            froms.sort_by(|a, b| a.0.cmp(&b.0));
            // every candidate is first asked for a free or redundant slot;
            // only an unreachable element may then cost someone a kept link
            // (on SPLADE-like rows under L2, a fifth of the elements are
            // unreachable and their candidates are the same few hub rows:
            // taking the nearest one's farthest link each time cost recall@10
            // at ef_search 10 0.67 -> 0.56 on 4,000 rows)
            // (a list found without such a slot is not asked again this pass)
            // a reachable one takes free slots only: asking full lists for
            // a slot their selection would not keep costs distances between
            // all their links, again on every VACUUM
            let linked = froms.iter().any(|&(_, o)| {
                !full[o as usize] && (must || adj.list(o).len() < cap) && {
                    let done = link_into(store, adj, &mut lv, o, u, cap, false, &mut buf);
                    full[o as usize] = !done;
                    done
                }
            }) || (must && froms.iter().any(|&(_, o)| link_into(store, adj, &mut lv, o, u, cap, true, &mut buf)));
            if linked {
                made += 1;
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    made
}
