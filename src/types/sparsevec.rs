//! On-disk/in-memory layout of a `sparsevec` datum, as pgvector's: varlena
//! header (4 bytes), int32 dim, int32 nnz, int32 unused (0), nnz x int32
//! 0-based ascending indices, nnz x float4 values; 8*nnz + 16 bytes.
//! `SparseVec` borrows a (detoasted) argument, `SparseVecBuf` owns a
//! palloc'd result.

use super::error::SqlState;
use super::sparse::{SparseError, SparseParts};
use crate::distance::sparse::Sparse;
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::marker::PhantomData;
use std::ptr::NonNull;

const HEADER_BYTES: usize = 16;

#[repr(C)]
struct Header {
    vl_len: u32,
    dim: i32,
    nnz: i32,
    unused: i32,
}

/// Raises a sparsevec error with pgvector's wording and SQLSTATE.
pub fn raise_sparse(err: SparseError, input: Option<&str>) -> ! {
    let code = match err.sqlstate() {
        SqlState::InvalidText => PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        SqlState::OutOfRange => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        SqlState::Data => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        SqlState::Limit => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        SqlState::InvalidParameter => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        SqlState::Protocol => PgSqlErrorCode::ERRCODE_PROTOCOL_VIOLATION,
    };
    let message = err.message(input);
    match err.detail() {
        Some(detail) => {
            ereport!(ERROR, code, message, detail);
        }
        None => {
            ereport!(ERROR, code, message);
        }
    }
}

/// Unwraps a sparse result, raising the error in Postgres.
pub trait OrRaiseSparse<T> {
    /// The value, or an ERROR.
    fn or_raise_sparse(self) -> T;
}

impl<T> OrRaiseSparse<T> for Result<T, SparseError> {
    fn or_raise_sparse(self) -> T {
        self.unwrap_or_else(|e| raise_sparse(e, None))
    }
}

/// A `sparsevec` argument, detoasted, valid for the function call.
pub struct SparseVec<'a> {
    ptr: NonNull<Header>,
    _call: PhantomData<&'a [f32]>,
}

impl<'a> SparseVec<'a> {
    /// Borrows the sparsevec behind a non-null datum, detoasting it if needed.
    ///
    /// # Safety
    /// `datum` must be a non-null datum of type `sparsevec`, live for `'a`.
    pub unsafe fn from_datum(datum: pg_sys::Datum) -> Self {
        // SAFETY: the caller guarantees a sparsevec varlena; pg_detoast_datum
        // returns it unchanged or a palloc'd, 4-byte-header, aligned copy.
        let raw = unsafe { pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) };
        let ptr = NonNull::new(raw.cast::<Header>()).expect("detoast returned null");
        SparseVec { ptr, _call: PhantomData }
    }

    /// Number of dimensions.
    pub fn dim(&self) -> i32 {
        // SAFETY: ptr is a detoasted sparsevec with an initialised header.
        unsafe { (*self.ptr.as_ptr()).dim }
    }

    /// Number of stored (non-zero) values, bounded by the varlena's size
    /// so a corrupt header cannot make us read past the datum.
    pub fn nnz(&self) -> usize {
        // SAFETY: as in `dim`; the varlena size is in the 4-byte header.
        unsafe {
            let nnz = (*self.ptr.as_ptr()).nnz.max(0) as usize;
            let size = pgrx::varsize_any(self.ptr.as_ptr().cast());
            nnz.min(size.saturating_sub(HEADER_BYTES) / 8)
        }
    }

    /// The 0-based indices.
    pub fn indices(&self) -> &'a [i32] {
        // SAFETY: nnz int32 indices follow the 16-byte header (varlenas
        // are int-aligned); nnz() is bounded by the datum's size.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast::<u8>().add(HEADER_BYTES).cast::<i32>(), self.nnz()) }
    }

    /// The values.
    pub fn values(&self) -> &'a [f32] {
        let nnz = self.nnz();
        // SAFETY: nnz float4 values follow the indices, within the datum.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast::<u8>().add(HEADER_BYTES + 4 * nnz).cast::<f32>(), nnz) }
    }

    /// The kernels' view.
    pub fn view(&self) -> Sparse<'a> {
        Sparse { dim: self.dim(), indices: self.indices(), values: self.values() }
    }

    /// The whole varlena as a datum (to return an argument unchanged).
    pub fn as_datum(&self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.ptr.as_ptr())
    }
}

/// A new `sparsevec` value in the current memory context.
pub struct SparseVecBuf {
    ptr: NonNull<Header>,
}

impl SparseVecBuf {
    /// A sparsevec holding `dim`, `indices` and `values` (already checked
    /// by the caller: same lengths, ascending, in range).
    pub fn new(dim: i32, indices: &[i32], values: &[f32]) -> Self {
        let nnz = indices.len().min(values.len());
        let size = HEADER_BYTES + 8 * nnz;
        // SAFETY: palloc0 returns a zeroed, MAXALIGNed block of `size`
        // bytes (or raises ERROR); header and arrays are written in bounds.
        unsafe {
            let raw = pg_sys::palloc0(size).cast::<Header>();
            pgrx::set_varsize_4b(raw.cast(), size as i32);
            (*raw).dim = dim;
            (*raw).nnz = nnz as i32;
            let base = raw.cast::<u8>().add(HEADER_BYTES);
            std::ptr::copy_nonoverlapping(indices.as_ptr(), base.cast::<i32>(), nnz);
            std::ptr::copy_nonoverlapping(values.as_ptr(), base.add(4 * nnz).cast::<f32>(), nnz);
            SparseVecBuf { ptr: NonNull::new_unchecked(raw) }
        }
    }

    /// From checked parts.
    pub fn from_parts(p: &SparseParts) -> Self {
        Self::new(p.dim, &p.indices, &p.values)
    }

    /// The value as a datum, handing ownership to the memory context.
    pub fn into_datum(self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.ptr.as_ptr())
    }
}

// SAFETY: a sparsevec argument is a by-reference varlena; STRICT functions
// never see null.
unsafe impl<'fcx> ArgAbi<'fcx> for SparseVec<'fcx> {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the SQL signature declares this argument as `sparsevec`.
        let datum = unsafe { arg.unbox_arg_using_from_datum::<pg_sys::Datum>() };
        let datum = datum.unwrap_or_else(|| panic!("argument {index} must not be null"));
        // SAFETY: non-null sparsevec datum owned by the caller for the call.
        unsafe { SparseVec::from_datum(datum) }
    }
}

// SAFETY: returns a palloc'd sparsevec varlena, as the SQL signature promises.
unsafe impl BoxRet for SparseVecBuf {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        // SAFETY: the datum is a valid sparsevec for the function's result type.
        unsafe { fcinfo.return_raw_datum(self.into_datum()) }
    }
}

// SAFETY: returning an argument unchanged hands back the caller's valid
// sparsevec datum (typmod casts do this).
unsafe impl BoxRet for SparseVec<'_> {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        // SAFETY: the datum is a valid sparsevec for the function's result type.
        unsafe { fcinfo.return_raw_datum(self.as_datum()) }
    }
}

// Both map to the SQL type `sparsevec`, created by sql/sparsevec.sql.
pgrx::impl_sql_translatable!(SparseVec<'_>, "sparsevec");
pgrx::impl_sql_translatable!(SparseVecBuf, "sparsevec");
