//! `search_layer` (the paper's Algorithm 2) with scratch space that a caller
//! keeps across searches, so a search allocates nothing once warmed up.

use super::{NodeId, Source};
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// An element and its distance to the query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// Distance to the query (smaller is closer).
    pub dist: f32,
    /// The element.
    pub id: NodeId,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.dist.total_cmp(&other.dist).then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Hasher for 64-bit ids: MurmurHash3's 64-bit finaliser, so every input
/// bit reaches the low bits hash tables index by (disk ids differ mostly in
/// their middle bits: block << 16 | offset).
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64((self.0 << 8) | *b as u64);
        }
    }
    fn write_u64(&mut self, v: u64) {
        let mut z = v ^ self.0.rotate_left(31);
        z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        z = (z ^ (z >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        self.0 = z ^ (z >> 33);
    }
}

/// Visited elements: a generation-stamped array for dense ids (in-memory
/// graphs), a hash set otherwise (item pointers on disk).
pub enum Visited {
    /// ids < marks.len(); an id is visited when its mark equals `epoch`.
    Dense { marks: Vec<u32>, epoch: u32 },
    /// Sparse ids.
    Hashed(HashSet<NodeId, BuildHasherDefault<IdHasher>>),
}

impl Visited {
    fn clear(&mut self) {
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
            Visited::Dense { marks, epoch } => {
                let m = &mut marks[id as usize];
                if *m == *epoch {
                    false
                } else {
                    *m = *epoch;
                    true
                }
            }
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
        Self::with(Visited::Hashed(HashSet::default()))
    }

    fn with(visited: Visited) -> Self {
        Scratch {
            visited,
            candidates: BinaryHeap::new(),
            results: BinaryHeap::new(),
            neighbor_buf: Vec::new(),
            found: Vec::new(),
        }
    }
}

/// Best-first search of one layer from `entries` keeping the `ef` closest
/// elements; leaves them in `scratch.found`, nearest first. `keep` filters
/// which elements may enter the result (all are still traversed).
pub fn search_layer<S: Source>(
    src: &mut S,
    entries: &[Candidate],
    ef: usize,
    layer: usize,
    scratch: &mut Scratch,
    keep: &mut dyn FnMut(NodeId) -> bool,
) {
    let ef = ef.max(1);
    scratch.visited.clear();
    scratch.candidates.clear();
    scratch.results.clear();
    for &e in entries {
        if scratch.visited.insert(e.id) {
            scratch.candidates.push(Reverse(e));
            if keep(e.id) {
                scratch.results.push(e);
            }
        }
    }
    while scratch.results.len() > ef {
        scratch.results.pop();
    }
    while let Some(Reverse(c)) = scratch.candidates.pop() {
        if scratch.results.len() >= ef {
            if let Some(worst) = scratch.results.peek() {
                if c.dist > worst.dist {
                    break;
                }
            }
        }
        scratch.neighbor_buf.clear();
        src.neighbors(c.id, layer, &mut scratch.neighbor_buf);
        for i in 0..scratch.neighbor_buf.len() {
            let id = scratch.neighbor_buf[i];
            if !scratch.visited.insert(id) {
                continue;
            }
            let dist = src.distance(id);
            let full = scratch.results.len() >= ef;
            if full && scratch.results.peek().is_some_and(|w| dist >= w.dist) {
                continue;
            }
            let cand = Candidate { dist, id };
            scratch.candidates.push(Reverse(cand));
            if keep(id) {
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
