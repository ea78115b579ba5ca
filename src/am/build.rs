//! `ambuild`: scan the heap into chunked memory (each row's detoasted copy
//! freed right away), group identical vectors, link the graph in memory
//! with worker threads (the backend thread polls: on any pending interrupt
//! the workers pause, the backend processes it, and the build resumes or
//! the cancel is raised), write the pages, WAL-log them if the index needs
//! WAL. Past `maintenance_work_mem` the collected part is built and written
//! at once and the remaining rows go through the on-disk insert.

use super::insert::{random_level, with_scratch};
use super::options::index_options;
use super::{disk_tid, index_dims, Element};
use crate::hnsw::dedup::{group_duplicates, Values};
use crate::hnsw::{BuildError, MemGraph, Params};
use crate::storage::buffer::{nblocks, needs_wal, PageGuard};
use crate::space::Space;
use crate::storage::insert::insert;
use crate::storage::layout::*;
use crate::storage::meta::Meta;
use crate::storage::pages;
use crate::am::common::progress;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

/// Build sub-phases shown in `pg_stat_progress_create_index`.
const PHASE_LOAD: i64 = 2;
const PHASE_LINK: i64 = 3;
const PHASE_WRITE: i64 = 4;

/// Seed for element levels (fixed: builds are reproducible).
const LEVEL_SEED: u64 = 0x4853_4e57;

struct BuildState {
    index: pg_sys::Relation,
    meta: Meta,
    space: Space,
    heap_tuples: f64,
    indexed: f64,
    values: Values,
    tids: Vec<DiskTid>,
    /// maintenance_work_mem in bytes, and what the collected rows take of it.
    budget: usize,
    used: usize,
    /// Bytes every collected row takes besides a variable-size value.
    per_row: usize,
    threads: usize,
    flushed: bool,
    row_ctx: PgMemoryContexts,
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
fn build_meta(index: pg_sys::Relation) -> Meta {
    let (m, ef_construction, quantize) = index_options(index);
    if ef_construction < 2 * m {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "ef_construction must be greater than or equal to 2 * m"
        );
    }
    let element = Element::of_index(index);
    let dims = index_dims(index, element);
    // a sparsevec index's metapage holds its room for non-zeros instead
    let dims = if element == Element::Sparse { super::options::index_max_nnz(index) } else { dims };
    let params = Params { m, ef_construction, metric: element.metric(index), max_level: max_level(m) };
    Meta::new(dims, params, element.value_kind(quantize))
}

/// Heap bytes one collected row costs until its part of the index is
/// written: the vector (fixed-size kinds; a variable-size value is counted
/// at its own size as it comes, see [`value_cost`]), the code the build
/// searches on (if any), its TID, its graph links and level, every worker's
/// visited mark, duplicate grouping and page placement.
fn bytes_per_row(meta: &Meta, threads: usize) -> usize {
    let value = match meta.value_kind.is_variable() {
        true => 0,
        false => Values::bytes_per_value(meta.shape.value_bytes),
    };
    value + MemGraph::build_bytes_per_element(meta.space(), meta.params.m, threads) + 6 + 2 + 96
}

/// The store collected values go in: sparse values at their own size (not
/// padded to the index's room for non-zeros), others at the index's width.
fn new_values(meta: &Meta) -> Values {
    match meta.value_kind.is_variable() {
        true => Values::variable(),
        false => Values::new(meta.shape.value_bytes),
    }
}

/// Bytes a collected value of `len` bytes takes beyond [`bytes_per_row`]
/// (with the tail of a chunk it leaves unused).
fn value_cost(values: &Values, len: usize) -> usize {
    match values.is_variable() {
        true => values.variable_push_bytes(len),
        false => 0,
    }
}

/// Threads linking the graph: the leader plus as many helpers as a parallel
/// build could have workers (max_parallel_maintenance_workers, within
/// max_parallel_workers), and never more than the machine has CPUs.
fn build_threads(maintenance_workers: i32, parallel_workers: i32) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let helpers = maintenance_workers.min(parallel_workers).max(0) as usize;
    (helpers + 1).min(cpus)
}

