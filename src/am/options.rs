//! Index options (`WITH (m = .., ef_construction = ..)`) and the `hnsw.*`
//! GUCs, registered from `_PG_init`.

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};
use std::sync::atomic::{AtomicU32, Ordering};

/// Default and bounds of `m`.
pub const M: (i32, i32, i32) = (16, 2, 100);
/// Default and bounds of `ef_construction`.
pub const EF_CONSTRUCTION: (i32, i32, i32) = (64, 4, 1000);

/// `hnsw.ef_search`.
pub static EF_SEARCH: GucSetting<i32> = GucSetting::<i32>::new(40);
/// `hnsw.iterative_scan`.
pub static ITERATIVE_SCAN: GucSetting<IterativeScan> = GucSetting::<IterativeScan>::new(IterativeScan::Off);
/// `hnsw.max_scan_tuples`.
pub static MAX_SCAN_TUPLES: GucSetting<i32> = GucSetting::<i32>::new(20000);
/// `hnsw.scan_mem_multiplier`.
pub static SCAN_MEM_MULTIPLIER: GucSetting<f64> = GucSetting::<f64>::new(1.0);

/// Values of `hnsw.iterative_scan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PostgresGucEnum)]
pub enum IterativeScan {
    /// Return at most ef_search rows.
    #[name = c"off"]
    Off,
    /// Keep searching; rows may come slightly out of order.
    #[name = c"relaxed_order"]
    RelaxedOrder,
    /// Keep searching; rows strictly in distance order.
    #[name = c"strict_order"]
    StrictOrder,
}

/// Default and bounds of `vecstore_max_nnz` (pgvector's limit is 1,000;
/// the sparsevec type's own is 16,000).
pub const MAX_NNZ: (i32, i32, i32) = (1000, 1, 16_000);

static RELOPT_KIND: AtomicU32 = AtomicU32::new(0);

/// Registers reloptions and GUCs. Called once from `_PG_init`.
pub fn init() {
    // SAFETY: called at library load in the postmaster or a backend, before
    // any index uses the options; the strings are static.
    unsafe {
        let kind = pg_sys::add_reloption_kind();
        RELOPT_KIND.store(kind, Ordering::Relaxed);
        let lock = pg_sys::AccessExclusiveLock as i32;
        pg_sys::add_int_reloption(kind, c"m".as_ptr(), c"Max number of connections".as_ptr(), M.0, M.1, M.2, lock);
        pg_sys::add_string_reloption(
            kind,
            c"vecstore_quantize".as_ptr(),
            c"How vecstore stores vectors in the graph: none (float4) or sq8 (8-bit codes, rows re-checked exactly)".as_ptr(),
            c"none".as_ptr(),
            Some(validate_quantize),
            lock,
        );
        pg_sys::add_int_reloption(
            kind,
            c"vecstore_max_nnz".as_ptr(),
            c"Most non-zero elements of an indexed sparsevec (each element takes 8 bytes per allowed non-zero)".as_ptr(),
            MAX_NNZ.0,
            MAX_NNZ.1,
            MAX_NNZ.2,
            lock,
        );
        pg_sys::add_int_reloption(
            kind,
            c"ef_construction".as_ptr(),
            c"Size of the dynamic candidate list for construction".as_ptr(),
            EF_CONSTRUCTION.0,
            EF_CONSTRUCTION.1,
            EF_CONSTRUCTION.2,
            lock,
        );
    }
    GucRegistry::define_int_guc(
        c"hnsw.ef_search",
        c"Sets the size of the dynamic candidate list for search",
        c"Valid range is 1..1000. Larger values give better recall and slower queries.",
        &EF_SEARCH,
        1,
        1000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"hnsw.iterative_scan",
        c"Sets the mode for iterative scans",
        c"off returns at most hnsw.ef_search rows; relaxed_order and strict_order keep searching when filters remove rows.",
        &ITERATIVE_SCAN,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"hnsw.max_scan_tuples",
        c"Sets the max number of tuples to visit for iterative scans",
        c"An iterative scan stops after visiting this many elements.",
        &MAX_SCAN_TUPLES,
        1,
        i32::MAX,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"hnsw.scan_mem_multiplier",
        c"Sets the multiple of work_mem to use for iterative scans",
        c"An iterative scan stops when its memory reaches work_mem times this value.",
        &SCAN_MEM_MULTIPLIER,
        1.0,
        1000.0,
        GucContext::Userset,
        GucFlags::default(),
    );
    // SAFETY: static prefix string; makes unknown hnsw.* settings an error.
    unsafe { pg_sys::MarkGUCPrefixReserved(c"hnsw".as_ptr()) };
}

