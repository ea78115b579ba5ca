//! The text input functions of `vector`, `halfvec` and `sparsevec`
//! (`vector_in`, `halfvec_in`, `sparsevec_in`). A syntax error echoes the
//! input as the user gave it, byte for byte in the database's encoding, as
//! pgvector does (`invalid input syntax for type vector: "..."`; the server
//! converts the message to the client's encoding). pgrx's error path cannot
//! carry that: it holds messages as Rust strings and turns bytes that are
//! not UTF-8 (a LATIN1 `é`) into U+FFFD. So these three are plain V1 C
//! functions: the parse runs in a guarded function (any Postgres error or
//! Rust panic in it is raised there, as everywhere else) that returns the
//! datum or the error, its message copied into palloc'd memory; the outer
//! function, holding nothing that needs dropping, then raises it through
//! Postgres's own `errstart`/`errfinish`, whose longjmp leaves only that
//! plain frame (no destructors, no unwinding).

use super::error::SqlState;
use super::sparsevec::SparseVecBuf;
use super::{sparse, text, HalfVecBuf, VectorBuf, HALFVEC};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::{c_char, c_int, CStr};

/// What a guarded parse returns: the datum, or an error to raise.
#[repr(C)]
struct Parsed {
    datum: pg_sys::Datum,
    /// The error's SQLSTATE (MAKE_SQLSTATE form); 0 when there is none.
    sqlerrcode: c_int,
    /// The message, palloc'd and NUL-terminated (null when no error).
    message: *mut c_char,
    /// The DETAIL line, palloc'd and NUL-terminated, or null.
    detail: *mut c_char,
}

// Postgres's error-reporting entry points, declared here without pgrx's
// guard: `errfinish` at ERROR longjmps to the caller's error handler, which
// is exactly what the outer functions want (pgrx's guard would turn it back
// into a Rust error with a lossy message).
unsafe extern "C-unwind" {
    fn errstart(elevel: c_int, domain: *const c_char) -> bool;
    fn errcode(sqlerrcode: c_int) -> c_int;
    fn errmsg(fmt: *const c_char, ...) -> c_int;
    fn errdetail(fmt: *const c_char, ...) -> c_int;
    fn errfinish(filename: *const c_char, lineno: c_int, funcname: *const c_char);
}

/// The Postgres error code of a type error's SQLSTATE.
fn pg_code(state: SqlState) -> PgSqlErrorCode {
    match state {
        SqlState::InvalidText => PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        SqlState::OutOfRange => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        SqlState::Data => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        SqlState::Limit => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        SqlState::InvalidParameter => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        SqlState::Protocol => PgSqlErrorCode::ERRCODE_PROTOCOL_VIOLATION,
    }
}

/// A palloc'd NUL-terminated copy of `bytes` (which hold no NUL: they come
/// from a C string and ASCII text).
fn palloc_cstr(bytes: &[u8]) -> *mut c_char {
    // SAFETY: palloc returns `len + 1` writable bytes in the current memory
    // context (or raises, inside the guarded caller); the copy stays within.
    unsafe {
        let p = pg_sys::palloc(bytes.len() + 1).cast::<u8>();
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        *p.add(bytes.len()) = 0;
        p.cast()
    }
}

impl Parsed {
    fn value(datum: pg_sys::Datum) -> Self {
        Parsed { datum, sqlerrcode: 0, message: std::ptr::null_mut(), detail: std::ptr::null_mut() }
    }

    fn error(state: SqlState, message: &[u8], detail: Option<&str>) -> Self {
        Parsed {
            datum: pg_sys::Datum::from(0usize),
            sqlerrcode: pg_code(state) as c_int,
            message: palloc_cstr(message),
            detail: detail.map_or(std::ptr::null_mut(), |d| palloc_cstr(d.as_bytes())),
        }
    }
}

/// The input text (argument 0, a cstring) and typmod (argument 2).
///
/// # Safety
/// `fcinfo` is a call of a `(cstring, oid, int4)` function, strict.
unsafe fn args<'a>(fcinfo: pg_sys::FunctionCallInfo) -> (&'a [u8], i32) {
    // SAFETY: the caller guarantees three non-null arguments, the first a
    // NUL-terminated string that lives for the call.
    unsafe {
        let input = pgrx::fcinfo::pg_getarg_datum_raw(fcinfo, 0).cast_mut_ptr::<c_char>();
        let typmod = pgrx::fcinfo::pg_getarg_datum_raw(fcinfo, 2).value() as i32;
        (CStr::from_ptr(input).to_bytes(), typmod)
    }
}