/// `ambuild`.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambuild(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    info: *mut pg_sys::IndexInfo,
) -> *mut pg_sys::IndexBuildResult {
    let meta = build_meta(index);
    // SAFETY: GUC globals read on the backend thread.
    let (mwm_kb, workers, pool) =
        unsafe { (pg_sys::maintenance_work_mem, pg_sys::max_parallel_maintenance_workers, pg_sys::max_parallel_workers) };
    let threads = build_threads(workers, pool);
    let per_row = bytes_per_row(&meta, threads);
    let mut state = BuildState {
        index,
        meta,
        space: meta.space(),
        heap_tuples: 0.0,
        indexed: 0.0,
        values: new_values(&meta),
        tids: Vec::new(),
        budget: (mwm_kb as usize) * 1024,
        used: 0,
        per_row,
        threads,
        flushed: false,
        row_ctx: PgMemoryContexts::new("vecstore hnsw build row"),
    };
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_LOAD);
    let started = std::time::Instant::now();
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
        debug1!("hnsw build: scanned {} rows in {:.3} s", state.tids.len(), started.elapsed().as_secs_f64());
        flush(&mut state);
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
    // SAFETY: `tid` points at the heap tuple's item pointer.
    let heap_tid = disk_tid(unsafe { &*tid });
    let datum = unsafe { *values };
    let (dims, metric, kind, space) = (state.meta.dims, state.meta.params.metric, state.meta.value_kind, state.space);
    let col_dims = super::column_dims(state.index, &state.meta);
    // detoast into a context reset after every row: out-of-line vectors
    // (above ~500 dimensions) must not pile up in the build's context
    // SAFETY: the context is ours and outlives the closure; nothing
    // allocated in it is used after the reset (the vector is copied out).
    let prepared = unsafe {
        state.row_ctx.switch_to(|_| {
            // SAFETY: a non-null datum of the indexed column, whose type
            // the index's value kind was chosen for.
            let element = Element::of_kind(kind);
            let v = element.read(datum);
            let got = element.dims_of(&v);
            if got != col_dims {
                crate::types::raise(crate::types::VectorError::ExpectedDims { expected: col_dims as i32, got: got as i32 }, None);
            }
            element.prepare(metric, &v, Some(dims)).map(|x| {
                let code = space.encode_of(&x, &v);
                (x, code)
            })
        })
    };
    // SAFETY: see above.
    unsafe { state.row_ctx.reset() };
    let Some((x, code)) = prepared else { return };
    state.indexed += 1.0;
    // a sparse value is kept unpadded (its own non-zeros), as on pages
    let value = match state.values.is_variable() && !state.flushed {
        true => stored_value(kind, &code),
        false => std::borrow::Cow::Borrowed(&code[..]),
    };
    let cost = state.per_row + value_cost(&state.values, value.len());
    // a value bigger than the last one (sparse) may not fit where one like
    // the last did: the collected rows are built first, this one goes on disk
    if !state.flushed && !state.tids.is_empty() && state.used + cost > state.budget {
        spill(state);
    }
    if state.flushed {
        let level = random_level(&state.meta.params);
        with_scratch(|scratch| insert(state.index, heap_tid, &x, &code, level, scratch));
        progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, state.indexed as i64);
        return;
    }
    state.values.push(&value);
    state.tids.push(heap_tid);
    state.used += cost;
    if state.tids.len() % 1000 == 0 {
        progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, state.tids.len() as i64);
    }
    // spill when one more row like this one would not fit
    if state.used + cost > state.budget {
        spill(state);
    }
}

/// Reports that the graph no longer fits, links and writes the collected
/// rows; the rest of the build inserts on disk.
fn spill(state: &mut BuildState) {
    pg_sys::panic::ErrorReport::new(
        PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
        format!("hnsw graph no longer fits into maintenance_work_mem after {} tuples", state.tids.len()),
        pgrx::function_name!(),
    )
    .set_detail("Building will take significantly more time.")
    .set_hint("Increase maintenance_work_mem to speed up builds.")
    .report(PgLogLevel::NOTICE);
    flush(state);
    state.flushed = true;
}

