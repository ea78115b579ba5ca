//! On-disk/in-memory layout of a `vector` datum, as pgvector's:
//! varlena header (4 bytes), int16 dim, int16 unused (0), dim x float4;
//! 4*d + 8 bytes. `Vector` borrows a (detoasted) argument, `VectorBuf`
//! owns a palloc'd result. Also the bridge from [`VectorError`] to ereport.

use super::error::{check_dims, check_element, SqlState, VectorError};
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// Bytes before the first element.
pub const HEADER_BYTES: usize = 8;

#[repr(C)]
struct Header {
    vl_len: u32,
    dim: i16,
    unused: i16,
}

/// Raises `err` as a Postgres ERROR with pgvector's wording and SQLSTATE.
/// `input` is the original text, for syntax errors.
pub fn raise(err: VectorError, input: Option<&str>) -> ! {
    raise_as(err, "vector", input)
}

/// Raises `err` for a value of type `ty` (`vector`, `halfvec`).
pub fn raise_as(err: VectorError, ty: &str, input: Option<&str>) -> ! {
    let code = match err.sqlstate() {
        SqlState::InvalidText => PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        SqlState::OutOfRange => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        SqlState::Data => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        SqlState::Limit => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        SqlState::InvalidParameter => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        SqlState::Protocol => PgSqlErrorCode::ERRCODE_PROTOCOL_VIOLATION,
    };
    let message = err.message_for(ty, input);
    match err.detail() {
        Some(detail) => {
            ereport!(ERROR, code, message, detail);
        }
        None => {
            ereport!(ERROR, code, message);
        }
    }
}

/// Unwraps a vector result, raising the error in Postgres.
pub trait OrRaise<T> {
    /// The value, or an ERROR.
    fn or_raise(self) -> T;
    /// The value, or an ERROR worded for type `ty`.
    fn or_raise_as(self, ty: &str) -> T;
}

impl<T> OrRaise<T> for Result<T, VectorError> {
    fn or_raise(self) -> T {
        self.unwrap_or_else(|e| raise(e, None))
    }
    fn or_raise_as(self, ty: &str) -> T {
        self.unwrap_or_else(|e| raise_as(e, ty, None))
    }
}

/// A `vector` argument, detoasted, valid for the function call.
pub struct Vector<'a> {
    ptr: NonNull<Header>,
    _call: PhantomData<&'a [f32]>,
}

impl<'a> Vector<'a> {
    /// Borrows the vector behind a non-null datum, detoasting it if needed.
    ///
    /// # Safety
    /// `datum` must be a non-null datum of type `vector`, live for `'a`.
    pub unsafe fn from_datum(datum: pg_sys::Datum) -> Self {
        // SAFETY: the caller guarantees a vector varlena; pg_detoast_datum
        // returns it unchanged or a palloc'd, 4-byte-header, aligned copy.
        let raw = unsafe { pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) };
        let ptr = NonNull::new(raw.cast::<Header>()).expect("detoast returned null");
        Vector { ptr, _call: PhantomData }
    }

    /// Number of elements.
    #[inline]
    pub fn dim(&self) -> usize {
        // SAFETY: ptr is a detoasted vector, header fields are initialised.
        // Every vector we build has 1..=16000 elements; a negative field
        // (a corrupt datum) reads as empty rather than as a huge length.
        unsafe { (*self.ptr.as_ptr()).dim.max(0) as usize }
    }

    /// The elements.
    #[inline]
    pub fn as_slice(&self) -> &'a [f32] {
        // SAFETY: a detoasted vector holds dim float4 right after the 8-byte
        // header; varlenas are int-aligned, so the floats are aligned.
        unsafe {
            let data = self.ptr.as_ptr().cast::<u8>().add(HEADER_BYTES).cast::<f32>();
            std::slice::from_raw_parts(data, self.dim())
        }
    }

    /// The whole varlena as a datum (to return an argument unchanged).
    pub fn as_datum(&self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.ptr.as_ptr())
    }
}

/// A new `vector` value in the current memory context.
pub struct VectorBuf {
    ptr: NonNull<Header>,
}

