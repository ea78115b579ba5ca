//! The in-memory graph used by `CREATE INDEX` and by tests. Values live in
//! chunked storage (compared through their [`Space`]; large float4 values
//! also as 8-bit or half-precision codes the inserts' searches run on, see
//! [`super::codes`]), neighbour lists in [`super::lists`] (layer 0 flat,
//! read without locks; never two lists locked at once), and the build runs the shared insert algorithm on plain
//! worker threads that only compute. The build is resumable: the calling
//! thread polls between time slices and may pause it (to let the backend
//! process interrupts) and resume it later; workers take elements in
//! chunks from a shared cursor, so a pause leaves no gaps.

use super::codes::{Codes, MIN_DIMS};
use super::dedup::Values;
use super::insert::{find_neighbors, link_back, prune, LinkPolicy};
use super::lists::Lists;
use super::reach::{connect, Adjacency};
use super::repair::{needs_repair, repair_element, repair_local, Repair};
use super::memstore::MemStore;
use super::search::{greedy_descent, search_layer, Candidate, Scratch};
use super::{GraphStore, NodeId, Params, Source};
use crate::prepared::Prepared;
use crate::space::Space;
use crate::rng::Rng;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::Duration;

/// Fewest extra links a list may hold during the build before it is
/// pruned; layer 0 gets as many more as fill its last cache line (see
/// [`Lists::slots`]): a list then fills up, and is pruned, less often.
const SLACK: usize = 8;
/// Elements a worker takes from the cursor at a time.
const CHUNK: usize = 16;

/// Why a build did not finish.
#[derive(Debug, PartialEq, Eq)]
pub enum BuildError {
    /// `poll` asked to pause; calling `build` again resumes.
    Paused,
    /// A worker panicked (a bug); the graph is incomplete.
    WorkerFailed,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking worker poisons nothing we rely on: lists stay valid.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A graph over vectors numbered `0..n`; only the `members` are linked.
pub struct MemGraph {
    /// Build parameters.
    pub params: Params,
    /// Element type and metric.
    pub space: Space,
    values: Values,
    /// Codes the build's inserts search on (see [`super::codes`]).
    pub(super) codes: Option<Codes>,
    pub(super) levels: Vec<u8>,
    members: Vec<u32>,
    pub(super) links: Lists,
    pub(super) deleted: Vec<AtomicBool>,
    pub(super) entry: RwLock<Option<(u32, usize)>>,
    raise_lock: Mutex<()>,
    /// Next member (index into `members`) to insert.
    cursor: AtomicUsize,
    /// Next member whose lists the final prune cuts to capacity.
    prune_cursor: AtomicUsize,
    finished: AtomicBool,
}

impl MemGraph {
    /// A graph over `values` linking every value, with levels from `seed`.
    pub fn new(params: Params, space: Space, values: Values, seed: u64) -> Self {
        let members = (0..values.len() as u32).collect();
        Self::with_members(params, space, values, seed, members)
    }

    /// A graph over float4 rows (`flat.len() % dim == 0`) in `params.metric`.
    pub fn from_f32(params: Params, dim: usize, flat: &[f32], seed: u64) -> Self {
        Self::new(params, Space::F32 { metric: params.metric, dims: dim }, Values::from_f32(dim, flat), seed)
    }

    /// A graph over `values` linking only `members` (in that order; the
    /// others, e.g. duplicates of a member, stay out of the graph).
    pub fn with_members(params: Params, space: Space, values: Values, seed: u64, members: Vec<u32>) -> Self {
        let n = values.len();
        let mut rng = Rng::new(seed);
        let levels: Vec<u8> = (0..n).map(|_| params.level_for(1.0 - rng.uniform()) as u8).collect();
        let slack = Self::slack(params.m);
        let links = Lists::new(&levels, params.max_neighbors(0) + slack, params.max_neighbors(1) + slack);
        let deleted = (0..n).map(|_| AtomicBool::new(false)).collect();
        let big = matches!(space, Space::F32 { dims, .. } if dims >= MIN_DIMS);
        let codes = if big { Codes::encode(space, &values) } else { None };
        MemGraph {
            params,
            space,
            values,
            codes,
            levels,
            members,
            links,
            deleted,
            entry: RwLock::new(None),
            raise_lock: Mutex::new(()),
            cursor: AtomicUsize::new(0),
            prune_cursor: AtomicUsize::new(0),
            finished: AtomicBool::new(false),
        }
    }

