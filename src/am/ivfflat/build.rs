//! `ambuild`: a reservoir sample of the rows (one heap pass), k-means on
//! worker threads (the backend thread checks for interrupts between
//! iterations), then a second heap pass that collects rows in batches
//! bounded by `maintenance_work_mem`; each batch is assigned to its nearest
//! lists on worker threads, sorted by list and appended to the lists'
//! pages. The finished index is WAL-logged as full page images.

use super::describe;
use crate::am::{disk_tid, prepare_vector, Element};
use crate::distance::Metric;
use crate::ivf::assign;
use crate::ivf::assign_fast::assign_fast;
use crate::ivf::kmeans::{kmeans, kmeans_on_sphere, normalize, Kind};
use crate::ivf::samples::Samples;
use crate::rng::Rng;
use crate::space::{Bytes, Space};
use crate::storage::ivf::{write_empty, IvfInfo, Loader};
use crate::storage::layout::{DiskTid, ValueKind};
use crate::am::common::progress;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

/// Build sub-phases shown in `pg_stat_progress_create_index` (pgvector's numbers).
const PHASE_KMEANS: i64 = 2;
const PHASE_ASSIGN: i64 = 3;
const PHASE_LOAD: i64 = 4;

/// Seeds of the sample and of k-means (fixed: builds are reproducible).
const SAMPLE_SEED: u64 = 0x4956_5341;
const KMEANS_SEED: u64 = 0x4956_4b4d;

/// PostgreSQL's MaxHeapTuplesPerPage for 8 kB pages.
const MAX_HEAP_TUPLES_PER_PAGE: usize = 291;

/// Rows assigned per parallel step (interrupts are checked between steps).
const ASSIGN_STEP: usize = 4096;

/// `ambuildphasename`.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambuildphasename(phase: i64) -> *mut std::ffi::c_char {
    let name: &'static std::ffi::CStr = match phase {
        1 => c"initializing",
        PHASE_KMEANS => c"performing k-means",
        PHASE_ASSIGN => c"assigning tuples",
        PHASE_LOAD => c"loading tuples",
        _ => return std::ptr::null_mut(),
    };
    name.as_ptr().cast_mut()
}

/// How k-means compares samples for `metric`.
fn kmeans_kind(metric: Metric) -> Kind {
    match metric {
        Metric::InnerProduct | Metric::Cosine => Kind::Spherical,
        Metric::Hamming | Metric::Jaccard => Kind::Binary,
        _ => Kind::Euclidean,
    }
}

/// pgvector's size of one value as a datum (for the memory estimate).
fn item_size(info: &IvfInfo) -> usize {
    8 + match info.value_kind {
        ValueKind::Bit => info.dims.div_ceil(8),
        _ => info.value_bytes(),
    }
}

/// pgvector's size of an array of `n` such values.
fn array_size(n: usize, item: usize) -> usize {
    32 + n * item.div_ceil(8) * 8
}

/// Raises pgvector's error when `bytes` exceed maintenance_work_mem.
fn check_memory(bytes: usize) {
    // SAFETY: GUC global read on the backend thread.
    let mwm_kb = unsafe { pg_sys::maintenance_work_mem } as usize;
    if bytes / 1024 > mwm_kb {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!("memory required is {} MB, maintenance_work_mem is {} MB", bytes / (1024 * 1024) + 1, mwm_kb / 1024)
        );
    }
}

/// Bytes k-means needs beyond samples and centers (pgvector's Elkan buffers).
fn kmeans_bytes(n: usize, k: usize, dims: usize, item: usize) -> usize {
    array_size(k, item) + 4 * k * dims + 4 * k + 4 * n + 4 * n * k + 4 * n + 4 * k + 4 * k * k + 4 * k
}

/// Worker threads: the leader plus as many helpers as a parallel build
/// could have, never more than the machine has CPUs.
fn build_threads() -> usize {
    // SAFETY: GUC globals read on the backend thread.
    let (workers, pool) = unsafe { (pg_sys::max_parallel_maintenance_workers, pg_sys::max_parallel_workers) };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (workers.min(pool).max(0) as usize + 1).min(cpus)
}

fn thread_pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(build_threads())
        .build()
        .unwrap_or_else(|e| error!("ivfflat build: cannot start worker threads: {e}"))
}

