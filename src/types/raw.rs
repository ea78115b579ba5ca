//! Raw Postgres values the SQL functions need besides `vector`: cstring,
//! the receive buffer, typmod arrays, numeric arrays and `bit`.

use super::datum::RawDatum;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::borrow::Cow;
use std::ffi::CStr;

/// The C string behind a `cstring` argument.
pub fn cstring(arg: &RawDatum) -> &CStr {
    // SAFETY: the SQL signature declares the argument `cstring`, a
    // NUL-terminated string that lives for the call.
    unsafe { CStr::from_ptr(arg.0.cast_mut_ptr::<std::ffi::c_char>()) }
}

/// Runs `decode` over the unread part of a receive buffer (`internal`
/// argument of a RECEIVE function) and advances the cursor by what it used.
pub fn with_recv_buffer<T>(arg: &RawDatum, decode: impl FnOnce(&[u8]) -> (T, usize)) -> T {
    let info = arg.0.cast_mut_ptr::<pg_sys::StringInfoData>();
    // SAFETY: a RECEIVE function's first argument is a StringInfo whose
    // data[cursor..len] is initialised; we only read that range and move the
    // cursor within it.
    unsafe {
        let cursor = (*info).cursor as usize;
        let len = (*info).len as usize;
        let data = std::slice::from_raw_parts((*info).data.cast::<u8>().add(cursor), len - cursor);
        let (value, used) = decode(data);
        (*info).cursor += used.min(len - cursor) as i32;
        value
    }
}

/// The integers of a `cstring[]` typmod list (Postgres parses and checks
/// that each is an integer).
pub fn typmods(arg: &RawDatum) -> Vec<i32> {
    let mut n = 0;
    // SAFETY: TYPMOD_IN functions receive a cstring[]; ArrayGetIntegerTypmods
    // returns a palloc'd array of n ints (or raises ERROR).
    unsafe {
        let arr = pg_sys::pg_detoast_datum(arg.0.cast_mut_ptr()).cast::<pg_sys::ArrayType>();
        let ints = pg_sys::ArrayGetIntegerTypmods(arr, &mut n);
        std::slice::from_raw_parts(ints, n.max(0) as usize).to_vec()
    }
}

/// Why an array cannot become a vector.
pub enum ArrayError {
    /// More than one dimension.
    NotOneD,
    /// A NULL element.
    HasNulls,
    /// Element type other than int4, float4, float8, numeric.
    UnsupportedType,
}

/// Elements of a one-dimensional int4/float4/float8/numeric array as f32
/// (numeric through Postgres's own numeric_float4, with its range errors).
/// `check_len` sees the element count before any element is converted, so
/// dimension and typmod errors come first, as in pgvector.
pub fn array_to_floats(arg: &RawDatum, check_len: impl FnOnce(usize)) -> Result<Vec<f32>, ArrayError> {
    // SAFETY: the SQL signatures of array_to_vector only accept those four
    // array types; deconstruct_array gives palloc'd element and null arrays
    // of `n` entries, read within bounds.
    unsafe {
        let arr = pg_sys::pg_detoast_datum(arg.0.cast_mut_ptr()).cast::<pg_sys::ArrayType>();
        if (*arr).ndim > 1 {
            return Err(ArrayError::NotOneD);
        }
        let elemtype = (*arr).elemtype;
        let (mut typlen, mut byval, mut align) = (0i16, false, 0 as std::ffi::c_char);
        pg_sys::get_typlenbyvalalign(elemtype, &mut typlen, &mut byval, &mut align);
        let (mut elems, mut nulls, mut n) = (std::ptr::null_mut(), std::ptr::null_mut(), 0);
        pg_sys::deconstruct_array(arr, elemtype, typlen as i32, byval, align, &mut elems, &mut nulls, &mut n);
        let n = n.max(0) as usize;
        if n > 0 && std::slice::from_raw_parts(nulls, n).iter().any(|&b| b) {
            return Err(ArrayError::HasNulls);
        }
        check_len(n);
        let elems = if n > 0 { std::slice::from_raw_parts(elems, n) } else { &[] };
        let convert: fn(pg_sys::Datum) -> f32 = match elemtype {
            pg_sys::INT4OID => |d| d.value() as i32 as f32,
            pg_sys::FLOAT4OID => |d| f32::from_bits(d.value() as u32),
            pg_sys::FLOAT8OID => |d| f64::from_bits(d.value() as u64) as f32,
            pg_sys::NUMERICOID => |d| {
                pgrx::direct_function_call::<f32>(pg_sys::numeric_float4, &[Some(d)]).unwrap_or(0.0)
            },
            _ => return Err(ArrayError::UnsupportedType),
        };
        Ok(elems.iter().map(|&d| convert(d)).collect())
    }
}