/// Returns the datum, or raises the error with its message as bytes.
///
/// # Safety
/// Called from the outer V1 function only, with nothing live that needs
/// dropping: on error, `errfinish` longjmps out of this frame and the
/// caller's.
unsafe fn finish(p: Parsed, funcname: &'static CStr) -> pg_sys::Datum {
    if p.sqlerrcode == 0 {
        return p.datum;
    }
    // SAFETY: the message and detail are palloc'd NUL-terminated strings
    // passed through "%s"; errstart at ERROR always returns true, and
    // errfinish at ERROR does not return.
    unsafe {
        if errstart(pg_sys::PGERROR as c_int, std::ptr::null()) {
            errcode(p.sqlerrcode);
            errmsg(c"%s".as_ptr(), p.message);
            if !p.detail.is_null() {
                errdetail(c"%s".as_ptr(), p.detail);
            }
            errfinish(c"input.rs".as_ptr(), line!() as c_int, funcname.as_ptr());
        }
    }
    std::process::abort()
}

#[pg_guard]
unsafe extern "C-unwind" fn vector_in_guarded(fcinfo: pg_sys::FunctionCallInfo) -> Parsed {
    // SAFETY: vector_in is declared (cstring, oid, int4) STRICT.
    let (input, typmod) = unsafe { args(fcinfo) };
    match text::parse_vector(input, typmod).and_then(|x| VectorBuf::from_slice(&x)) {
        Ok(v) => Parsed::value(v.into_datum()),
        Err(e) => Parsed::error(e.sqlstate(), &e.message_bytes_for("vector", input), e.detail()),
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn halfvec_in_guarded(fcinfo: pg_sys::FunctionCallInfo) -> Parsed {
    // SAFETY: halfvec_in is declared (cstring, oid, int4) STRICT.
    let (input, typmod) = unsafe { args(fcinfo) };
    match text::parse_halfvec(input, typmod).and_then(|x| HalfVecBuf::from_slice(&x)) {
        Ok(v) => Parsed::value(v.into_datum()),
        Err(e) => Parsed::error(e.sqlstate(), &e.message_bytes_for(HALFVEC, input), e.detail()),
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn sparsevec_in_guarded(fcinfo: pg_sys::FunctionCallInfo) -> Parsed {
    // SAFETY: sparsevec_in is declared (cstring, oid, int4) STRICT.
    let (input, typmod) = unsafe { args(fcinfo) };
    match sparse::parse(input, typmod) {
        Ok(p) => Parsed::value(SparseVecBuf::from_parts(&p).into_datum()),
        Err(e) => Parsed::error(e.sqlstate(), &e.message_bytes(input), e.detail()),
    }
}

/// Defines the V1 function `$wrapper` (the symbol the SQL names) and its
/// info record, calling `$guarded` then [`finish`].
macro_rules! text_input {
    ($wrapper:ident, $finfo:ident, $guarded:ident, $name:literal) => {
        /// A `*_in(cstring, oid, int4)` function: text input, checked
        /// against the typmod (see the module's documentation).
        ///
        /// # Safety
        /// Called by Postgres as a V1 function of `(cstring, oid, int4)`,
        /// STRICT, as the SQL declares it.
        #[unsafe(no_mangle)]
        pub unsafe extern "C-unwind" fn $wrapper(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
            // SAFETY: Postgres calls this with the function's arguments;
            // the guarded parse raises its own errors; `finish` runs with
            // nothing else live in this frame.
            unsafe {
                let p = $guarded(fcinfo);
                finish(p, $name)
            }
        }

        #[doc(hidden)]
        #[unsafe(no_mangle)]
        pub extern "C" fn $finfo() -> &'static pg_sys::Pg_finfo_record {
            const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
            &V1
        }
    };
}

text_input!(vector_in_wrapper, pg_finfo_vector_in_wrapper, vector_in_guarded, c"vector_in");
text_input!(halfvec_in_wrapper, pg_finfo_halfvec_in_wrapper, halfvec_in_guarded, c"halfvec_in");
text_input!(sparsevec_in_wrapper, pg_finfo_sparsevec_in_wrapper, sparsevec_in_guarded, c"sparsevec_in");