/// True when the backend has an interrupt to process.
fn interrupt_pending() -> bool {
    // SAFETY: reading volatile flags set by signal handlers; interrupts are
    // only processed when not held off.
    unsafe {
        std::ptr::read_volatile(&raw const pg_sys::InterruptPending) != 0
            && std::ptr::read_volatile(&raw const pg_sys::InterruptHoldoffCount) == 0
            && std::ptr::read_volatile(&raw const pg_sys::CritSectionCount) == 0
    }
}

/// Links the collected vectors in memory and writes (and logs) the pages.
fn flush(state: &mut BuildState) {
    let values = std::mem::replace(&mut state.values, new_values(&state.meta));
    let tids = std::mem::take(&mut state.tids);
    state.used = 0;
    let started = std::time::Instant::now();
    let groups = group_duplicates(&values);
    let members: Vec<u32> = groups.iter().map(|g| g[0]).collect();
    let mut g = MemGraph::with_members(state.meta.params, state.space, values, LEVEL_SEED, members);
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_LINK);
    progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_TOTAL, g.members().len() as i64);
    loop {
        let result = g.build(state.threads, &mut |done| {
            progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, done as i64);
            !interrupt_pending()
        });
        match result {
            Ok(()) => break,
            // Workers have stopped: let Postgres process the interrupt (a
            // cancel or terminate raises here), then resume the build.
            Err(BuildError::Paused) => {
                pgrx::check_for_interrupts!();
            }
            Err(BuildError::WorkerFailed) => error!("hnsw build: a worker thread failed"),
        }
    }
    debug1!("hnsw build: linked {} elements in {:.3} s", g.members().len(), started.elapsed().as_secs_f64());
    let started = std::time::Instant::now();
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_WRITE);
    write_graph(state.index, &state.meta, &g, &groups, &tids);
    if needs_wal(state.index) {
        // SAFETY: every page of the index was written above through the
        // buffer manager; log them all as full images.
        unsafe { pg_sys::log_newpage_range(state.index, pg_sys::ForkNumber::MAIN_FORKNUM, 0, nblocks(state.index), true) };
    }
    debug1!("hnsw build: wrote and logged the pages in {:.3} s", started.elapsed().as_secs_f64());
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_LOAD);
}

/// A planned item: member index and which tuple.
#[derive(Clone, Copy)]
enum Planned {
    Chunk { member: u32, part: u16 },
    Element { member: u32 },
    Neighbors { member: u32 },
}

/// Where every tuple goes: first fit over the last two open pages, in the
/// order chunks, element, neighbour tuple per member, so an element and its
/// neighbour tuple share a page whenever they fit together.
struct Plan {
    pages: Vec<Vec<Planned>>,
    elements: Vec<DiskTid>,
    neighbors: Vec<DiskTid>,
    chunks: Vec<Vec<DiskTid>>,
}

fn plan(meta: &Meta, g: &MemGraph) -> Plan {
    let shape = meta.shape;
    let members = g.members();
    let mut p = Plan {
        pages: Vec::new(),
        elements: vec![DiskTid::NONE; members.len()],
        neighbors: vec![DiskTid::NONE; members.len()],
        chunks: vec![Vec::new(); members.len()],
    };
    let mut free: Vec<usize> = Vec::new();
    for (k, &row) in members.iter().enumerate() {
        let level = g.level(row as usize);
        let vb = shape.stored_len(g.value(row as usize));
        let chunk_sizes = shape.chunk_sizes_of(vb);
        let mut items: Vec<(usize, Planned)> =
            (0..chunk_sizes.len()).map(|c| (chunk_sizes[c], Planned::Chunk { member: k as u32, part: c as u16 })).collect();
        items.push((shape.element_size_of(vb), Planned::Element { member: k as u32 }));
        items.push((neighbor_size(shape.m, level), Planned::Neighbors { member: k as u32 }));
        for (size, item) in items {
            let need = item_space(size);
            let open = p.pages.len().saturating_sub(2)..p.pages.len();
            let at = match open.into_iter().find(|&i| free[i] >= need) {
                Some(i) => i,
                None => {
                    p.pages.push(Vec::new());
                    free.push(PAGE_FREE);
                    p.pages.len() - 1
                }
            };
            free[at] -= need;
            p.pages[at].push(item);
            let tid = DiskTid::new(at as u32 + 1, p.pages[at].len() as u16);
            match item {
                Planned::Chunk { .. } => p.chunks[k].push(tid),
                Planned::Element { .. } => p.elements[k] = tid,
                Planned::Neighbors { .. } => p.neighbors[k] = tid,
            }
        }
    }
    p
}