    /// Whether the build's inserts search on codes (float4 of at least
    /// [`MIN_DIMS`] dimensions, unless turned off).
    pub fn uses_codes(&self) -> bool {
        self.codes.is_some()
    }

    /// Turns searching on codes on or off for the inserts still to come
    /// (on only where [`Codes::supports`] allows); returns whether on.
    pub fn set_codes(&mut self, on: bool) -> bool {
        self.codes = if on { Codes::encode(self.space, &self.values) } else { None };
        self.codes.is_some()
    }

    /// Heap bytes per element of the codes a build of `space` searches
    /// on (0 if none), to hold a build to `maintenance_work_mem`.
    pub fn code_bytes_per_element(space: Space) -> usize {
        match space {
            Space::F32 { dims, .. } if dims >= MIN_DIMS => Codes::bytes_per_element(space),
            _ => 0,
        }
    }

    /// Number of vectors (members or not).
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// True when there are no vectors.
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// The linked elements, in insertion order.
    pub fn members(&self) -> &[u32] {
        &self.members
    }

    /// Element `i`'s stored value.
    #[inline]
    pub fn value(&self, i: usize) -> &[u8] {
        self.values.get(i)
    }

    /// Asks the CPU to start loading where element `i`'s value lies.
    #[inline]
    pub(super) fn values_prefetch_place(&self, i: usize) {
        self.values.prefetch_place(i);
    }

    /// Element `i`'s top layer.
    pub fn level(&self, i: usize) -> usize {
        self.levels[i] as usize
    }

    /// A copy of element `i`'s neighbours on `layer`.
    pub fn neighbors(&self, i: usize, layer: usize) -> Vec<u32> {
        let mut out = Vec::new();
        self.links.read_into(i, layer, &mut out);
        out
    }

