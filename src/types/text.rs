//! Text form of `vector`: `[1,2,3]`. Parsing follows pgvector's `vector_in`
//! (elements read like C `strtof`, including `inf`, `nan` and hex floats);
//! printing gives the shortest round-trip digits in Postgres's float4 style.

use super::error::{check_dims, check_element, check_expected_dims, VectorError, VECTOR_MAX_DIM};
use std::fmt::Write;

const SYNTAX: VectorError = VectorError::Syntax { detail: None };

pub(crate) fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn skip_space(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    i
}

/// Parses a vector literal (bytes in the database's encoding: the grammar
/// is ASCII, any other byte is a syntax error), checking the typmod (-1
/// for none).
pub fn parse_vector(input: &[u8], typmod: i32) -> Result<Vec<f32>, VectorError> {
    parse_with(input, typmod, |token, value| match value {
        Float::Number(v) if v.is_infinite() => Err(VectorError::OutOfRange(token.to_string())),
        Float::Number(v) | Float::Special(v) => check_element(v),
    })
}

/// Parses a halfvec literal (same grammar as vector): each token is read
/// as float4, then rounded to half; a finite number that rounds to
/// infinity is out of range, like a float4 overflow.
pub fn parse_halfvec(input: &[u8], typmod: i32) -> Result<Vec<u16>, VectorError> {
    use crate::half::{from_f32, is_inf, to_f32};
    parse_with(input, typmod, |token, value| {
        let (v, number) = match value {
            Float::Number(v) => (v, true),
            Float::Special(v) => (v, false),
        };
        let h = from_f32(v);
        if number && (v.is_infinite() || is_inf(h)) {
            return Err(VectorError::OutOfRange(token.to_string()));
        }
        check_element(to_f32(h)).map(|_| h)
    })
}

/// The literal grammar shared by vector and halfvec; `element` turns each
/// scanned token into an element (or its error).
fn parse_with<T>(
    input: &[u8],
    typmod: i32,
    element: impl Fn(&str, Float) -> Result<T, VectorError>,
) -> Result<Vec<T>, VectorError> {
    let s = input;
    let mut i = skip_space(s, 0);
    if s.get(i) != Some(&b'[') {
        return Err(VectorError::Syntax { detail: Some("Vector contents must start with \"[\".") });
    }
    i = skip_space(s, i + 1);
    if s.get(i) == Some(&b']') {
        return Err(VectorError::TooFewDims);
    }
    let mut out = Vec::new();
    loop {
        if out.len() == VECTOR_MAX_DIM {
            return Err(VectorError::TooManyDims);
        }
        i = skip_space(s, i);
        if i >= s.len() {
            return Err(SYNTAX);
        }
        let (len, value) = strtof(&s[i..]);
        if len == 0 {
            return Err(SYNTAX);
        }
        out.push(element(token(s, i, len), value)?);
        i = skip_space(s, i + len);
        match s.get(i) {
            Some(b',') => i += 1,
            Some(b']') => {
                i += 1;
                break;
            }
            _ => return Err(SYNTAX),
        }
    }
    if skip_space(s, i) != s.len() {
        return Err(VectorError::Syntax { detail: Some("Junk after closing right brace.") });
    }
    check_dims(out.len())?;
    check_expected_dims(typmod, out.len())?;
    Ok(out)
}

/// The `len` bytes at `i`, a token [`strtof`] or `strtol` scanned: ASCII
/// only, so always text.
pub(crate) fn token(s: &[u8], i: usize, len: usize) -> &str {
    std::str::from_utf8(&s[i..i + len]).unwrap_or_default()
}

/// A scanned float: a numeral (whose overflow is a range error) or a
/// spelled-out `inf`/`nan`.
pub(crate) enum Float {
    /// A numeral (overflow gives an infinity).
    Number(f32),
    /// `inf`, `infinity` or `nan`.
    Special(f32),
}