/// Reads a row's value with the index's element type, detoasting into a
/// context reset right after (large values must not pile up).
fn read_row(ctx: &mut PgMemoryContexts, element: Element, dims: usize, datum: pg_sys::Datum) -> Vec<f32> {
    // SAFETY: the context is ours and outlives the closure; nothing
    // allocated in it is used after the reset (the values are copied out).
    let v = unsafe {
        ctx.switch_to(|_| {
            // SAFETY: a non-null datum of the indexed column's type.
            element.read(datum)
        })
    };
    // SAFETY: see above.
    unsafe { ctx.reset() };
    if v.len() != dims {
        crate::types::raise(crate::types::VectorError::ExpectedDims { expected: dims as i32, got: v.len() as i32 }, None);
    }
    v
}

/// Samples held in the compact form of the index's values (as the memory
/// check counts them): float4, half precision or packed bits.
enum SampleStore {
    F32(Vec<f32>),
    F16(Vec<u16>),
    Bits(Vec<u8>),
}

impl SampleStore {
    fn new(kind: ValueKind) -> Self {
        match kind {
            ValueKind::F16 => SampleStore::F16(Vec::new()),
            ValueKind::Bit => SampleStore::Bits(Vec::new()),
            _ => SampleStore::F32(Vec::new()),
        }
    }

    /// Stores `v` as sample `slot` (a new one when `slot` is the count).
    fn put(&mut self, slot: usize, v: &[f32]) {
        fn place<T: Copy>(data: &mut Vec<T>, slot: usize, row: &[T]) {
            let n = row.len();
            if data.len() <= slot * n {
                data.extend_from_slice(row);
            } else {
                data[slot * n..(slot + 1) * n].copy_from_slice(row);
            }
        }
        match self {
            SampleStore::F32(d) => place(d, slot, v),
            SampleStore::F16(d) => place(d, slot, &crate::half::from_f32_slice(v)),
            SampleStore::Bits(d) => place(d, slot, &crate::space::pack_bits(v)),
        }
    }

    /// Scales every sample to unit length, in place (zero ones stay zero).
    fn normalize(&mut self, dims: usize) {
        match self {
            SampleStore::F32(d) => d.chunks_mut(dims).for_each(normalize),
            SampleStore::F16(d) => d.chunks_mut(dims).for_each(|row| {
                let mut v = crate::half::to_f32_vec(row);
                normalize(&mut v);
                row.copy_from_slice(&crate::half::from_f32_slice(&v));
            }),
            SampleStore::Bits(_) => {}
        }
    }

    fn samples(&self, dims: usize) -> Samples<'_> {
        match self {
            SampleStore::F32(data) => Samples::F32 { data, dims },
            SampleStore::F16(data) => Samples::F16 { data, dims },
            SampleStore::Bits(data) => Samples::Bits { data, dims },
        }
    }
}

struct SampleState {
    info: IvfInfo,
    element: Element,
    rng: Rng,
    target: usize,
    seen: u64,
    count: usize,
    samples: SampleStore,
    row_ctx: PgMemoryContexts,
}

#[pg_guard]
unsafe extern "C-unwind" fn sample_callback(
    _index: pg_sys::Relation,
    _tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    _alive: bool,
    state: *mut std::ffi::c_void,
) {
    // SAFETY: `state` is the SampleState passed to table_index_build_scan;
    // one indexed column: values[0]/isnull[0] are valid.
    let (st, null, datum) = unsafe { (&mut *state.cast::<SampleState>(), *isnull, *values) };
    if null {
        return;
    }
    let dims = st.info.dims;
    let mut v = read_row(&mut st.row_ctx, st.element, dims, datum);
    if kmeans_kind(st.info.metric) == Kind::Spherical {
        let n = crate::distance::norm(&v);
        if !(n > 0.0 && n.is_finite()) {
            return;
        }
        normalize(&mut v);
    }
    st.seen += 1;
    if st.count < st.target {
        st.samples.put(st.count, &v);
        st.count += 1;
    } else {
        let j = st.rng.below(st.seen) as usize;
        if j < st.target {
            st.samples.put(j, &v);
        }
    }
}

