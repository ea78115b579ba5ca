//! `sparsevec` values without Postgres: errors, the text form
//! `{1:1.5,3:2}/5` (1-based indices) and the binary form (int32 dim, nnz,
//! unused, nnz x int32 0-based index, nnz x float4, big-endian), checked
//! in pgvector's order with its messages.

use super::error::{check_element, SqlState, VectorError};
use super::text::{is_space, strtof, write_float, Float};

/// Most dimensions a sparsevec may have.
pub const SPARSEVEC_MAX_DIM: i64 = 1_000_000_000;
/// Most non-zero elements a sparsevec may have.
pub const SPARSEVEC_MAX_NNZ: usize = 16_000;
/// The type's name in messages.
pub const SPARSEVEC: &str = "sparsevec";

/// What went wrong with a sparsevec value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SparseError {
    /// An error shared with the dense types (syntax, NaN, range, typmod...).
    Vector(VectorError),
    /// More than 1e9 dimensions.
    TooManyDims,
    /// More than 16000 non-zero elements.
    TooManyNnz,
    /// Binary nnz below zero.
    NegativeNnz,
    /// Binary nnz above dim.
    NnzOverDim,
    /// An index outside 1..=dim (0..dim in binary).
    OutOfBounds,
    /// Binary indices not ascending.
    NotAscending,
    /// The same index twice.
    Duplicates,
    /// A zero value in binary input.
    ZeroValue,
}

impl From<VectorError> for SparseError {
    fn from(e: VectorError) -> Self {
        SparseError::Vector(e)
    }
}

impl SparseError {
    /// pgvector's message as bytes, echoing text `input` byte for byte
    /// (see [`VectorError::message_bytes_for`]).
    pub fn message_bytes(&self, input: &[u8]) -> Vec<u8> {
        match self {
            SparseError::Vector(e) => e.message_bytes_for(SPARSEVEC, input),
            _ => self.message(None).into_bytes(),
        }
    }

    /// pgvector's message, given the text input if any.
    pub fn message(&self, input: Option<&str>) -> String {
        match self {
            SparseError::Vector(e) => e.message_for(SPARSEVEC, input),
            SparseError::TooManyDims => format!("sparsevec cannot have more than {SPARSEVEC_MAX_DIM} dimensions"),
            SparseError::TooManyNnz => format!("sparsevec cannot have more than {SPARSEVEC_MAX_NNZ} non-zero elements"),
            SparseError::NegativeNnz => "sparsevec cannot have negative number of elements".into(),
            SparseError::NnzOverDim => "sparsevec cannot have more elements than dimensions".into(),
            SparseError::OutOfBounds => "sparsevec index out of bounds".into(),
            SparseError::NotAscending => "sparsevec indices must be in ascending order".into(),
            SparseError::Duplicates => "sparsevec indices must not contain duplicates".into(),
            SparseError::ZeroValue => "binary representation of sparsevec cannot contain zero values".into(),
        }
    }

    /// The DETAIL line, if any.
    pub fn detail(&self) -> Option<&'static str> {
        match self {
            SparseError::Vector(e) => e.detail(),
            _ => None,
        }
    }

    /// pgvector's SQLSTATE.
    pub fn sqlstate(&self) -> SqlState {
        match self {
            SparseError::Vector(e) => e.sqlstate(),
            SparseError::TooManyDims | SparseError::TooManyNnz | SparseError::NnzOverDim => SqlState::Limit,
            _ => SqlState::Data,
        }
    }
}

/// A sparse vector's parts: dimensions, 0-based ascending indices, values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SparseParts {
    /// Number of dimensions.
    pub dim: i32,
    /// 0-based indices, strictly ascending.
    pub indices: Vec<i32>,
    /// Non-zero finite values.
    pub values: Vec<f32>,
}

/// pgvector's `CheckDim`.
pub fn check_dim(dim: i64) -> Result<(), SparseError> {
    if dim < 1 {
        Err(VectorError::TooFewDims.into())
    } else if dim > SPARSEVEC_MAX_DIM {
        Err(SparseError::TooManyDims)
    } else {
        Ok(())
    }
}

