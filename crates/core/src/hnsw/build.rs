//! The in-memory graph used by `CREATE INDEX` (and by tests): vectors in one
//! flat array, neighbour lists behind per-element mutexes so rayon workers
//! insert in parallel (the hnswlib scheme: no lock is held while another is
//! taken, so there is no lock order to get wrong).

use super::search::{search_layer, Candidate, Scratch};
use super::select::select_neighbors;

/// Extra links a list may hold during the build before it is pruned.
const SLACK: usize = 8;
use super::{greedy_descent, NodeId, Params, Source};
use crate::distance::index_distance;
use crate::rng::Rng;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::Duration;

/// A graph whose elements are numbered `0..len`.
pub struct MemGraph {
    /// Build parameters.
    pub params: Params,
    /// Vector length.
    pub dim: usize,
    vectors: Vec<f32>,
    levels: Vec<u8>,
    links: Vec<Mutex<Vec<Vec<u32>>>>,
    entry: RwLock<Option<(u32, usize)>>,
    raise_lock: Mutex<()>,
}

/// Why a build did not finish.
#[derive(Debug, PartialEq, Eq)]
pub enum BuildError {
    /// `poll` asked to stop.
    Cancelled,
    /// A worker panicked (a bug); the graph is incomplete.
    WorkerFailed,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking worker poisons nothing we rely on: lists stay valid.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl MemGraph {
    /// A graph over `vectors` (len = n * dim) with random levels from `seed`;
    /// nothing is linked until [`MemGraph::build`].
    pub fn new(params: Params, dim: usize, vectors: Vec<f32>, seed: u64) -> Self {
        let n = vectors.len() / dim.max(1);
        let mut rng = Rng::new(seed);
        let levels: Vec<u8> = (0..n).map(|_| params.level_for(1.0 - rng.uniform()) as u8).collect();
        let links = levels.iter().map(|&l| Mutex::new(vec![Vec::new(); l as usize + 1])).collect();
        MemGraph { params, dim, vectors, levels, links, entry: RwLock::new(None), raise_lock: Mutex::new(()) }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Element `i`'s vector.
    #[inline]
    pub fn vector(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }

    /// Element `i`'s top layer.
    pub fn level(&self, i: usize) -> usize {
        self.levels[i] as usize
    }

    /// A copy of element `i`'s neighbours at `layer`.
    pub fn neighbors(&self, i: usize, layer: usize) -> Vec<u32> {
        lock(&self.links[i]).get(layer).cloned().unwrap_or_default()
    }

    /// Entry element and its level.
    pub fn entry(&self) -> Option<(u32, usize)> {
        *self.entry.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Approximate heap bytes per element (vector, links, bookkeeping), used
    /// to hold the build to `maintenance_work_mem`.
    pub fn bytes_per_element(dim: usize, m: usize) -> usize {
        4 * dim + 4 * (2 * m + m / 8 + 2) + 96
    }

    #[inline]
    fn dist(&self, a: usize, b: usize) -> f32 {
        index_distance(self.params.metric, self.vector(a), self.vector(b))
    }

    /// Links every element, using `threads` rayon workers. `poll` runs on the
    /// calling thread every few milliseconds with the number of elements
    /// inserted; returning false cancels the build. Workers only compute.
    pub fn build(&self, threads: usize, poll: &mut dyn FnMut(usize) -> bool) -> Result<(), BuildError> {
        let n = self.len();
        if n == 0 {
            return Ok(());
        }
        *self.entry.write().unwrap_or_else(|e| e.into_inner()) = Some((0, self.level(0)));
        let done = AtomicUsize::new(1);
        let cancel = AtomicBool::new(false);
        let pool =
            rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build().map_err(|_| BuildError::WorkerFailed)?;
        let joined = std::thread::scope(|s| {
            let worker = s.spawn(|| {
                // Rayon splits the range: a second worker would start in the
                // middle while the graph is nearly empty and give its first
                // elements only a handful of neighbours. Seed sequentially.
                let seed = n.min(2 * self.params.ef_construction + 1);
                let mut scratch = Scratch::dense(n);
                let (mut sel, mut entries) = (Vec::new(), Vec::new());
                for i in 1..seed {
                    if cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    self.insert(i, &mut scratch, &mut sel, &mut entries);
                    done.fetch_add(1, Ordering::Relaxed);
                }
                drop(scratch);
                pool.install(|| {
                    (seed..n).into_par_iter().with_min_len(64).for_each_init(
                        || (Scratch::dense(n), Vec::new(), Vec::new()),
                        |(scratch, sel, entries), i| {
                            if cancel.load(Ordering::Relaxed) {
                                return;
                            }
                            self.insert(i, scratch, sel, entries);
                            done.fetch_add(1, Ordering::Relaxed);
                        },
                    )
                });
                if !cancel.load(Ordering::Relaxed) {
                    pool.install(|| self.prune_all());
                    self.connect_unreachable();
                }
            });
            while !worker.is_finished() {
                if !poll(done.load(Ordering::Relaxed)) {
                    cancel.store(true, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            worker.join()
        });
        poll(done.load(Ordering::Relaxed));
        if joined.is_err() {
            Err(BuildError::WorkerFailed)
        } else if cancel.load(Ordering::Relaxed) {
            Err(BuildError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Inserts element `q` (the paper's Algorithm 1).
    fn insert(&self, q: usize, scratch: &mut Scratch, sel: &mut Vec<Candidate>, entries: &mut Vec<Candidate>) {
        let level = self.level(q);
        let Some((_, top)) = self.entry() else { return };
        // Raising the entry point is rare; serialise those inserts.
        let _raise = (level > top).then(|| lock(&self.raise_lock));
        let Some((ep, top)) = self.entry() else { return };
        // other workers may already link to q: q must not find itself
        let mut src = MemSource { graph: self, query: self.vector(q), exclude: Some(q as NodeId) };
        let mut cur = Candidate { dist: src.distance(ep as NodeId), id: ep as NodeId };
        if top > level {
            cur = greedy_descent(&mut src, cur, top, level, scratch);
        }
        entries.clear();
        entries.push(cur);
        // the descent may end on an element whose lower lists another worker
        // has not written yet; the entry point always has them
        if cur.id != ep as NodeId {
            entries.push(Candidate { dist: src.distance(ep as NodeId), id: ep as NodeId });
        }
        let dedup = self.params.metric.zero_on_identical();
        for layer in (0..=level.min(top)).rev() {
            search_layer(&mut src, entries, self.params.ef_construction, layer, scratch, &mut |id| id != q as NodeId);
            let m = self.params.max_neighbors(layer);
            select_neighbors(&scratch.found, m, dedup, &mut |a, b| self.dist(a as usize, b as usize), sel);
            {
                // keep links other workers added to q meanwhile
                let mut links = lock(&self.links[q]);
                let mut list: Vec<u32> = sel.iter().map(|c| c.id as u32).collect();
                for x in links[layer].drain(..) {
                    if !list.contains(&x) {
                        list.push(x);
                    }
                }
                if list.len() >= m + SLACK {
                    self.prune(q, layer, &mut list);
                }
                links[layer] = list;
            }
            for c in sel.iter() {
                self.add_link(c.id as usize, q, c.dist, layer);
            }
            entries.clear();
            entries.extend_from_slice(&scratch.found);
        }
        if level > top {
            *self.entry.write().unwrap_or_else(|e| e.into_inner()) = Some((q as u32, level));
        }
    }

    /// Adds the back-link `n -> q`, pruning `n`'s list with the heuristic
    /// when it is full.
    fn add_link(&self, n: usize, q: usize, dist: f32, layer: usize) {
        let m = self.params.max_neighbors(layer);
        let mut links = lock(&self.links[n]);
        let list = &mut links[layer];
        if n == q || list.contains(&(q as u32)) {
            return;
        }
        if list.len() < m {
            list.push(q as u32);
            return;
        }
        // Lists may overshoot by SLACK during the build; pruning the batch
        // with the exact heuristic then costs a fraction per link.
        list.push(q as u32);
        if list.len() >= m + SLACK {
            self.prune(n, layer, list);
        }
        let _ = dist;
    }

    /// Cuts `list` (element `n`'s, at `layer`) to capacity with the heuristic.
    fn prune(&self, n: usize, layer: usize, list: &mut Vec<u32>) {
        let m = self.params.max_neighbors(layer);
        let mut cands: Vec<Candidate> =
            list.iter().map(|&x| Candidate { dist: self.dist(n, x as usize), id: x as NodeId }).collect();
        cands.sort();
        let mut kept = Vec::with_capacity(m);
        let dedup = self.params.metric.zero_on_identical();
        select_neighbors(&cands, m, dedup, &mut |a, b| self.dist(a as usize, b as usize), &mut kept);
        *list = kept.iter().map(|c| c.id as u32).collect();
    }

    /// Final pass: every list over capacity is pruned (in parallel).
    fn prune_all(&self) {
        (0..self.len()).into_par_iter().for_each(|n| {
            let mut links = lock(&self.links[n]);
            for layer in 0..links.len() {
                if links[layer].len() > self.params.max_neighbors(layer) {
                    let mut list = std::mem::take(&mut links[layer]);
                    self.prune(n, layer, &mut list);
                    links[layer] = list;
                }
            }
        });
    }

    /// Layer 0 must let a search reach every element: elements that lost
    /// all incoming links to pruning, or kept only links from far away, are
    /// linked from their nearest reachable neighbour, in place of that
    /// neighbour's farthest link whose target has other incoming links.
    fn connect_unreachable(&self) {
        let Some((ep, _)) = self.entry() else { return };
        let n = self.len();
        let mut indegree = vec![0u32; n];
        for i in 0..n {
            for &x in lock(&self.links[i])[0].iter() {
                indegree[x as usize] += 1;
            }
        }
        let mut reached = vec![false; n];
        let mut stack = vec![ep as usize];
        reached[ep as usize] = true;
        let mark = |start: usize, reached: &mut Vec<bool>, stack: &mut Vec<usize>| {
            stack.push(start);
            while let Some(x) = stack.pop() {
                for &y in lock(&self.links[x])[0].iter() {
                    if !std::mem::replace(&mut reached[y as usize], true) {
                        stack.push(y as usize);
                    }
                }
            }
        };
        stack.clear();
        mark(ep as usize, &mut reached, &mut stack);
        let mut progress = true;
        let mut passes = 0;
        while progress && passes < 3 {
            progress = false;
            passes += 1;
            for u in 0..n {
                let outs = lock(&self.links[u])[0].clone();
                // also relink elements none of whose own neighbours links
                // back: only far elements point at them, which a search
                // rarely expands
                let reciprocal = outs.iter().any(|&o| lock(&self.links[o as usize])[0].contains(&(u as u32)));
                if reached[u] && (reciprocal || outs.is_empty() || u == ep as usize) {
                    continue;
                }
                let Some(&from) = outs.iter().find(|&&x| reached[x as usize]) else { continue };
                let from = from as usize;
                let mut links = lock(&self.links[from]);
                let list = &mut links[0];
                if list.contains(&(u as u32)) {
                    continue;
                }
                if list.len() < self.params.max_neighbors(0) {
                    list.push(u as u32);
                } else {
                    // replace the farthest link whose target stays linked
                    let victim = (0..list.len())
                        .rev()
                        .find(|&k| indegree[list[k] as usize] > 1)
                        .unwrap_or(list.len() - 1);
                    indegree[list[victim] as usize] -= 1;
                    list[victim] = u as u32;
                }
                drop(links);
                indegree[u] += 1;
                reached[u] = true;
                mark(u, &mut reached, &mut stack);
                progress = true;
            }
        }
    }

    /// The `k` nearest elements to `query` with candidate list `ef`.
    pub fn search(&self, query: &[f32], k: usize, ef: usize, scratch: &mut Scratch) -> Vec<Candidate> {
        let Some((ep, top)) = self.entry() else { return Vec::new() };
        let mut src = MemSource { graph: self, query, exclude: None };
        let start = Candidate { dist: src.distance(ep as NodeId), id: ep as NodeId };
        let cur = greedy_descent(&mut src, start, top, 0, scratch);
        search_layer(&mut src, &[cur], ef.max(k), 0, scratch, &mut |_| true);
        scratch.found.iter().take(k).copied().collect()
    }
}

/// Search over a [`MemGraph`] for one query.
pub struct MemSource<'a> {
    graph: &'a MemGraph,
    query: &'a [f32],
    exclude: Option<NodeId>,
}

impl Source for MemSource<'_> {
    #[inline]
    fn distance(&mut self, id: NodeId) -> f32 {
        if self.exclude == Some(id) {
            return f32::INFINITY;
        }
        index_distance(self.graph.params.metric, self.query, self.graph.vector(id as usize))
    }

    fn neighbors(&mut self, id: NodeId, layer: usize, out: &mut Vec<NodeId>) {
        if let Some(list) = lock(&self.graph.links[id as usize]).get(layer) {
            out.extend(list.iter().map(|&x| x as NodeId));
        }
    }
}
