//! Errors of the vector codecs and operations, independent of Postgres.
//! The glue maps each to pgvector's wording and SQLSTATE (see `sqlstate`).

/// Most dimensions a vector may have.
pub const VECTOR_MAX_DIM: usize = 16000;

/// What went wrong with a vector value or operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VectorError {
    /// Text input is not a vector literal; `detail` as pgvector gives it.
    Syntax { detail: Option<&'static str> },
    /// A numeric element overflows float4 (the offending token).
    OutOfRange(String),
    /// `NaN` element.
    NaN,
    /// Infinite element.
    Infinite,
    /// Zero elements.
    TooFewDims,
    /// More than [`VECTOR_MAX_DIM`] elements.
    TooManyDims,
    /// Typmod says `expected`, value has `got`.
    ExpectedDims { expected: i32, got: i32 },
    /// Two operands of different sizes.
    DifferentDims(usize, usize),
    /// Binary input's reserved field was not zero.
    UnusedNotZero(i32),
    /// Binary input ended early.
    Truncated,
    /// Arithmetic overflowed float4.
    Overflow,
    /// Arithmetic underflowed to zero.
    Underflow,
}

/// SQLSTATE classes used (the five-character codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlState {
    /// 22P02 invalid_text_representation
    InvalidText,
    /// 22003 numeric_value_out_of_range
    OutOfRange,
    /// 22000 data_exception
    Data,
    /// 54000 program_limit_exceeded
    Limit,
    /// 22023 invalid_parameter_value
    InvalidParameter,
    /// 08P01 protocol_violation
    Protocol,
}

impl VectorError {
    /// The message pgvector prints, given the original text input if any.
    pub fn message(&self, input: Option<&str>) -> String {
        self.message_for("vector", input)
    }

    /// The message pgvector prints for a value of type `ty` (`vector`,
    /// `halfvec`), given the original text input if any.
    pub fn message_for(&self, ty: &str, input: Option<&str>) -> String {
        match self {
            VectorError::Syntax { .. } => {
                format!("invalid input syntax for type {ty}: \"{}\"", input.unwrap_or(""))
            }
            VectorError::OutOfRange(tok) => format!("\"{tok}\" is out of range for type {ty}"),
            VectorError::NaN => format!("NaN not allowed in {ty}"),
            VectorError::Infinite => format!("infinite value not allowed in {ty}"),
            VectorError::TooFewDims => format!("{ty} must have at least 1 dimension"),
            VectorError::TooManyDims => {
                format!("{ty} cannot have more than {VECTOR_MAX_DIM} dimensions")
            }
            VectorError::ExpectedDims { expected, got } => {
                format!("expected {expected} dimensions, not {got}")
            }
            VectorError::DifferentDims(a, b) => format!("different {ty} dimensions {a} and {b}"),
            VectorError::UnusedNotZero(u) => format!("expected unused to be 0, not {u}"),
            VectorError::Truncated => "insufficient data left in message".into(),
            VectorError::Overflow => "value out of range: overflow".into(),
            VectorError::Underflow => "value out of range: underflow".into(),
        }
    }

    /// [`VectorError::message_for`] as bytes, with text `input` in the
    /// database's encoding echoed byte for byte (as pgvector does; the
    /// server converts the message to the client's encoding).
    pub fn message_bytes_for(&self, ty: &str, input: &[u8]) -> Vec<u8> {
        match self {
            VectorError::Syntax { .. } => {
                let mut out = format!("invalid input syntax for type {ty}: \"").into_bytes();
                out.extend_from_slice(input);
                out.push(b'"');
                out
            }
            _ => self.message_for(ty, None).into_bytes(),
        }
    }

    /// The DETAIL line, if pgvector gives one.
    pub fn detail(&self) -> Option<&'static str> {
        match self {
            VectorError::Syntax { detail } => *detail,
            _ => None,
        }
    }

    /// The SQLSTATE pgvector raises for this error.
    pub fn sqlstate(&self) -> SqlState {
        match self {
            VectorError::Syntax { .. } => SqlState::InvalidText,
            VectorError::OutOfRange(_) | VectorError::Overflow | VectorError::Underflow => {
                SqlState::OutOfRange
            }
            VectorError::TooManyDims => SqlState::Limit,
            VectorError::Truncated => SqlState::Protocol,
            _ => SqlState::Data,
        }
    }
}

/// Checks one element is finite.
#[inline]
pub fn check_element(x: f32) -> Result<f32, VectorError> {
    if x.is_nan() {
        Err(VectorError::NaN)
    } else if x.is_infinite() {
        Err(VectorError::Infinite)
    } else {
        Ok(x)
    }
}

/// Checks a dimension count is within 1..=16000.
#[inline]
pub fn check_dims(dim: usize) -> Result<(), VectorError> {
    if dim < 1 {
        Err(VectorError::TooFewDims)
    } else if dim > VECTOR_MAX_DIM {
        Err(VectorError::TooManyDims)
    } else {
        Ok(())
    }
}

/// Checks a value's dimensions against a typmod (-1 means unconstrained).
#[inline]
pub fn check_expected_dims(typmod: i32, dim: usize) -> Result<(), VectorError> {
    if typmod != -1 && typmod as i64 != dim as i64 {
        Err(VectorError::ExpectedDims { expected: typmod, got: dim as i32 })
    } else {
        Ok(())
    }
}

/// Checks two operands have the same dimensions.
#[inline]
pub fn check_same_dims(a: usize, b: usize) -> Result<(), VectorError> {
    if a != b {
        Err(VectorError::DifferentDims(a, b))
    } else {
        Ok(())
    }
}