/// How the graph stores vectors (`WITH (vecstore_quantize = ...)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantize {
    /// float4, as pgvector.
    None,
    /// 8-bit scalar codes; scans return lower bounds the executor re-checks.
    Sq8,
}

impl Quantize {
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(Quantize::None),
            "sq8" => Some(Quantize::Sq8),
            _ => None,
        }
    }
}

/// Rejects unknown `vecstore_quantize` values when the option is set.
#[pg_guard]
unsafe extern "C-unwind" fn validate_quantize(value: *const std::ffi::c_char) {
    if value.is_null() {
        return;
    }
    // SAFETY: Postgres passes the option's NUL-terminated string.
    let v = unsafe { std::ffi::CStr::from_ptr(value) }.to_string_lossy();
    if Quantize::parse(&v).is_none() {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("invalid value for option \"vecstore_quantize\": \"{v}\""),
            "Valid values are \"none\" and \"sq8\"."
        );
    }
}

/// The reloptions struct Postgres fills for us.
#[repr(C)]
struct HnswOptions {
    vl_len: i32,
    m: i32,
    ef_construction: i32,
    /// Offset of the `vecstore_quantize` string from the struct's start
    /// (0: not set).
    quantize: i32,
    max_nnz: i32,
}

/// `amoptions`: parses and validates `WITH (...)`.
#[pg_guard]
pub unsafe extern "C-unwind" fn amoptions(reloptions: pg_sys::Datum, validate: bool) -> *mut pg_sys::bytea {
    let table = [
        pg_sys::relopt_parse_elt {
            optname: c"m".as_ptr(),
            opttype: pg_sys::relopt_type::RELOPT_TYPE_INT,
            offset: std::mem::offset_of!(HnswOptions, m) as i32,
        },
        pg_sys::relopt_parse_elt {
            optname: c"ef_construction".as_ptr(),
            opttype: pg_sys::relopt_type::RELOPT_TYPE_INT,
            offset: std::mem::offset_of!(HnswOptions, ef_construction) as i32,
        },
        pg_sys::relopt_parse_elt {
            optname: c"vecstore_quantize".as_ptr(),
            opttype: pg_sys::relopt_type::RELOPT_TYPE_STRING,
            offset: std::mem::offset_of!(HnswOptions, quantize) as i32,
        },
        pg_sys::relopt_parse_elt {
            optname: c"vecstore_max_nnz".as_ptr(),
            opttype: pg_sys::relopt_type::RELOPT_TYPE_INT,
            offset: std::mem::offset_of!(HnswOptions, max_nnz) as i32,
        },
    ];
    // SAFETY: the table describes HnswOptions exactly; Postgres allocates
    // and fills a struct of that size.
    unsafe {
        pg_sys::build_reloptions(
            reloptions,
            validate,
            RELOPT_KIND.load(Ordering::Relaxed),
            std::mem::size_of::<HnswOptions>(),
            table.as_ptr(),
            table.len() as i32,
        )
        .cast()
    }
}

/// `(m, ef_construction, vecstore_quantize)` of an index, defaults where
/// not given.
pub fn index_options(index: pg_sys::Relation) -> (usize, usize, Quantize) {
    // SAFETY: rd_options is null or the struct amoptions built.
    let opts = unsafe { (*index).rd_options.cast::<HnswOptions>() };
    if opts.is_null() {
        return (M.0 as usize, EF_CONSTRUCTION.0 as usize, Quantize::None);
    }
    // SAFETY: non-null, built by amoptions; a string option's offset
    // points inside the same allocation at a NUL-terminated string.
    unsafe {
        let q = (*opts).quantize;
        let quantize = if q == 0 {
            Quantize::None
        } else {
            let s = std::ffi::CStr::from_ptr(opts.cast::<std::ffi::c_char>().add(q as usize));
            Quantize::parse(&s.to_string_lossy()).unwrap_or(Quantize::None)
        };
        ((*opts).m as usize, (*opts).ef_construction as usize, quantize)
    }
}

/// `vecstore_max_nnz` of an index (default where not given): how many
/// non-zeros each element of a new sparsevec index has room for.
pub fn index_max_nnz(index: pg_sys::Relation) -> usize {
    // SAFETY: rd_options is null or the struct amoptions built.
    let opts = unsafe { (*index).rd_options.cast::<HnswOptions>() };
    if opts.is_null() {
        return MAX_NNZ.0 as usize;
    }
    // SAFETY: non-null, built by amoptions with every field filled.
    unsafe { (*opts).max_nnz.clamp(MAX_NNZ.1, MAX_NNZ.2) as usize }
}