/// The list centers of a new index, stored form.
fn compute_centers(heap: pg_sys::Relation, index: pg_sys::Relation, index_info: *mut pg_sys::IndexInfo, info: &IvfInfo, pool: &rayon::ThreadPool) -> Vec<Bytes> {
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_KMEANS);
    let started = std::time::Instant::now();
    let item = item_size(info);
    let mut used = array_size(info.lists, item);
    check_memory(used);
    // SAFETY: counting blocks of the open heap.
    let heap_blocks = unsafe { pg_sys::RelationGetNumberOfBlocksInFork(heap, pg_sys::ForkNumber::MAIN_FORKNUM) } as usize;
    let max_tuples = heap_blocks * MAX_HEAP_TUPLES_PER_PAGE;
    let target = (info.lists * 50).max(10000).min(max_tuples).max(1);
    used += array_size(target, item);
    check_memory(used);
    let mut st = SampleState {
        info: *info,
        element: element_of_kind(info.value_kind),
        rng: Rng::new(SAMPLE_SEED),
        target,
        seen: 0,
        count: 0,
        samples: SampleStore::new(info.value_kind),
        row_ctx: PgMemoryContexts::new("vecstore ivfflat sample row"),
    };
    // SAFETY: standard index build scan; the callback gets `st` back.
    unsafe {
        pg_sys::table_index_build_scan(
            heap,
            index,
            index_info,
            true,
            true,
            Some(sample_callback),
            (&mut st as *mut SampleState).cast(),
            std::ptr::null_mut(),
        )
    };
    let n = st.count;
    let sampled = std::time::Instant::now();
    if n < info.lists {
        pg_sys::panic::ErrorReport::new(
            PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
            "ivfflat index created with little data",
            pgrx::function_name!(),
        )
        .set_detail("This will cause low recall.")
        .set_hint("Drop the index until the table has more data.")
        .report(PgLogLevel::NOTICE);
    } else {
        check_memory(used + kmeans_bytes(n, info.lists, info.dims, item));
    }
    let kind = kmeans_kind(info.metric);
    // L2 samples all on one sphere (normalised embeddings): spherical
    // k-means, centers on that sphere (better recall at equal probes)
    let radius = if kind == Kind::Euclidean { st.samples.samples(info.dims).sphere_radius() } else { None };
    let mut tick = || {
        pgrx::check_for_interrupts!();
    };
    let (centers, report) = match radius {
        Some(r) => {
            st.samples.normalize(info.dims);
            kmeans_on_sphere(st.samples.samples(info.dims), r, info.lists, KMEANS_SEED, pool, &mut tick)
        }
        None => kmeans(st.samples.samples(info.dims), info.lists, kind, KMEANS_SEED, pool, &mut tick),
    };
    debug1!(
        "ivfflat build: {n} samples in {:.3} s; k-means{} {:.3} s (seeding {:.3} s, {} iterations in {:.3} s)",
        sampled.duration_since(started).as_secs_f64(),
        radius.map_or(String::new(), |r| format!(" on the sphere of radius {r:.4}")),
        sampled.elapsed().as_secs_f64(),
        report.seed_seconds,
        report.iterations,
        report.lloyd_seconds
    );
    let space = info.space();
    centers.chunks_exact(info.dims).map(|c| space.encode(c)).collect()
}

fn element_of_kind(kind: ValueKind) -> Element {
    Element::of_kind(kind)
}

struct LoadState {
    info: IvfInfo,
    space: Space,
    element: Element,
    centers: Vec<Bytes>,
    loader: Option<Loader>,
    pool: rayon::ThreadPool,
    values: Bytes,
    tids: Vec<DiskTid>,
    max_rows: usize,
    indexed: f64,
    loaded: i64,
    row_ctx: PgMemoryContexts,
}

#[pg_guard]
unsafe extern "C-unwind" fn load_callback(
    _index: pg_sys::Relation,
    tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    _alive: bool,
    state: *mut std::ffi::c_void,
) {
    // SAFETY: `state` is the LoadState passed to table_index_build_scan;
    // one indexed column; `tid` points at the heap row's item pointer.
    let (st, null, datum, heap_tid) = unsafe { (&mut *state.cast::<LoadState>(), *isnull, *values, disk_tid(&*tid)) };
    if null {
        return;
    }
    let v = read_row(&mut st.row_ctx, st.element, st.info.dims, datum);
    let Some(x) = prepare_vector(st.info.metric, &v) else { return };
    st.values.extend(&st.space.encode_of(&x, &v));
    st.tids.push(heap_tid);
    st.indexed += 1.0;
    if st.tids.len() >= st.max_rows {
        load_batch(st);
    }
}