/// The values of an aggregate state (`float8[]`, `[n, sum_1, ..., sum_d]`),
/// checked as pgvector checks them before reading: one dimension, at least
/// one element, no null bitmap, element type float8. Anything else raises
/// `<caller>: expected state array` as an internal error (XX000), pgvector's
/// wording and code: users can pass any float8[] to these functions.
pub fn state_array<'a>(arg: &'a RawDatum, caller: &str) -> Cow<'a, [f64]> {
    // SAFETY: the SQL signatures declare the argument float8[], a non-null
    // array; pg_detoast_datum returns it (or a palloc'd flat copy, also for
    // an expanded array) with a 4-byte header, valid for the call. The
    // header fields are read first; dims[0] only once ndim == 1; the data
    // only once there is no null bitmap and the elements are float8, so it
    // holds dims[0] contiguous doubles.
    unsafe {
        let arr = pg_sys::pg_detoast_datum(arg.0.cast_mut_ptr()).cast::<pg_sys::ArrayType>();
        let mut raw = pgrx::array::RawArray::from_ptr(std::ptr::NonNull::new_unchecked(arr));
        let header = &*arr;
        let valid = header.ndim == 1
            && raw.dims()[0] >= 1
            && header.dataoffset == 0
            && header.elemtype == pg_sys::FLOAT8OID;
        if !valid {
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                format!("{caller}: expected state array")
            );
        }
        let data = raw.data::<f64>();
        if data.cast::<f64>().as_ptr().is_aligned() {
            Cow::Borrowed(&*data.as_ptr())
        } else {
            let first = data.cast::<f64>().as_ptr();
            Cow::Owned((0..data.len()).map(|i| first.add(i).read_unaligned()).collect())
        }
    }
}

/// Raises the error for an array that cannot become a vector.
pub fn raise_array_error(e: ArrayError) -> ! {
    match e {
        ArrayError::NotOneD => {
            ereport!(ERROR, PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, "array must be 1-D");
        }
        ArrayError::HasNulls => {
            ereport!(ERROR, PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED, "array must not contain nulls");
        }
        ArrayError::UnsupportedType => {
            ereport!(ERROR, PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, "unsupported array type");
        }
    }
}

/// A `bit(n)` value with bit i set where `bits[i]`.
pub fn varbit(bits: &[bool]) -> RawDatum {
    let nbytes = bits.len().div_ceil(8);
    let total = 4 + 4 + nbytes;
    // SAFETY: palloc0 gives `total` zeroed bytes; VarBit is varlena header,
    // int32 bit length, then the bits most significant first.
    unsafe {
        let raw = pg_sys::palloc0(total).cast::<u8>();
        pgrx::set_varsize_4b(raw.cast(), total as i32);
        raw.add(4).cast::<i32>().write_unaligned(bits.len() as i32);
        let data = std::slice::from_raw_parts_mut(raw.add(8), nbytes);
        for (i, _) in bits.iter().enumerate().filter(|(_, b)| **b) {
            data[i / 8] |= 0x80 >> (i % 8);
        }
        RawDatum(pg_sys::Datum::from(raw))
    }
}

/// The bit length and packed bytes (most significant bit first) of a
/// `bit`/`varbit` argument, detoasted; valid for the call.
pub fn varbit_bits(arg: &RawDatum) -> (usize, &[u8]) {
    // SAFETY: the SQL signature declares the argument bit; the detoasted
    // VarBit is a varlena header, int32 bit length, then ceil(len/8) bytes.
    unsafe {
        let raw = pg_sys::pg_detoast_datum(arg.0.cast_mut_ptr()).cast::<u8>();
        let bit_len = raw.add(4).cast::<i32>().read_unaligned().max(0) as usize;
        (bit_len, std::slice::from_raw_parts(raw.add(8), bit_len.div_ceil(8)))
    }
}