/// pgvector's `CheckNnz`.
pub fn check_nnz(nnz: i64, dim: i64) -> Result<(), SparseError> {
    if nnz < 0 {
        Err(SparseError::NegativeNnz)
    } else if nnz > SPARSEVEC_MAX_NNZ as i64 {
        Err(SparseError::TooManyNnz)
    } else if nnz > dim {
        Err(SparseError::NnzOverDim)
    } else {
        Ok(())
    }
}

/// pgvector's `CheckExpectedDim`.
pub fn check_expected(typmod: i32, dim: i32) -> Result<(), SparseError> {
    if typmod != -1 && typmod != dim {
        Err(VectorError::ExpectedDims { expected: typmod, got: dim }.into())
    } else {
        Ok(())
    }
}

/// pgvector's `CheckIndex` for entry `i` of `indices`.
fn check_index(indices: &[i32], i: usize, dim: i32) -> Result<(), SparseError> {
    let index = indices[i];
    if index < 0 || index >= dim {
        return Err(SparseError::OutOfBounds);
    }
    if i > 0 && index < indices[i - 1] {
        return Err(SparseError::NotAscending);
    }
    if i > 0 && index == indices[i - 1] {
        return Err(SparseError::Duplicates);
    }
    Ok(())
}

fn skip_space(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    i
}

/// C's `strtol(s, &end, 10)` on a 64-bit long: the length scanned (0 if no
/// digits) and the value, saturated.
fn strtol(s: &[u8]) -> (usize, i64) {
    let mut i = skip_space(s, 0);
    let neg = s.get(i) == Some(&b'-');
    if matches!(s.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let start = i;
    let mut v: i64 = 0;
    while let Some(d) = s.get(i).filter(|c| c.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add((d - b'0') as i64);
        i += 1;
    }
    if i == start {
        return (0, 0);
    }
    (i, if neg { v.saturating_neg() } else { v })
}

/// Whether a scanned numeral has a non-zero digit before its exponent (so
/// a zero result is an underflow, which strtof reports as ERANGE).
fn nonzero_mantissa(token: &str) -> bool {
    let t = token.trim_start_matches(['+', '-']);
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        let m = hex.split(['p', 'P']).next().unwrap_or("");
        return m.bytes().any(|c| c.is_ascii_hexdigit() && c != b'0');
    }
    let m = t.split(['e', 'E']).next().unwrap_or("");
    m.bytes().any(|c| (b'1'..=b'9').contains(&c))
}

/// Parses a sparsevec literal (bytes in the database's encoding: the
/// grammar is ASCII, any other byte is a syntax error), checking the
/// typmod (-1 for none).
pub fn parse(input: &[u8], typmod: i32) -> Result<SparseParts, SparseError> {
    let syntax = || SparseError::Vector(VectorError::Syntax { detail: None });
    let s = input;
    let max_nnz = 1 + s.iter().filter(|&&c| c == b',').count();
    if max_nnz > SPARSEVEC_MAX_NNZ {
        return Err(SparseError::TooManyNnz);
    }
    let mut i = skip_space(s, 0);
    if s.get(i) != Some(&b'{') {
        return Err(VectorError::Syntax { detail: Some("Vector contents must start with \"{\".") }.into());
    }
    i = skip_space(s, i + 1);
    let mut entries: Vec<(i32, f32)> = Vec::new();
    if s.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            i = skip_space(s, i);
            if i >= s.len() {
                return Err(syntax());
            }
            let (len, index) = strtol(&s[i..]);
            if len == 0 {
                return Err(syntax());
            }
            let index = index.clamp(i32::MIN as i64 + 1, i32::MAX as i64);
            i = skip_space(s, i + len);
            if s.get(i) != Some(&b':') {
                return Err(syntax());
            }
            i = skip_space(s, i + 1);
            let (len, value) = strtof(&s[i..]);
            if len == 0 {
                return Err(syntax());
            }
            let token = super::text::token(s, i, len);
            let v = match value {
                Float::Number(v) if v.is_infinite() || (v == 0.0 && nonzero_mantissa(token)) => {
                    return Err(VectorError::OutOfRange(token.to_string()).into())
                }
                Float::Number(v) | Float::Special(v) => check_element(v)?,
            };
            if v != 0.0 {
                entries.push(((index - 1) as i32, v));
            }
            i = skip_space(s, i + len);
            match s.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return Err(syntax()),
            }
        }
    }
    i = skip_space(s, i);
    if s.get(i) != Some(&b'/') {
        return Err(VectorError::Syntax { detail: Some("Unexpected end of input.") }.into());
    }
    i = skip_space(s, i + 1);
    let (len, dim) = strtol(&s[i..]);
    if len == 0 {
        return Err(syntax());
    }
    let dim = dim.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
    if skip_space(s, i + len) != s.len() {
        return Err(VectorError::Syntax { detail: Some("Junk after closing.") }.into());
    }
    check_dim(dim as i64)?;
    check_expected(typmod, dim)?;
    entries.sort_by_key(|e| e.0);
    let (indices, values): (Vec<i32>, Vec<f32>) = entries.into_iter().unzip();
    for k in 0..indices.len() {
        check_index(&indices, k, dim)?;
    }
    Ok(SparseParts { dim, indices, values })
}