/// Writes the metapage and graph pages of a fresh index from `g`.
fn write_graph(index: pg_sys::Relation, meta: &Meta, g: &MemGraph, groups: &[Vec<u32>], heap: &[DiskTid]) {
    let shape = meta.shape;
    let members = g.members();
    let p = plan(meta, g);
    // member index of each row that is a member
    let mut member_of = vec![u32::MAX; g.len()];
    for (k, &row) in members.iter().enumerate() {
        member_of[row as usize] = k as u32;
    }
    let entry = g.entry().map(|(row, level)| (p.elements[member_of[row as usize] as usize].node(), level));
    let head = Meta { entry, insert_block: p.pages.len().max(1) as u32, ..*meta };
    let mp = PageGuard::extend(index, pg_sys::ForkNumber::MAIN_FORKNUM);
    pages::write_meta(mp.page(), &head.to_page());
    mp.mark_dirty();
    drop(mp);
    for (i, items) in p.pages.iter().enumerate() {
        {
            let guard = PageGuard::extend(index, pg_sys::ForkNumber::MAIN_FORKNUM);
            let page = guard.page();
            pages::init_page(page, PageKind::Graph);
            for (slot, item) in items.iter().enumerate() {
                let bytes = match *item {
                    Planned::Chunk { member, part } => {
                        let k = member as usize;
                        let value = stored_value(meta.value_kind, g.value(members[k] as usize));
                        let start = shape.inline_of(value.len()) + part as usize * MAX_CHUNK;
                        let end = (start + MAX_CHUNK).min(value.len());
                        let next = p.chunks[k].get(part as usize + 1).copied().unwrap_or(DiskTid::NONE);
                        pages::chunk_bytes(next, &value[start..end])
                    }
                    Planned::Element { member } => {
                        let k = member as usize;
                        let row = members[k] as usize;
                        let value = stored_value(meta.value_kind, g.value(row));
                        let rows: Vec<DiskTid> = groups[k].iter().map(|&r| heap[r as usize]).collect();
                        let next = p.chunks[k].first().copied().unwrap_or(DiskTid::NONE);
                        pages::element_bytes(g.level(row), &rows, p.neighbors[k], next, value.len(), &value[..shape.inline_of(value.len())])
                    }
                    Planned::Neighbors { member } => {
                        let row = members[member as usize] as usize;
                        let lists: Vec<Vec<DiskTid>> = (0..=g.level(row))
                            .map(|layer| {
                                g.neighbors(row, layer)
                                    .iter()
                                    .filter(|&&n| member_of[n as usize] != u32::MAX)
                                    .map(|&n| p.elements[member_of[n as usize] as usize])
                                    .collect()
                            })
                            .collect();
                        pages::neighbor_bytes(shape.m, g.level(row), &lists)
                    }
                };
                if pages::add_item(page, &bytes) != Some(slot as u16 + 1) || guard.block() != i as u32 + 1 {
                    error!("hnsw build: page layout does not match its plan at block {}", i + 1);
                }
            }
            guard.mark_dirty();
        }
        if i % 64 == 0 {
            progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, i as i64);
            pgrx::check_for_interrupts!();
        }
    }
}

/// `ambuildempty`: the init fork of an unlogged index gets an empty metapage.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambuildempty(index: pg_sys::Relation) {
    let meta = build_meta(index);
    let g = PageGuard::extend(index, pg_sys::ForkNumber::INIT_FORKNUM);
    pages::write_meta(g.page(), &meta.to_page());
    g.mark_dirty();
    // SAFETY: the init fork is always WAL-logged, even for unlogged indexes.
    unsafe { pg_sys::log_newpage_buffer(g.buffer(), true) };
}
