//! Whether a fixed-size layer-0 list may give up a link. On disk there is
//! no final pass that re-links what a pruning strands, so a list drops
//! node -> t only when it can show another path node -> w -> t through one
//! of the links it keeps: then every element reachable before stays
//! reachable, whatever else links where. The proof costs list reads, the
//! expensive part of an on-disk insert, so one pruning reads at most a
//! fixed number of lists and asks the likeliest ones first.

use super::search::unusable;
use super::{Candidate, GraphStore, NodeId};

/// Most lists one pruning reads to show its drops are not needed. An
/// insert of 4,000 random 32-d rows reads 49 lists without the proofs, 57
/// with 1, 68 with 2, 87 with 4 and 123 with 8, for the same recall and
/// reachability; on the hub rows 1 costs 0.02 of recall@10 at ef 40.
pub const PRUNE_READS: usize = 2;

/// The lists one pruning of `node`'s list has read, and what it may
/// still read.
pub struct Paths {
    node: NodeId,
    read: Vec<(NodeId, Vec<NodeId>)>,
    left: usize,
    /// (t, w): the list of link w was seen to link to t.
    proofs: Vec<(NodeId, NodeId)>,
}

impl Paths {
    /// For a pruning of `node`'s list that may read `budget` lists;
    /// `new`'s list is known to be `new_links` (unless empty).
    pub fn new(node: NodeId, budget: usize, new: NodeId, new_links: &[NodeId]) -> Self {
        let read = if new_links.is_empty() { Vec::new() } else { vec![(new, new_links.to_vec())] };
        Paths { node, read, left: budget, proofs: Vec::new() }
    }

    /// Whether a list already read, of a link `w` other than `t`
    /// (`is_link(w)`), links to `t`.
    fn known(&mut self, t: NodeId, is_link: impl Fn(NodeId) -> bool) -> bool {
        let w = self.read.iter().find(|(w, l)| *w != t && is_link(*w) && l.contains(&t)).map(|r| r.0);
        if let Some(w) = w {
            self.proofs.push((t, w));
        }
        w.is_some()
    }

    /// Reads `w`'s layer-0 list (once); whether it links to `t`.
    fn ask<S: GraphStore + ?Sized>(&mut self, store: &mut S, w: NodeId, t: NodeId) -> bool {
        if self.left == 0 || self.read.iter().any(|(x, _)| *x == w) {
            return false;
        }
        self.left -= 1;
        let mut out = Vec::new();
        if !store.read_list(w, 0, &mut out) {
            out.clear();
        }
        let hit = out.contains(&t);
        self.read.push((w, out));
        if hit {
            self.proofs.push((t, w));
        }
        hit
    }

    /// Whether the list, were it `list`, still reaches `t` through a link
    /// other than `t` (node -> w -> t). Asks what it has read first, then
    /// `first` (the new element: its list holds what the insert's search
    /// found near the node), then the links nearest to `t` (the ones the
    /// heuristic judged to cover it), while the budget lasts. A dead `t`
    /// needs no path.
    pub fn bypassed<S: GraphStore + ?Sized>(&mut self, store: &mut S, t: NodeId, first: NodeId, list: &[NodeId]) -> bool {
        if t == self.node || !store.is_live(t) || self.known(t, |w| list.contains(&w)) {
            return true;
        }
        if self.left == 0 {
            return false;
        }
        if first != t && list.contains(&first) && self.ask(store, first, t) {
            return true;
        }
        let mut near: Vec<Candidate> = Vec::with_capacity(list.len());
        for &w in list.iter().filter(|&&w| w != t && w != first && !self.read.iter().any(|(x, _)| *x == w)) {
            let d = store.between(w, t);
            if !unusable(d) {
                near.push(Candidate { dist: d, id: w });
            }
        }
        near.sort();
        for w in near {
            if self.left == 0 {
                return false;
            }
            if self.ask(store, w.id, t) {
                return true;
            }
        }
        false
    }

    /// The first of `far_first` (links of `old` farthest first) whose
    /// place `new` can take while `old` still reaches it through another
    /// link: the list that keeps every other link. Known paths first,
    /// then reads while the budget lasts.
    pub fn swap<S: GraphStore + ?Sized>(&mut self, store: &mut S, old: &[NodeId], new: NodeId, far_first: &[NodeId]) -> Option<Vec<NodeId>> {
        let with = |u: NodeId| -> Vec<NodeId> { old.iter().map(|&x| if x == u { new } else { x }).collect() };
        // the links of `with(u)`, without building it
        let in_with = |u: NodeId| move |w: NodeId| w == new || (w != u && old.contains(&w));
        if let Some(&u) = far_first.iter().find(|&&u| u != new && self.known(u, in_with(u))) {
            return Some(with(u));
        }
        for &u in far_first.iter().filter(|&&u| u != new) {
            if self.left == 0 {
                return None;
            }
            let trial = with(u);
            if self.bypassed(store, u, new, &trial) {
                return Some(trial);
            }
        }
        None
    }

    /// The proofs of the links `old` had and `list` gives up: (t, w), w's
    /// list seen linking to t.
    pub fn proofs_of_drops(&self, old: &[NodeId], list: &[NodeId]) -> Vec<(NodeId, NodeId)> {
        let mut out: Vec<(NodeId, NodeId)> = Vec::new();
        for &(t, w) in &self.proofs {
            if old.contains(&t) && !list.contains(&t) && list.contains(&w) && !out.iter().any(|p| p.0 == t) {
                out.push((t, w));
            }
        }
        out
    }
}

/// Whether prunings' proofs still hold once their lists are written: two
/// prunings at once may each drop a link relying on the other's list as
/// it was (node -> w -> t while w's pruning drops w -> t relying on
/// node -> t). Each writes, then reads the lists its proofs went through
/// (a full fence between: of two such prunings, at least one sees the
/// other's write; the read may come any time after the write, so the
/// proofs of several prunings read each list once). `proofs` are
/// (t, w, node): node's list dropped t, w's list was seen linking to t.
/// Returns the (t, node) whose t w's list no longer links to, for the
/// caller to rescue.
pub fn broken_proofs<S: GraphStore + ?Sized>(store: &mut S, proofs: &[(NodeId, NodeId, NodeId)]) -> Vec<(NodeId, NodeId)> {
    if proofs.is_empty() {
        return Vec::new();
    }
    std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    let mut by_list: Vec<(NodeId, NodeId, NodeId)> = proofs.to_vec();
    by_list.sort_unstable_by_key(|p| p.1);
    let mut out: Vec<(NodeId, NodeId)> = Vec::new();
    let mut list = Vec::new();
    for group in by_list.chunk_by(|a, b| a.1 == b.1) {
        let read = store.read_list(group[0].1, 0, &mut list);
        for &(t, _, node) in group {
            if store.is_live(t) && !(read && list.contains(&t)) && !out.iter().any(|o| o.0 == t) {
                out.push((t, node));
            }
        }
    }
    out
}
