//! `ambuild`: scan the heap, build the graph in memory with rayon workers
//! (the backend thread only polls for interrupts and reports progress),
//! write the pages, WAL-log them. Past `maintenance_work_mem` the rest of
//! the rows go through the on-disk insert, as pgvector does.

use super::options::index_options;
use super::{index_dims, index_metric, prepare_vector};
use crate::hnsw::build::BuildError;
use crate::hnsw::{MemGraph, Params, Scratch};
use crate::storage::buffer::PageGuard;
use crate::storage::graph::{self, Meta};
use crate::storage::layout::*;
use crate::storage::pages;
use crate::rng::Rng;
use crate::types::Vector;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// Build sub-phases shown in `pg_stat_progress_create_index`.
const PHASE_LOAD: i64 = 2;
const PHASE_LINK: i64 = 3;
const PHASE_WRITE: i64 = 4;

/// Seed for element levels (fixed: builds are reproducible).
const LEVEL_SEED: u64 = 0x4853_4e57;

struct BuildState {
    index: pg_sys::Relation,
    params: Params,
    dims: usize,
    heap_tuples: f64,
    indexed: f64,
    vectors: Vec<f32>,
    tids: Vec<DiskTid>,
    max_elements: usize,
    flushed: bool,
    rng: Rng,
    scratch: Option<Scratch>,
}

fn progress(param: u32, value: i64) {
    // SAFETY: plain call; a no-op outside a progress-reporting command.
    unsafe { pg_sys::pgstat_progress_update_param(param as i32, value) }
}

/// `ambuildphasename`.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambuildphasename(phase: i64) -> *mut std::ffi::c_char {
    let name: &'static std::ffi::CStr = match phase {
        1 => c"initializing",
        PHASE_LOAD => c"loading tuples",
        PHASE_LINK => c"linking graph",
        PHASE_WRITE => c"writing pages",
        _ => return std::ptr::null_mut(),
    };
    name.as_ptr().cast_mut()
}

/// Parameters of the index being built, validated.
fn build_params(index: pg_sys::Relation) -> (Params, usize) {
    let (m, ef_construction) = index_options(index);
    if ef_construction < 2 * m {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "ef_construction must be greater than or equal to 2 * m"
        );
    }
    let dims = index_dims(index);
    let params = Params { m, ef_construction, metric: index_metric(index), max_level: max_level(m) };
    (params, dims)
}

/// `ambuild`.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambuild(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    info: *mut pg_sys::IndexInfo,
) -> *mut pg_sys::IndexBuildResult {
    let (params, dims) = build_params(index);
    // SAFETY: GUC globals read on the backend thread.
    let (mwm_kb, workers) = unsafe { (pg_sys::maintenance_work_mem, pg_sys::max_parallel_maintenance_workers) };
    let per = MemGraph::bytes_per_element(dims, params.m);
    let mut state = BuildState {
        index,
        params,
        dims,
        heap_tuples: 0.0,
        indexed: 0.0,
        vectors: Vec::new(),
        tids: Vec::new(),
        max_elements: ((mwm_kb as usize) * 1024 / per).max(1),
        flushed: false,
        rng: Rng::new(LEVEL_SEED),
        scratch: None,
    };
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_LOAD);
    // SAFETY: reltuples of an open heap relation.
    progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_TOTAL, unsafe { (*(*heap).rd_rel).reltuples.max(0.0) } as i64);
    // SAFETY: standard index build scan; the callback gets `state` back.
    let reltuples = unsafe {
        pg_sys::table_index_build_scan(
            heap,
            index,
            info,
            true,
            true,
            Some(build_callback),
            (&mut state as *mut BuildState).cast(),
            std::ptr::null_mut(),
        )
    };
    if !state.flushed {
        flush(&mut state, workers.max(0) as usize + 1);
    }
    // SAFETY: relpersistence of an open relation; log_newpage_range logs
    // every page we wrote (full images) when the index is WAL-logged.
    unsafe {
        if (*(*index).rd_rel).relpersistence == pg_sys::RELPERSISTENCE_PERMANENT as std::ffi::c_char {
            let n = pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::MAIN_FORKNUM);
            pg_sys::log_newpage_range(index, pg_sys::ForkNumber::MAIN_FORKNUM, 0, n, true);
        }
    }
    // SAFETY: palloc0'd result struct, filled and handed to Postgres.
    unsafe {
        let result = pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexBuildResult>()).cast::<pg_sys::IndexBuildResult>();
        (*result).heap_tuples = reltuples.max(state.heap_tuples);
        (*result).index_tuples = state.indexed;
        result
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn build_callback(
    _index: pg_sys::Relation,
    tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    _alive: bool,
    state: *mut std::ffi::c_void,
) {
    // SAFETY: `state` is the BuildState passed to table_index_build_scan.
    let state = unsafe { &mut *state.cast::<BuildState>() };
    state.heap_tuples += 1.0;
    // SAFETY: one indexed column: values[0]/isnull[0] are valid.
    if unsafe { *isnull } {
        return;
    }
    // SAFETY: a non-null datum of the indexed vector column.
    let v = unsafe { Vector::from_datum(*values) };
    if v.dim() != state.dims {
        crate::types::raise(crate::types::VectorError::ExpectedDims { expected: state.dims as i32, got: v.dim() as i32 }, None);
    }
    let Some(x) = prepare_vector(state.params.metric, v.as_slice()) else { return };
    // SAFETY: `tid` points at the heap tuple's item pointer.
    let t = unsafe { *tid };
    let heap_tid = DiskTid { hi: t.ip_blkid.bi_hi, lo: t.ip_blkid.bi_lo, offset: t.ip_posid };
    state.indexed += 1.0;
    if state.flushed {
        let level = state.params.level_for(1.0 - state.rng.uniform());
        let scratch = state.scratch.get_or_insert_with(Scratch::hashed);
        graph::insert(state.index, heap_tid, &x, level, scratch);
        progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, state.indexed as i64);
        return;
    }
    state.vectors.extend_from_slice(&x);
    state.tids.push(heap_tid);
    if state.tids.len() % 1000 == 0 {
        progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, state.tids.len() as i64);
    }
    if state.tids.len() >= state.max_elements {
        ereport!(
            NOTICE,
            PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
            format!("hnsw graph no longer fits into maintenance_work_mem after {} tuples", state.tids.len()),
            "Building will take significantly more time."
        );
        // SAFETY: GUC global read on the backend thread.
        let workers = unsafe { pg_sys::max_parallel_maintenance_workers };
        flush(state, workers.max(0) as usize + 1);
        state.flushed = true;
    }
}