    /// Entry element and its level.
    pub fn entry(&self) -> Option<(u32, usize)> {
        *self.entry.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Approximate heap bytes per element besides its vector (links,
    /// level, locks), to hold a build to `maintenance_work_mem`.
    pub fn link_bytes_per_element(m: usize) -> usize {
        // layer 0's lines, the upper layers, the deleted flag and level.
        // An element has 1 / (m - 1) upper layers on average (level k at
        // odds m^-k; 1 at m = 2, not 1 / m), each a list with room for
        // m + slack links in a heap block of its own (malloc: an 8-byte
        // header, 16-byte steps) and 24 bytes in the element's vec of
        // lists (a block more, allocator overhead)
        let slack = Self::slack(m);
        let list = (4 * (m + slack) + 8).div_ceil(16) * 16;
        Lists::bytes_per_element(2 * m + slack) + (list + 24 + 16).div_ceil(m.max(2) - 1) + 2
    }

    /// Heap bytes per element a build of `space` with `m` takes on
    /// `threads` threads at its peak, besides the values: what it charges
    /// `maintenance_work_mem` for the graph itself.
    pub fn build_bytes_per_element(space: Space, m: usize, threads: usize) -> usize {
        // inserting: codes and every thread's visited marks; then the
        // final pass: its snapshot and one thread's marks (the codes gone)
        let inserting = Self::code_bytes_per_element(space) + 4 * threads;
        let connecting = Adjacency::bytes(1, m, false) + 4;
        Self::link_bytes_per_element(m) + inserting.max(connecting)
    }

    /// Extra links a list may hold during a build with `m` before it is
    /// pruned.
    pub(super) fn slack(m: usize) -> usize {
        Lists::slots(2 * m + SLACK) - 2 * m
    }

    /// Marks element `i` deleted: still traversed, never a result or a
    /// new link (what VACUUM does before repairing).
    pub fn mark_deleted(&self, i: usize) {
        self.deleted[i].store(true, Ordering::Relaxed);
    }

    /// A search handle bound to `query` (in the space's query form).
    pub fn store<'a>(&'a self, query: &'a [u8], exclude: Option<u32>) -> MemStore<'a> {
        self.store_with(query, exclude, false)
    }

    /// The handle the build's inserts and prunes use: their sparse L2 and
    /// L1 distances may be taken apart (see [`crate::prepared`]).
    fn build_store<'a>(&'a self, query: &'a [u8], exclude: Option<u32>) -> MemStore<'a> {
        self.store_with(query, exclude, true)
    }

    fn store_with<'a>(&'a self, query: &'a [u8], exclude: Option<u32>, build: bool) -> MemStore<'a> {
        let mut prepared = Prepared::default();
        if !query.is_empty() {
            prepared.load_with(self.space, query, build);
        }
        MemStore { graph: self, query, exclude, code_query: None, prepared, build, left: None }
    }

    /// Links every member, using `threads` worker threads. `poll` runs on
    /// the calling thread every few milliseconds with the number of members
    /// inserted; returning false pauses the build, which then returns
    /// [`BuildError::Paused`] once every worker has stopped (calling
    /// `build` again resumes). Workers only compute.
    pub fn build(&mut self, threads: usize, poll: &mut dyn FnMut(usize) -> bool) -> Result<(), BuildError> {
        if self.members.is_empty() || self.finished.load(Ordering::Relaxed) {
            return Ok(());
        }
        {
            let mut e = self.entry.write().unwrap_or_else(|e| e.into_inner());
            if e.is_none() {
                let first = self.members[0];
                *e = Some((first, self.level(first as usize)));
                self.cursor.store(1, Ordering::Relaxed);
            }
        }
        // Insert the first elements alone: a second worker starting while
        // the graph is nearly empty would give its elements few neighbours.
        let seed = self.members.len().min(2 * self.params.ef_construction + 1);
        if self.cursor.load(Ordering::Relaxed) < seed {
            self.run(1, poll, &|g, stop| g.insert_range(seed, 1, stop))?;
        }
        self.run(threads.max(1), poll, &|g, stop| g.insert_range(g.members.len(), CHUNK, stop))?;
        self.run(threads.max(1), poll, &|g, stop| g.prune_all(stop))?;
        // the inserts are done: their codes go, and the final pass's
        // snapshot of layer 0 takes their room (see
        // [`MemGraph::build_bytes_per_element`]); later inserts search
        // exactly
        self.codes = None;
        self.connect_all();
        self.finished.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Runs `work` on `threads` scoped threads while the caller polls.
    fn run(
        &self,
        threads: usize,
        poll: &mut dyn FnMut(usize) -> bool,
        work: &(dyn Fn(&MemGraph, &AtomicBool) + Sync),
    ) -> Result<(), BuildError> {
        let stop = AtomicBool::new(false);
        let joined = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(|| work(self, &stop))).collect();
            while !handles.iter().all(|h| h.is_finished()) {
                if !stop.load(Ordering::Relaxed) && !poll(self.inserted()) {
                    stop.store(true, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            handles.into_iter().map(|h| h.join()).collect::<Vec<_>>()
        });
        if joined.iter().any(Result::is_err) {
            return Err(BuildError::WorkerFailed);
        }
        if stop.load(Ordering::Relaxed) {
            return Err(BuildError::Paused);
        }
        Ok(())
    }

    /// Members inserted so far.
    pub fn inserted(&self) -> usize {
        self.cursor.load(Ordering::Relaxed).min(self.members.len())
    }

    /// Takes chunks of members from the cursor until `end` or `stop`.
    fn insert_range(&self, end: usize, chunk: usize, stop: &AtomicBool) {
        let mut scratch = Scratch::dense(self.len());
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let start = self.cursor.fetch_add(chunk, Ordering::Relaxed);
            if start >= end {
                self.cursor.fetch_min(end, Ordering::Relaxed);
                return;
            }
            for k in start..(start + chunk).min(end) {
                self.insert(self.members[k] as usize, &mut scratch);
            }
        }
    }

    /// Inserts element `q` with the shared algorithm.
    fn insert(&self, q: usize, scratch: &mut Scratch) {
        self.insert_with(q, &LinkPolicy { slack: Self::slack(self.params.m), rescue_budget: 0 }, true, scratch);
    }

    /// Inserts vector `q` (not a member linked by `build`) after the build,
    /// exactly as the on-disk insert does: fixed-capacity lists, rescue of
    /// elements pruning orphaned, and no final reachability pass.
    pub fn insert_late(&self, q: usize, scratch: &mut Scratch) {
        if self.entry().is_none() {
            *self.entry.write().unwrap_or_else(|e| e.into_inner()) = Some((q as u32, self.level(q)));
            return;
        }
        self.insert_with(q, &LinkPolicy::DISK, false, scratch);
    }

    /// Inserts `q`; `build`: with the build's distances (see [`Self::build_store`]).
    fn insert_with(&self, q: usize, policy: &LinkPolicy, build: bool, scratch: &mut Scratch) {
        let level = self.level(q);
        let Some((_, top)) = self.entry() else { return };
        // Raising the entry point is rare; serialise those inserts.
        let _raise = (level > top).then(|| lock(&self.raise_lock));
        let Some((ep, top)) = self.entry() else { return };
        let query = self.space.query_of_value(self.value(q));
        let code_query = self.codes.as_ref().map(|c| c.query(self.value(q)));
        let mut store = self.store_with(&query, Some(q as u32), build);
        store.code_query = code_query.as_deref();
        let found = find_neighbors(&mut store, (ep as NodeId, top), level, &self.params, scratch);
        {
            // nobody links to q before its back-links exist, so its own
            // lists can be written directly
            for (layer, sel) in found.selected.iter().enumerate() {
                let ids: Vec<u32> = sel.iter().map(|c| c.id as u32).collect();
                self.links.set(q, layer, &ids);
            }
        }
        link_back(&mut store, q as NodeId, &found.selected, found.candidates.first().map_or(&[], Vec::as_slice), &self.params, policy);
        if level > top {
            *self.entry.write().unwrap_or_else(|e| e.into_inner()) = Some((q as u32, level));
        }
    }

    /// Cuts every list over capacity with the heuristic (lists grow past
    /// it by the build's slack), taking chunks of members from a cursor.
    fn prune_all(&self, stop: &AtomicBool) {
        let n = self.members.len();
        let mut store = self.build_store(&[], None);
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let start = self.prune_cursor.fetch_add(CHUNK * 4, Ordering::Relaxed);
            if start >= n {
                return;
            }
            for k in start..(start + CHUNK * 4).min(n) {
                let i = self.members[k] as usize;
                let layers = self.links.layers(i);
                for layer in 0..layers {
                    let cap = self.params.max_neighbors(layer);
                    let mut list: Vec<u32> = Vec::new();
                    self.links.read_into(i, layer, &mut list);
                    if list.len() <= cap {
                        continue;
                    }
                    let ids: Vec<NodeId> = list.iter().map(|&x| x as NodeId).collect();
                    store.prepare(&ids);
                    let cands: Vec<Candidate> = list
                        .iter()
                        .map(|&x| Candidate { dist: store.between(i as NodeId, x as NodeId), id: x as NodeId })
                        .collect();
                    let kept = prune(&mut store, &self.params, cap, cands);
                    let kept: Vec<u32> = kept.iter().map(|c| c.id as u32).collect();
                    self.links.set(i, layer, &kept);
                }
            }
        }
    }

    /// Final pass: links weakly linked elements (see [`super::reach`]).
    fn connect_all(&self) {
        let Some((ep, _)) = self.entry() else { return };
        // every vector gets its own index (ids stay dense, no map). In the
        // graph: members and rows inserted later (`insert_late`), which
        // have links; the others (duplicates) are dead and have none
        let n = self.len();
        let mut adj = Adjacency::new(n, self.params.max_neighbors(0));
        for i in 0..n {
            adj.add(i as NodeId, false);
        }
        let mut member = vec![false; n];
        for &i in &self.members {
            member[i as usize] = true;
        }
        let mut list: Vec<NodeId> = Vec::new();
        for i in 0..n {
            list.clear();
            list.extend(self.neighbors(i, 0).into_iter().map(NodeId::from));
            if member[i] || !list.is_empty() || i == ep as usize {
                adj.live[i] = !self.deleted[i].load(Ordering::Relaxed);
                adj.set_list(i as u32, &list);
            }
        }
        drop(member);
        let mut store = self.store(&[], None);
        let params = self.params;
        let mut scratch = Scratch::dense(self.len());
        connect(&mut store, &mut adj, ep as NodeId, &params, &mut |_, id| self.relink(id as usize, &mut scratch), &mut || true);
    }

    /// Searches element `i`'s neighbours again from the entry point, links
    /// it to them (repair of an element without usable links) and returns
    /// them, nearest first.
    pub fn relink(&self, i: usize, scratch: &mut Scratch) -> Vec<Candidate> {
        let Some((ep, top)) = self.entry() else { return Vec::new() };
        let query = self.space.query_of_value(self.value(i));
        let mut store = self.store(&query, Some(i as u32));
        let policy = LinkPolicy { slack: 0, rescue_budget: 8 };
        let level = self.level(i).min(top);
        let removed = |x: NodeId| self.deleted.get(x as usize).is_some_and(|d| d.load(Ordering::Relaxed));
        repair_element(&mut store, i as NodeId, level, (ep as NodeId, top), &self.params, &policy, scratch, &removed)
    }

    /// What VACUUM does, in memory: moves the entry off a deleted element,
    /// repairs every live element that needs it, drops deleted elements'
    /// lists and links the weakly linked. Returns how many were repaired.
    pub fn repair_deleted(&self) -> usize {
        let removed = |x: NodeId| self.deleted.get(x as usize).is_some_and(|d| d.load(Ordering::Relaxed));
        let live: Vec<u32> = self.members.iter().copied().filter(|&i| !removed(i as NodeId)).collect();
        if let Some((ep, _)) = self.entry() {
            if removed(ep as NodeId) {
                let best = live.iter().copied().max_by_key(|&i| (self.level(i as usize), std::cmp::Reverse(i)));
                *self.entry.write().unwrap_or_else(|e| e.into_inner()) = best.map(|i| (i, self.level(i as usize)));
            }
        }
        let Some((ep, top)) = self.entry() else { return 0 };
        let mut scratch = Scratch::dense(self.len());
        let policy = LinkPolicy { slack: 0, rescue_budget: 8 };
        let mut repaired = 0;
        for &i in &live {
            let mut probe = self.store(&[], None);
            let level = self.level(i as usize).min(top);
            match needs_repair(&mut probe, i as NodeId, level, &self.params, &removed) {
                Repair::None => continue,
                Repair::Local => {
                    repair_local(&mut probe, i as NodeId, level, &self.params, &removed);
                }
                Repair::Full => {
                    let query = self.space.query_of_value(self.value(i as usize));
                    let mut store = self.store(&query, Some(i));
                    repair_element(&mut store, i as NodeId, level, (ep as NodeId, top), &self.params, &policy, &mut scratch, &removed);
                }
            }
            repaired += 1;
        }
        for &i in &self.members {
            if removed(i as NodeId) {
                for layer in 0..self.links.layers(i as usize) {
                    self.links.set(i as usize, layer, &[]);
                }
            }
        }
        self.finished.store(false, Ordering::Relaxed);
        self.connect_all();
        self.finished.store(true, Ordering::Relaxed);
        repaired
    }

    /// The `k` nearest live elements to `query` (query form) with candidate
    /// list `ef`.
    pub fn search(&self, query: &[u8], k: usize, ef: usize, scratch: &mut Scratch) -> Vec<Candidate> {
        let Some((ep, top)) = self.entry() else { return Vec::new() };
        let mut src = self.store(query, None);
        let start = Candidate { dist: src.distance(ep as NodeId, top, f64::INFINITY), id: ep as NodeId };
        let cur = greedy_descent(&mut src, start, top, 0, scratch);
        search_layer(&mut src, &[cur], ef.max(k), 0, scratch);
        scratch.found.iter().take(k).copied().collect()
    }
}
