//! `WITH (lists = N)` and the `ivfflat.*` GUCs, registered from `_PG_init`.

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};
use std::sync::atomic::{AtomicU32, Ordering};

/// Default and bounds of `lists` (and of the probes GUCs).
pub const LISTS: (i32, i32, i32) = (100, 1, 32768);

/// `ivfflat.probes`.
pub static PROBES: GucSetting<i32> = GucSetting::<i32>::new(1);
/// `ivfflat.iterative_scan`.
pub static ITERATIVE_SCAN: GucSetting<IterativeScan> = GucSetting::<IterativeScan>::new(IterativeScan::Off);
/// `ivfflat.max_probes`.
pub static MAX_PROBES: GucSetting<i32> = GucSetting::<i32>::new(LISTS.2);

/// Values of `ivfflat.iterative_scan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PostgresGucEnum)]
pub enum IterativeScan {
    /// Read `probes` lists, no more.
    #[name = c"off"]
    Off,
    /// When rows run out, read the next `probes` lists (each batch sorted
    /// on its own), up to `ivfflat.max_probes` lists.
    #[name = c"relaxed_order"]
    RelaxedOrder,
}

static RELOPT_KIND: AtomicU32 = AtomicU32::new(0);

/// Registers the reloption and GUCs. Called once from `_PG_init`.
pub fn init() {
    // SAFETY: called at library load; the strings are static.
    unsafe {
        let kind = pg_sys::add_reloption_kind();
        RELOPT_KIND.store(kind, Ordering::Relaxed);
        pg_sys::add_int_reloption(
            kind,
            c"lists".as_ptr(),
            c"Number of inverted lists".as_ptr(),
            LISTS.0,
            LISTS.1,
            LISTS.2,
            pg_sys::AccessExclusiveLock as i32,
        );
    }
    GucRegistry::define_int_guc(
        c"ivfflat.probes",
        c"Sets the number of probes",
        c"Valid range is 1..lists.",
        &PROBES,
        LISTS.1,
        LISTS.2,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"ivfflat.iterative_scan",
        c"Sets the mode for iterative scans",
        c"off reads ivfflat.probes lists; relaxed_order reads more lists when filters remove rows.",
        &ITERATIVE_SCAN,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"ivfflat.max_probes",
        c"Sets the max number of probes for iterative scans",
        c"Used only with iterative scans; if below ivfflat.probes, probes is used.",
        &MAX_PROBES,
        LISTS.1,
        LISTS.2,
        GucContext::Userset,
        GucFlags::default(),
    );
    // SAFETY: static prefix string; makes unknown ivfflat.* settings an error.
    unsafe { pg_sys::MarkGUCPrefixReserved(c"ivfflat".as_ptr()) };
}

/// The reloptions struct Postgres fills for us.
#[repr(C)]
struct IvfflatOptions {
    vl_len: i32,
    lists: i32,
}

/// `amoptions`: parses and validates `WITH (...)`.
#[pg_guard]
pub unsafe extern "C-unwind" fn amoptions(reloptions: pg_sys::Datum, validate: bool) -> *mut pg_sys::bytea {
    let table = [pg_sys::relopt_parse_elt {
        optname: c"lists".as_ptr(),
        opttype: pg_sys::relopt_type::RELOPT_TYPE_INT,
        offset: std::mem::offset_of!(IvfflatOptions, lists) as i32,
    }];
    // SAFETY: the table describes IvfflatOptions exactly; Postgres
    // allocates and fills a struct of that size.
    unsafe {
        pg_sys::build_reloptions(
            reloptions,
            validate,
            RELOPT_KIND.load(Ordering::Relaxed),
            std::mem::size_of::<IvfflatOptions>(),
            table.as_ptr(),
            table.len() as i32,
        )
        .cast()
    }
}

/// `lists` of an index (the default when not given).
pub fn lists(index: pg_sys::Relation) -> usize {
    // SAFETY: rd_options is null or the struct amoptions built.
    let opts = unsafe { (*index).rd_options.cast::<IvfflatOptions>() };
    if opts.is_null() {
        return LISTS.0 as usize;
    }
    // SAFETY: non-null, built by amoptions.
    unsafe { (*opts).lists as usize }
}