/// Links the collected vectors in memory and writes the index pages.
fn flush(state: &mut BuildState, threads: usize) {
    let vectors = std::mem::take(&mut state.vectors);
    let tids = std::mem::take(&mut state.tids);
    let g = MemGraph::new(state.params, state.dims, vectors, LEVEL_SEED);
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_LINK);
    progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_TOTAL, g.len() as i64);
    let result = g.build(threads, &mut |done| {
        progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, done as i64);
        // SAFETY: reading the volatile interrupt flag set by signal handlers.
        unsafe { std::ptr::read_volatile(&raw const pg_sys::InterruptPending) == 0 }
    });
    match result {
        Ok(()) => {}
        Err(BuildError::Cancelled) => {
            // Workers have stopped; now let Postgres raise the cancel or die.
            pgrx::check_for_interrupts!();
            error!("hnsw build stopped without an interrupt");
        }
        Err(BuildError::WorkerFailed) => error!("hnsw build: a worker thread failed"),
    }
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_WRITE);
    write_graph(state.index, &g, &tids, state.dims);
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_LOAD);
}

/// Where each element and neighbour tuple goes: items are placed first-fit
/// on the last two open pages, so neighbour tuples fill the gaps elements
/// leave. Returns per-element (element tid, neighbour tid) and per-page item
/// lists (element index, is_element).
fn place(g: &MemGraph, dims: usize, m: usize) -> (Vec<(DiskTid, DiskTid)>, Vec<Vec<(usize, bool)>>) {
    let mut pages: Vec<Vec<(usize, bool)>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut tids = vec![(DiskTid::NONE, DiskTid::NONE); g.len()];
    for i in 0..g.len() {
        for is_element in [true, false] {
            let size = if is_element { element_size(dims) } else { neighbor_size(m, g.level(i)) };
            let need = item_space(size);
            let open = pages.len().saturating_sub(2)..pages.len();
            let p = match open.into_iter().find(|&p| free[p] >= need) {
                Some(p) => p,
                None => {
                    pages.push(Vec::new());
                    free.push(PAGE_FREE);
                    pages.len() - 1
                }
            };
            free[p] -= need;
            pages[p].push((i, is_element));
            let tid = DiskTid::new(p as u32 + 1, pages[p].len() as u16);
            if is_element {
                tids[i].0 = tid;
            } else {
                tids[i].1 = tid;
            }
        }
    }
    (tids, pages)
}

/// Writes the metapage and element pages of a fresh index from `g`.
fn write_graph(index: pg_sys::Relation, g: &MemGraph, heap: &[DiskTid], dims: usize) {
    let m = g.params.m;
    let (tids, layout) = place(g, dims, m);
    let meta = Meta {
        dims,
        params: g.params,
        entry: g.entry().map(|(e, l)| (tids[e as usize].0.node(), l)),
        insert_block: layout.len().max(1) as u32,
    };
    let mp = PageGuard::extend(index, pg_sys::ForkNumber::MAIN_FORKNUM);
    pages::write_meta(mp.page(), &meta.to_page());
    mp.mark_dirty();
    drop(mp);
    for (p, items) in layout.iter().enumerate() {
        let guard = PageGuard::extend(index, pg_sys::ForkNumber::MAIN_FORKNUM);
        let page = guard.page();
        pages::init_page(page, KIND_ELEMENT);
        for &(i, is_element) in items {
            let bytes = if is_element {
                pages::element_bytes(LIVE, g.level(i), heap[i], tids[i].1, g.vector(i))
            } else {
                let lists: Vec<Vec<DiskTid>> = (0..=g.level(i))
                    .map(|layer| g.neighbors(i, layer).iter().map(|&n| tids[n as usize].0).collect())
                    .collect();
                pages::neighbor_bytes(m, g.level(i), &lists)
            };
            let expect = if is_element { tids[i].0 } else { tids[i].1 };
            if pages::add_item(page, &bytes) != Some(expect.offset) || guard.block() != p as u32 + 1 {
                error!("hnsw build: page layout does not match its plan at block {}", p + 1);
            }
        }
        guard.mark_dirty();
        pgrx::check_for_interrupts!();
    }
}

/// `ambuildempty`: the init fork of an unlogged index gets an empty metapage.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambuildempty(index: pg_sys::Relation) {
    let (params, dims) = build_params(index);
    let meta = Meta { dims, params, entry: None, insert_block: 1 };
    let g = PageGuard::extend(index, pg_sys::ForkNumber::INIT_FORKNUM);
    pages::write_meta(g.page(), &meta.to_page());
    g.mark_dirty();
    // SAFETY: the init fork is always WAL-logged, even for unlogged indexes.
    unsafe { pg_sys::log_newpage_buffer(g.buffer(), true) };
}
