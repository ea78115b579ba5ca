//! On-disk/in-memory layout of a `halfvec` datum, as pgvector's: varlena
//! header (4 bytes), int16 dim, int16 unused (0), dim x binary16;
//! 2*d + 8 bytes. `HalfVec` borrows a (detoasted) argument, `HalfVecBuf`
//! owns a palloc'd result. Also the float4-to-half conversions with
//! pgvector's errors.

use super::error::{check_dims, check_element, VectorError};
use super::text::float_text;
use crate::half::{from_f32, is_inf, to_f32};
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::pg_sys;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// The type's name in error messages.
pub const HALFVEC: &str = "halfvec";

const HEADER_BYTES: usize = 8;

#[repr(C)]
struct Header {
    vl_len: u32,
    dim: i16,
    unused: i16,
}

/// pgvector's `Float4ToHalf`: rounds to half; a finite value that becomes
/// infinite is out of range (quoted in float4's shortest form). An
/// infinite or NaN input passes through for [`check_half`] to refuse.
pub fn float4_to_half(v: f32) -> Result<u16, VectorError> {
    let h = from_f32(v);
    if is_inf(h) && !v.is_infinite() {
        return Err(VectorError::OutOfRange(float_text(v)));
    }
    Ok(h)
}

/// pgvector's `CheckElement` for halves.
pub fn check_half(h: u16) -> Result<u16, VectorError> {
    check_element(to_f32(h)).map(|_| h)
}

/// A float4 value as a valid half element (both checks above).
pub fn half_element(v: f32) -> Result<u16, VectorError> {
    float4_to_half(v).and_then(check_half)
}

/// A `halfvec` argument, detoasted, valid for the function call.
pub struct HalfVec<'a> {
    ptr: NonNull<Header>,
    _call: PhantomData<&'a [u16]>,
}

impl<'a> HalfVec<'a> {
    /// Borrows the halfvec behind a non-null datum, detoasting it if needed.
    ///
    /// # Safety
    /// `datum` must be a non-null datum of type `halfvec`, live for `'a`.
    pub unsafe fn from_datum(datum: pg_sys::Datum) -> Self {
        // SAFETY: the caller guarantees a halfvec varlena; pg_detoast_datum
        // returns it unchanged or a palloc'd, 4-byte-header, aligned copy.
        let raw = unsafe { pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) };
        let ptr = NonNull::new(raw.cast::<Header>()).expect("detoast returned null");
        HalfVec { ptr, _call: PhantomData }
    }

    /// Number of elements.
    #[inline]
    pub fn dim(&self) -> usize {
        // SAFETY: ptr is a detoasted halfvec, header fields initialised; a
        // negative field (corrupt datum) reads as empty.
        unsafe { (*self.ptr.as_ptr()).dim.max(0) as usize }
    }

    /// The elements (half bit patterns).
    #[inline]
    pub fn as_slice(&self) -> &'a [u16] {
        // SAFETY: a detoasted halfvec holds dim halves right after the
        // 8-byte header; varlenas are int-aligned, so the halves are aligned.
        unsafe {
            let data = self.ptr.as_ptr().cast::<u8>().add(HEADER_BYTES).cast::<u16>();
            std::slice::from_raw_parts(data, self.dim())
        }
    }

    /// The elements widened to float4 (exact).
    pub fn to_f32(&self) -> Vec<f32> {
        self.as_slice().iter().map(|&h| to_f32(h)).collect()
    }

    /// The whole varlena as a datum (to return an argument unchanged).
    pub fn as_datum(&self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.ptr.as_ptr())
    }
}

/// A new `halfvec` value in the current memory context.
pub struct HalfVecBuf {
    ptr: NonNull<Header>,
}

impl HalfVecBuf {
    /// A zero-filled halfvec of `dim` (1..=16000) elements.
    pub fn zeroed(dim: usize) -> Result<Self, VectorError> {
        check_dims(dim)?;
        let size = HEADER_BYTES + 2 * dim;
        // SAFETY: palloc0 returns a zeroed, MAXALIGNed block of `size` bytes
        // (or raises ERROR); the header is set before anyone reads it.
        unsafe {
            let raw = pg_sys::palloc0(size).cast::<Header>();
            pgrx::set_varsize_4b(raw.cast(), size as i32);
            // check_dims: 1 <= dim <= 16000 fits in i16.
            (*raw).dim = dim as i16;
            Ok(HalfVecBuf { ptr: NonNull::new_unchecked(raw) })
        }
    }

    /// A halfvec holding a copy of `x` (1..=16000 finite halves).
    pub fn from_slice(x: &[u16]) -> Result<Self, VectorError> {
        check_dims(x.len())?;
        for h in x {
            check_half(*h)?;
        }
        let mut v = Self::zeroed(x.len())?;
        v.as_mut_slice().copy_from_slice(x);
        Ok(v)
    }

    /// The elements, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u16] {
        // SAFETY: allocated with room for dim halves after the header; we
        // hold the only reference.
        unsafe {
            let dim = (*self.ptr.as_ptr()).dim as usize;
            let data = self.ptr.as_ptr().cast::<u8>().add(HEADER_BYTES).cast::<u16>();
            std::slice::from_raw_parts_mut(data, dim)
        }
    }

    /// The value as a datum, handing ownership to the memory context.
    pub fn into_datum(self) -> pg_sys::Datum {
        pg_sys::Datum::from(self.ptr.as_ptr())
    }
}

// SAFETY: a halfvec argument is a by-reference varlena; STRICT functions
// never see null.
unsafe impl<'fcx> ArgAbi<'fcx> for HalfVec<'fcx> {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: the SQL signature declares this argument as `halfvec`.
        let datum = unsafe { arg.unbox_arg_using_from_datum::<pg_sys::Datum>() };
        let datum = datum.unwrap_or_else(|| panic!("argument {index} must not be null"));
        // SAFETY: non-null halfvec datum owned by the caller for the call.
        unsafe { HalfVec::from_datum(datum) }
    }
}

// SAFETY: returns a palloc'd halfvec varlena, as the SQL signature promises.
unsafe impl BoxRet for HalfVecBuf {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        // SAFETY: the datum is a valid halfvec for the function's result type.
        unsafe { fcinfo.return_raw_datum(self.into_datum()) }
    }
}

// SAFETY: returning an argument unchanged hands back the caller's valid
// halfvec datum (typmod casts do this).
unsafe impl BoxRet for HalfVec<'_> {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        // SAFETY: the datum is a valid halfvec for the function's result type.
        unsafe { fcinfo.return_raw_datum(self.as_datum()) }
    }
}

// Both map to the SQL type `halfvec`, created by sql/halfvec.sql.
pgrx::impl_sql_translatable!(HalfVec<'_>, "halfvec");
pgrx::impl_sql_translatable!(HalfVecBuf, "halfvec");