impl VectorBuf {
    /// A zero-filled vector of `dim` elements. `dim` must be 1..=16000
    /// (pgvector's dimension errors otherwise), so the int16 dim field can
    /// never wrap and no caller can build an invalid vector.
    pub fn zeroed(dim: usize) -> Result<Self, VectorError> {
        check_dims(dim)?;
        let size = HEADER_BYTES + 4 * dim;
        // SAFETY: palloc0 returns a zeroed, MAXALIGNed block of `size` bytes
        // (or raises ERROR); we fill in the header before anyone reads it.
        unsafe {
            let raw = pg_sys::palloc0(size).cast::<Header>();
            pgrx::set_varsize_4b(raw.cast(), size as i32);
            // check_dims above: 1 <= dim <= 16000 fits in i16.
            (*raw).dim = dim as i16;
            Ok(VectorBuf { ptr: NonNull::new_unchecked(raw) })
        }
    }

    /// A vector holding a copy of `x`, which must be a valid value:
    /// 1..=16000 elements, all finite.
    pub fn from_slice(x: &[f32]) -> Result<Self, VectorError> {
        check_dims(x.len())?;
        for v in x {
            check_element(*v)?;
        }
        let mut v = Self::zeroed(x.len())?;
        v.as_mut_slice().copy_from_slice(x);
        Ok(v)
    }

    /// The elements, writable.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        // SAFETY: the block was allocated with room for dim floats after the
        // header, and we hold the only reference to it.
        unsafe {
            let dim = (*self.ptr.as_ptr()).dim as usize;
            let data = self.ptr.as_ptr().cast::<u8>().add(HEADER_BYTES).cast::<f32>();
            std::slice::from_raw_parts_mut(data, dim)
        }
    }

    /// The value as a datum, handing ownership to the memory context.
    pub fn into_datum(self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.ptr.as_ptr())
    }
}

// SAFETY: a vector argument is a by-reference varlena; STRICT functions never
// see null, and the nullable path below maps SQL null to Nullable::Null.
unsafe impl<'fcx> ArgAbi<'fcx> for Vector<'fcx> {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the SQL signature declares this argument as `vector`.
        let datum = unsafe { arg.unbox_arg_using_from_datum::<pg_sys::Datum>() };
        let datum = datum.unwrap_or_else(|| panic!("argument {index} must not be null"));
        // SAFETY: non-null vector datum owned by the caller for the call.
        unsafe { Vector::from_datum(datum) }
    }
}

// SAFETY: returns a palloc'd vector varlena, which is what the SQL signature
// promises.
unsafe impl BoxRet for VectorBuf {
    unsafe fn box_into<'fcx>(mut self, fcinfo: &mut FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        // Every producer checks overflow and NaN before returning.
        debug_assert!(self.as_mut_slice().iter().all(|v| v.is_finite()), "non-finite vector element");
        // SAFETY: the datum is a valid vector for the function's result type.
        unsafe { fcinfo.return_raw_datum(self.into_datum()) }
    }
}

// Both map to the SQL type `vector`, created by sql/vector.sql.
pgrx::impl_sql_translatable!(Vector<'_>, "vector");
pgrx::impl_sql_translatable!(VectorBuf, "vector");

// SAFETY: returning an argument unchanged hands back the caller's valid
// vector datum (typmod casts do this).
unsafe impl BoxRet for Vector<'_> {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        // SAFETY: the datum is a valid vector for the function's result type.
        unsafe { fcinfo.return_raw_datum(self.as_datum()) }
    }
}

/// A datum passed through untyped: cstring, internal, arrays, bit. The
/// function that takes or returns it owns the interpretation.
pub struct RawDatum(pub pg_sys::Datum);

// SAFETY: a plain Datum can be read from any non-null argument; STRICT
// functions are never called with null ones.
unsafe impl<'fcx> ArgAbi<'fcx> for RawDatum {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: any datum can be read as pg_sys::Datum.
        let datum = unsafe { arg.unbox_arg_using_from_datum::<pg_sys::Datum>() };
        RawDatum(datum.unwrap_or_else(|| panic!("argument {index} must not be null")))
    }
}

// SAFETY: the function producing a RawDatum builds a value of its declared
// SQL result type.
unsafe impl BoxRet for RawDatum {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        // SAFETY: see the impl's comment.
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}

pgrx::impl_sql_translatable!(RawDatum, "internal");