/// Prints `{i:v,...}/dim` with 1-based indices.
pub fn format(dim: i32, indices: &[i32], values: &[f32]) -> String {
    let mut out = String::with_capacity(8 + indices.len() * 16);
    out.push('{');
    for (k, (&i, &v)) in indices.iter().zip(values).enumerate() {
        if k > 0 {
            out.push(',');
        }
        out.push_str(&(i as i64 + 1).to_string());
        out.push(':');
        write_float(&mut out, v);
    }
    out.push_str("}/");
    out.push_str(&dim.to_string());
    out
}

/// Decodes the binary form from the front of `buf`; returns the parts and
/// the bytes used.
pub fn decode(buf: &[u8], typmod: i32) -> Result<(SparseParts, usize), SparseError> {
    let word = |at: usize| -> Result<[u8; 4], SparseError> {
        buf.get(at..at + 4).map(|b| [b[0], b[1], b[2], b[3]]).ok_or(SparseError::Vector(VectorError::Truncated))
    };
    let dim = i32::from_be_bytes(word(0)?);
    let nnz = i32::from_be_bytes(word(4)?);
    let unused = i32::from_be_bytes(word(8)?);
    check_dim(dim as i64)?;
    check_nnz(nnz as i64, dim as i64)?;
    check_expected(typmod, dim)?;
    if unused != 0 {
        return Err(VectorError::UnusedNotZero(unused).into());
    }
    let n = nnz as usize;
    let mut indices = Vec::with_capacity(n);
    for k in 0..n {
        indices.push(i32::from_be_bytes(word(12 + 4 * k)?));
        check_index(&indices, k, dim)?;
    }
    let mut values = Vec::with_capacity(n);
    for k in 0..n {
        let v = check_element(f32::from_be_bytes(word(12 + 4 * n + 4 * k)?))?;
        if v == 0.0 {
            return Err(SparseError::ZeroValue);
        }
        values.push(v);
    }
    Ok((SparseParts { dim, indices, values }, 12 + 8 * n))
}

/// Appends the binary form.
pub fn encode(dim: i32, indices: &[i32], values: &[f32], out: &mut Vec<u8>) {
    out.reserve(12 + 8 * indices.len());
    out.extend_from_slice(&dim.to_be_bytes());
    out.extend_from_slice(&(indices.len() as i32).to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    indices.iter().for_each(|i| out.extend_from_slice(&i.to_be_bytes()));
    values.iter().for_each(|v| out.extend_from_slice(&v.to_be_bytes()));
}

/// The non-zero entries of dense `x` (zeros and -0 dropped), with
/// pgvector's dimension, typmod and nnz checks.
pub fn from_dense(x: &[f32], typmod: i32) -> Result<SparseParts, SparseError> {
    check_dim(x.len() as i64)?;
    check_expected(typmod, x.len() as i32)?;
    let nnz = x.iter().filter(|v| **v != 0.0).count();
    check_nnz(nnz as i64, x.len() as i64)?;
    let (indices, values) = x.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(i, &v)| (i as i32, v)).unzip();
    Ok(SparseParts { dim: x.len() as i32, indices, values })
}

#[cfg(test)]
mod tests;
