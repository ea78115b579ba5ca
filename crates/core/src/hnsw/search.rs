//! `search_layer` (the paper's Algorithm 2) with scratch space a caller keeps
//! across searches, and [`StreamSearch`], the same best-first search made
//! resumable so an index scan can hand out further batches of rows
//! (iterative scans) without starting over.

use super::idmap::NodeSet;
use super::{NodeId, Source};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// An element and its distance to the query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// Distance to the query (smaller is closer).
    pub dist: f64,
    /// The element.
    pub id: NodeId,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    /// By distance; ties newest first (higher ids are, mostly, newer
    /// elements): among identical vectors the newest copies are the ones
    /// with free slots, so later copies of a pile find room next to them.
    fn cmp(&self, other: &Self) -> Ordering {
        self.dist.total_cmp(&other.dist).then(other.id.cmp(&self.id))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What a [`super::Source`] reports for an element it cannot read (a stale
/// link, a recycled slot): NaN, so that a real distance of +Infinity (a
/// float4 sum that overflowed) stays an ordinary, farthest distance.
pub const UNREADABLE: f64 = f64::NAN;

/// A distance a search must skip: the element could not be read, or its
/// distance is undefined (both NaN). +Infinity is a distance like any other.
#[inline]
pub fn unusable(dist: f64) -> bool {
    dist.is_nan()
}

/// Elements seen by the current search: a generation-stamped array for
/// dense ids (in-memory graphs), an open-addressing set otherwise.
pub enum Visited {
    /// ids < marks.len(); an id is visited when its mark equals `epoch`.
    Dense { marks: Vec<u32>, epoch: u32 },
    /// Sparse ids (item pointers on disk).
    Hashed(NodeSet),
}

impl Visited {
    /// Forgets every id.
    pub fn clear(&mut self) {
        match self {
            Visited::Dense { marks, epoch } => {
                *epoch = epoch.wrapping_add(1);
                if *epoch == 0 {
                    marks.iter_mut().for_each(|m| *m = 0);
                    *epoch = 1;
                }
            }
            Visited::Hashed(set) => set.clear(),
        }
    }

    /// Marks `id`; true if it was not visited before.
    #[inline]
    pub fn insert(&mut self, id: NodeId) -> bool {
        match self {
            Visited::Dense { marks, epoch } => match marks.get_mut(id as usize) {
                Some(m) if *m == *epoch => false,
                Some(m) => {
                    *m = *epoch;
                    true
                }
                None => false,
            },
            Visited::Hashed(set) => set.insert(id),
        }
    }
}

/// Reusable per-thread search state.
pub struct Scratch {
    /// Elements seen in the current search.
    pub visited: Visited,
    candidates: BinaryHeap<Reverse<Candidate>>,
    results: BinaryHeap<Candidate>,
    /// Neighbour lists are read into this buffer.
    pub neighbor_buf: Vec<NodeId>,
    ids: Vec<NodeId>,
    dists: Vec<f64>,
    /// Output of the last `search_layer`, nearest first.
    pub found: Vec<Candidate>,
}

impl Scratch {
    /// Scratch for a graph whose ids are dense in `0..n`.
    pub fn dense(n: usize) -> Self {
        Self::with(Visited::Dense { marks: vec![0; n], epoch: 0 })
    }

    /// Scratch for sparse ids.
    pub fn hashed() -> Self {
        Self::with(Visited::Hashed(NodeSet::default()))
    }

    fn with(visited: Visited) -> Self {
        Scratch {
            visited,
            candidates: BinaryHeap::new(),
            results: BinaryHeap::new(),
            neighbor_buf: Vec::new(),
            ids: Vec::new(),
            dists: Vec::new(),
            found: Vec::new(),
        }
    }
}

/// Best-first search of one layer from `entries`, keeping the `ef` closest
/// elements that `src.is_result` accepts (all are traversed); leaves them in
/// `scratch.found`, nearest first.
pub fn search_layer<S: Source + ?Sized>(src: &mut S, entries: &[Candidate], ef: usize, layer: usize, scratch: &mut Scratch) {
    let ef = ef.max(1);
    scratch.visited.clear();
    scratch.candidates.clear();
    scratch.results.clear();
    for &e in entries {
        if !unusable(e.dist) && scratch.visited.insert(e.id) {
            scratch.candidates.push(Reverse(e));
            if src.is_result(e.id) {
                scratch.results.push(e);
            }
        }
    }
    while scratch.results.len() > ef {
        scratch.results.pop();
    }
    while let Some(Reverse(c)) = scratch.candidates.pop() {
        if scratch.results.len() >= ef && scratch.results.peek().is_some_and(|w| c.dist > w.dist) {
            break;
        }
        scratch.neighbor_buf.clear();
        src.neighbors(c.id, layer, &mut scratch.neighbor_buf);
        scratch.ids.clear();
        for &id in &scratch.neighbor_buf {
            if scratch.visited.insert(id) {
                scratch.ids.push(id);
            }
        }
        if scratch.ids.is_empty() {
            continue;
        }
        // the list likely expanded next loads while this hop is scored
        if let Some(&Reverse(next)) = scratch.candidates.peek() {
            src.will_expand(next.id, layer);
        }
        let bound = if scratch.results.len() >= ef { scratch.results.peek().map_or(f64::INFINITY, |w| w.dist) } else { f64::INFINITY };
        scratch.dists.clear();
        src.distances(&scratch.ids, layer, bound, &mut scratch.dists);
        for (&id, &dist) in scratch.ids.iter().zip(&scratch.dists) {
            if unusable(dist) {
                continue;
            }
            let full = scratch.results.len() >= ef;
            if full && scratch.results.peek().is_some_and(|w| dist >= w.dist) {
                continue;
            }
            let cand = Candidate { dist, id };
            scratch.candidates.push(Reverse(cand));
            if src.is_result(id) {
                scratch.results.push(cand);
                if scratch.results.len() > ef {
                    scratch.results.pop();
                }
            }
        }
    }
    scratch.found.clear();
    scratch.found.extend(scratch.results.drain());
    scratch.found.sort();
}

/// Greedy descent from `entry` through layers `top..=bottom+1`, returning the
/// closest element found on layer `bottom + 1` (the entry for `bottom`).
pub fn greedy_descent<S: Source + ?Sized>(src: &mut S, entry: Candidate, top: usize, bottom: usize, scratch: &mut Scratch) -> Candidate {
    let mut best = entry;
    let mut layer = top;
    while layer > bottom {
        loop {
            let mut improved = false;
            scratch.neighbor_buf.clear();
            src.neighbors(best.id, layer, &mut scratch.neighbor_buf);
            scratch.dists.clear();
            src.distances(&scratch.neighbor_buf, layer, best.dist, &mut scratch.dists);
            for (&id, &d) in scratch.neighbor_buf.iter().zip(&scratch.dists) {
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

/// A resumable best-first search of layer 0. Nothing visited is dropped:
/// unexpanded elements stay in the frontier and results beyond a batch stay
/// pending, so each [`StreamSearch::next_batch`] continues exactly where the
/// previous one stopped (what `hnsw.iterative_scan` needs).
#[derive(Default)]
pub struct StreamSearch {
    visited: NodeSet,
    frontier: BinaryHeap<Reverse<Candidate>>,
    /// Visited elements farther than a full batch's farthest result when
    /// they were found: this batch will not expand them, a continuation
    /// may (they join the frontier, and results the pending ones, when the
    /// next batch starts). The flag: whether it is a result.
    deferred: Vec<(Candidate, bool)>,
    pending: BinaryHeap<Reverse<Candidate>>,
    results: BinaryHeap<Candidate>,
    buf: Vec<NodeId>,
    ids: Vec<NodeId>,
    dists: Vec<f64>,
    visits: usize,
}

impl StreamSearch {
    /// Starts a new search of layer 0 from `entries` (the end of the
    /// greedy descent, and the graph's entry point: every live element is
    /// reachable from the entry point on layer 0, so a descent that ends in
    /// a closed pocket of the graph cannot hide the rest; the far entry is
    /// only expanded once the nearer candidates run out).
    pub fn start<S: Source + ?Sized>(&mut self, src: &mut S, entries: &[Candidate]) {
        self.visited.clear();
        self.frontier.clear();
        self.deferred.clear();
        self.pending.clear();
        self.results.clear();
        self.visits = entries.len();
        for &entry in entries {
            if !unusable(entry.dist) && self.visited.insert(entry.id) {
                self.frontier.push(Reverse(entry));
                if src.is_result(entry.id) {
                    self.pending.push(Reverse(entry));
                }
            }
        }
    }

    /// Forgets the last search, keeping the memory.
    pub fn forget(&mut self) {
        self.visited.clear();
        self.frontier.clear();
        self.deferred.clear();
        self.pending.clear();
        self.results.clear();
        self.visits = 0;
    }

    /// Elements visited so far.
    pub fn visits(&self) -> usize {
        self.visits
    }

    /// Bytes held by the search's own structures.
    pub fn heap_bytes(&self) -> usize {
        self.visited.heap_bytes() + 16 * (self.frontier.capacity() + self.deferred.capacity() + self.pending.capacity() + self.results.capacity())
    }

    /// Bytes the search needs for what it holds, as if its tables had been
    /// grown for this search alone: a search that reuses the tables of an
    /// earlier, bigger one (a backend's pooled scan memory) is charged what
    /// a fresh search would be, so memory budgets stop it at the same point.
    pub fn used_bytes(&self) -> usize {
        self.visited.fresh_bytes()
            + 16 * (self.frontier.len() + self.pending.len() + self.results.len())
            + std::mem::size_of::<(Candidate, bool)>() * self.deferred.len()
    }

    /// The next (up to) `ef` results, nearest first, into `out`. Expands
    /// until the classic stopping rule holds for this batch, or until
    /// `max_visits` elements have been visited; after that, only results
    /// already found are handed out. Empty when nothing is left.
    pub fn next_batch<S: Source + ?Sized>(&mut self, src: &mut S, ef: usize, max_visits: usize, out: &mut Vec<Candidate>) {
        let ef = ef.max(1);
        out.clear();
        self.results.clear();
        for (c, result) in self.deferred.drain(..) {
            self.frontier.push(Reverse(c));
            if result {
                self.pending.push(Reverse(c));
            }
        }
        while self.results.len() < ef {
            match self.pending.pop() {
                Some(Reverse(c)) => self.results.push(c),
                None => break,
            }
        }
        while let Some(&Reverse(c)) = self.frontier.peek() {
            if self.results.len() >= ef && self.results.peek().is_some_and(|w| c.dist > w.dist) {
                break;
            }
            if self.visits >= max_visits {
                break;
            }
            self.frontier.pop();
            self.buf.clear();
            src.neighbors(c.id, 0, &mut self.buf);
            self.ids.clear();
            for &id in &self.buf {
                if self.visited.insert(id) {
                    self.ids.push(id);
                }
            }
            if self.ids.is_empty() {
                continue;
            }
            self.visits += self.ids.len();
            if let Some(&Reverse(next)) = self.frontier.peek() {
                src.will_expand(next.id, 0);
            }
            let bound = if self.results.len() >= ef { self.results.peek().map_or(f64::INFINITY, |w| w.dist) } else { f64::INFINITY };
            self.dists.clear();
            src.distances(&self.ids, 0, bound, &mut self.dists);
            for (&id, &dist) in self.ids.iter().zip(&self.dists) {
                if unusable(dist) {
                    continue;
                }
                let cand = Candidate { dist, id };
                // ties with a full batch's farthest result wait too (as
                // pgvector adds only nearer ones): otherwise a plateau of
                // equal distances (a sparse inner product of 0 with every
                // row the query shares no index with) is walked whole
                if self.results.len() >= ef && self.results.peek().is_some_and(|w| dist >= w.dist) {
                    // neither a result of this batch nor expanded by it
                    self.deferred.push((cand, src.is_result(id)));
                    continue;
                }
                self.frontier.push(Reverse(cand));
                if src.is_result(id) {
                    self.results.push(cand);
                    if self.results.len() > ef {
                        if let Some(far) = self.results.pop() {
                            self.pending.push(Reverse(far));
                        }
                    }
                }
            }
        }
        out.extend(self.results.drain());
        out.sort();
        // elements tied with the farthest result come too: a pile of
        // identical vectors spread over several elements (a full one and a
        // newer partial one) is returned whole, not just its newest part
        // (at most `ef` of them, from the pending results and the deferred
        // ones, which stay deferred for a continuation to expand)
        if let Some(worst) = out.last().map(|c| c.dist) {
            let cap = out.len() + ef;
            while let Some(&Reverse(c)) = self.pending.peek() {
                if c.dist > worst || out.len() >= cap {
                    break;
                }
                self.pending.pop();
                out.push(c);
            }
            for (c, result) in self.deferred.iter_mut() {
                if out.len() >= cap {
                    break;
                }
                if *result && c.dist <= worst {
                    *result = false;
                    out.push(*c);
                }
            }
        }
    }
}

#[cfg(test)]
mod will_expand_tests {
    use super::*;

    /// Points on a line (x = id), each linked to the ids within 3; records
    /// the hints and checks each one when the next list is asked for.
    struct Line {
        query: f64,
        n: u64,
        hint: Option<NodeId>,
        last_hop: Vec<NodeId>,
        hints: usize,
        followed: usize,
    }

    impl Line {
        fn dist(&self, id: NodeId) -> f64 {
            (id as f64 - self.query).abs()
        }
    }

    impl Source for Line {
        fn distance(&mut self, id: NodeId, _layer: usize, _bound: f64) -> f64 {
            self.dist(id)
        }

        fn distances(&mut self, ids: &[NodeId], _layer: usize, _bound: f64, out: &mut Vec<f64>) {
            self.last_hop = ids.to_vec();
            out.extend(ids.iter().map(|&id| self.dist(id)));
        }

        fn neighbors(&mut self, id: NodeId, _layer: usize, out: &mut Vec<NodeId>) {
            if let Some(h) = self.hint.take() {
                // the hinted element is expanded next, unless the hop in
                // between found a nearer one
                let nearer = self.last_hop.iter().any(|&x| self.dist(x) < self.dist(h));
                assert!(id == h || nearer, "hinted {h}, expanded {id}, hop {:?}", self.last_hop);
                self.followed += usize::from(id == h);
            }
            out.extend((id.saturating_sub(3)..=(id + 3).min(self.n - 1)).filter(|&x| x != id));
        }

        fn is_result(&mut self, _id: NodeId) -> bool {
            true
        }

        fn will_expand(&mut self, id: NodeId, _layer: usize) {
            self.hint = Some(id);
            self.hints += 1;
        }
    }

    #[test]
    fn the_next_expansion_is_announced() {
        let mut src = Line { query: 10.2, n: 200, hint: None, last_hop: Vec::new(), hints: 0, followed: 0 };
        let mut s = StreamSearch::default();
        let start = Candidate { dist: src.dist(150), id: 150 };
        s.start(&mut src, &[start]);
        let mut out = Vec::new();
        s.next_batch(&mut src, 5, usize::MAX, &mut out);
        assert_eq!(out.iter().map(|c| c.id).collect::<Vec<_>>(), vec![10, 11, 9, 12, 8]);
        assert!(src.hints > 10, "hints {}", src.hints);
        assert!(src.followed > 0, "no hint was followed");
    }

    /// `search_layer` (the build's searches) announces its next expansion
    /// too, and the hint is followed unless the hop found a nearer one.
    #[test]
    fn search_layer_announces_the_next_expansion() {
        let mut src = Line { query: 10.2, n: 200, hint: None, last_hop: Vec::new(), hints: 0, followed: 0 };
        let mut scratch = Scratch::dense(200);
        let start = Candidate { dist: src.dist(150), id: 150 };
        search_layer(&mut src, &[start], 5, 0, &mut scratch);
        assert_eq!(scratch.found.iter().map(|c| c.id).collect::<Vec<_>>(), vec![10, 11, 9, 12, 8]);
        assert!(src.hints > 10, "hints {}", src.hints);
        assert!(src.followed > 0, "no hint was followed");
    }
}