/// Assigns the collected rows to lists and appends them, list by list.
fn load_batch(st: &mut LoadState) {
    let vb = st.info.value_bytes();
    let n = st.tids.len();
    let rows: Vec<&[u8]> = (0..n).map(|i| &st.values[i * vb..(i + 1) * vb]).collect();
    let mut lists = Vec::with_capacity(n);
    for part in rows.chunks(ASSIGN_STEP) {
        lists.extend(assign_fast(&st.space, &st.centers, part, &st.pool).unwrap_or_else(|| assign(&st.space, &st.centers, part, &st.pool)));
        pgrx::check_for_interrupts!();
    }
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_by_key(|&i| (lists[i as usize], i));
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_LOAD);
    progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_TOTAL, st.indexed as i64);
    let loader = st.loader.as_mut().expect("loader created before loading");
    let mut at = 0;
    while at < n {
        let list = lists[order[at] as usize];
        let end = at + order[at..].iter().take_while(|&&i| lists[i as usize] == list).count();
        let mut it = order[at..end].iter().map(|&i| (st.tids[i as usize], rows[i as usize]));
        loader.append(list as usize, &mut it);
        st.loaded += (end - at) as i64;
        progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, st.loaded);
        at = end;
    }
    drop(rows);
    st.values.clear();
    st.tids.clear();
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_ASSIGN);
}

/// `ambuild`.
#[pg_guard]
pub unsafe extern "C-unwind" fn ambuild(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    index_info: *mut pg_sys::IndexInfo,
) -> *mut pg_sys::IndexBuildResult {
    let info = describe(index);
    let pool = thread_pool();
    let centers = compute_centers(heap, index, index_info, &info, &pool);
    progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_ASSIGN);
    let loading = std::time::Instant::now();
    let loader = Loader::create(index, info, &centers);
    // SAFETY: GUC global read on the backend thread.
    let mwm = unsafe { pg_sys::maintenance_work_mem } as usize * 1024;
    let vb = info.value_bytes();
    let budget = mwm.saturating_sub(centers.len() * (vb + 32));
    let mut st = LoadState {
        info,
        space: info.space(),
        element: element_of_kind(info.value_kind),
        centers,
        loader: Some(loader),
        pool,
        values: Bytes::default(),
        tids: Vec::new(),
        max_rows: (budget / (vb.div_ceil(8) * 8 + 6 + 4 + 4 + 16)).max(1024),
        indexed: 0.0,
        loaded: 0,
        row_ctx: PgMemoryContexts::new("vecstore ivfflat build row"),
    };
    // SAFETY: standard index build scan; the callback gets `st` back.
    let reltuples = unsafe {
        pg_sys::table_index_build_scan(
            heap,
            index,
            index_info,
            true,
            true,
            Some(load_callback),
            (&mut st as *mut LoadState).cast(),
            std::ptr::null_mut(),
        )
    };
    if !st.tids.is_empty() {
        load_batch(&mut st);
    }
    if let Some(l) = st.loader.take() {
        l.finish();
    }
    debug1!("ivfflat build: assigning and loading {} rows {:.3} s", st.indexed, loading.elapsed().as_secs_f64());
    // SAFETY: palloc0'd result struct, filled and handed to Postgres.
    unsafe {
        let result = pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexBuildResult>()).cast::<pg_sys::IndexBuildResult>();
        (*result).heap_tuples = reltuples;
        (*result).index_tuples = st.indexed;
        result
    }
}

/// `ambuildempty`: the init fork of an unlogged index gets random centers
/// and empty lists (as a build over no rows would).
#[pg_guard]
pub unsafe extern "C-unwind" fn ambuildempty(index: pg_sys::Relation) {
    let info = describe(index);
    let pool = thread_pool();
    let (centers, _) = kmeans(Samples::F32 { data: &[], dims: info.dims }, info.lists, kmeans_kind(info.metric), KMEANS_SEED, &pool, &mut || {});
    let space = info.space();
    let centers: Vec<Bytes> = centers.chunks_exact(info.dims).map(|c| space.encode(c)).collect();
    write_empty(index, info, &centers);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_estimate_follows_pgvector() {
        // lists = 100, 10000 samples of 3 dims: well under 1 MB
        assert!(kmeans_bytes(10000, 100, 3, 20) < 5 * 1024 * 1024);
        assert_eq!(array_size(2, 20), 32 + 2 * 24);
    }
}