/// Scans the longest prefix of `s` that C's `strtof` accepts (after the
/// caller skipped white space); returns its length (0: none) and value.
pub(crate) fn strtof(s: &[u8]) -> (usize, Float) {
    let mut i = 0;
    let neg = matches!(s.first(), Some(b'-'));
    if matches!(s.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let sign = if neg { -1.0f32 } else { 1.0 };
    let rest = &s[i..];
    let starts = |word: &[u8]| rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word);
    if starts(b"infinity") {
        return (i + 8, Float::Special(sign * f32::INFINITY));
    }
    if starts(b"inf") {
        return (i + 3, Float::Special(sign * f32::INFINITY));
    }
    if starts(b"nan") {
        let mut j = i + 3;
        // strtof also takes "nan(chars)".
        if s.get(j) == Some(&b'(') {
            let mut k = j + 1;
            while k < s.len() && (s[k].is_ascii_alphanumeric() || s[k] == b'_') {
                k += 1;
            }
            if s.get(k) == Some(&b')') {
                j = k + 1;
            }
        }
        return (j, Float::Special(f32::NAN));
    }
    if rest.len() > 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        if let Some((len, v)) = hex_float(&rest[2..]) {
            return (i + 2 + len, Float::Number(sign * v));
        }
    }
    let start = i;
    let mut digits = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if i < s.len() && s[i] == b'.' {
        i += 1;
        while i < s.len() && s[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return (0, Float::Number(0.0));
    }
    if i < s.len() && (s[i] | 0x20) == b'e' {
        let mut j = i + 1;
        if matches!(s.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if s.get(j).is_some_and(u8::is_ascii_digit) {
            while j < s.len() && s[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    // The scanned bytes are ASCII digits, '.', 'e' and signs: valid UTF-8 and
    // a grammar Rust's correctly rounded parser accepts.
    let text = std::str::from_utf8(&s[start..i]).unwrap_or("0");
    let v: f32 = text.parse().unwrap_or(0.0);
    (i, Float::Number(sign * v))
}

/// Parses the part of a hex float after `0x`: hex digits, optional `.` and
/// fraction, optional binary exponent `p[+-]digits`. Rounds through f64,
/// which is exact for up to 13 significant hex digits.
fn hex_float(s: &[u8]) -> Option<(usize, f32)> {
    let mut i = 0;
    let mut mant = 0f64;
    let mut exp: i64 = 0;
    let mut digits = 0;
    let hexval = |c: u8| (c as char).to_digit(16);
    while let Some(d) = s.get(i).and_then(|&c| hexval(c)) {
        mant = mant * 16.0 + d as f64;
        i += 1;
        digits += 1;
    }
    if s.get(i) == Some(&b'.') {
        i += 1;
        while let Some(d) = s.get(i).and_then(|&c| hexval(c)) {
            mant = mant * 16.0 + d as f64;
            exp -= 4;
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if s.get(i).is_some_and(|c| (c | 0x20) == b'p') {
        let mut j = i + 1;
        let neg = s.get(j) == Some(&b'-');
        if matches!(s.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if s.get(j).is_some_and(u8::is_ascii_digit) {
            let mut e: i64 = 0;
            while let Some(c) = s.get(j).filter(|c| c.is_ascii_digit()) {
                e = (e * 10 + (c - b'0') as i64).min(100_000);
                j += 1;
            }
            exp += if neg { -e } else { e };
            i = j;
        }
    }
    let v = mant * 2f64.powi(exp.clamp(-2000, 2000) as i32);
    Some((i, v as f32))
}

/// Appends `v` as Postgres prints a float4: shortest digits that read back
/// to the same value, fixed notation for decimal exponents -4..=5, else
/// `d.ddde+XX`.
pub fn write_float(out: &mut String, v: f32) {
    if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let mut digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut exp = exp;
    round_tie_to_even(v, &mut digits, &mut exp);
    if neg {
        out.push('-');
    }
    if (-4..6).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
}

/// Postgres prints floats with Ryu, which breaks an exact tie between the
/// two shortest candidates towards the even last digit; Rust's shortest
/// form rounds such ties up (-7.41015625: Ryu -7.4101562, Rust -7.4101563).
/// When `v` lies exactly halfway (its exact decimal is the shortest digits
/// plus a final 5), the even candidate replaces Rust's.
fn round_tie_to_even(v: f32, digits: &mut String, exp: &mut i32) {
    let n = digits.len();
    // a float4 is exact in float8, and fixed-precision formatting is exact
    let exact = format!("{:.60e}", (v as f64).abs());
    let Some((mantissa, e)) = exact.split_once('e') else { return };
    let Ok(e) = e.parse::<i32>() else { return };
    let all: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sig = all.trim_end_matches('0');
    if sig.len() != n + 1 || !sig.ends_with('5') {
        return;
    }
    let lower = &sig[..n];
    if lower.ends_with(['0', '2', '4', '6', '8']) && !lower.ends_with('0') {
        *digits = lower.to_string();
        *exp = e;
    }
}

/// Formats a halfvec as `[x,y,...]`: each half widened to float4 and
/// printed in float4's shortest form, as pgvector.
pub fn format_halfvec(x: &[u16]) -> String {
    let widened: Vec<f32> = x.iter().map(|&h| crate::half::to_f32(h)).collect();
    format_vector(&widened)
}

/// Float4's shortest text form of `v` (how pgvector quotes a value that
/// does not fit in a half).
pub fn float_text(v: f32) -> String {
    let mut s = String::new();
    write_float(&mut s, v);
    s
}

/// Formats a vector as `[x,y,...]`.
pub fn format_vector(x: &[f32]) -> String {
    let mut out = String::with_capacity(2 + x.len() * 12);
    out.push('[');
    for (i, v) in x.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_float(&mut out, *v);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests;
