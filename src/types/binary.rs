//! Binary form of `vector` (COPY BINARY, drivers' binary mode): int16 dim,
//! int16 unused (0), then dim float4, all big-endian. Same as pgvector.

use super::error::{check_dims, check_element, check_expected_dims, VectorError};

/// Decodes a binary vector from the front of `buf`, checking the typmod.
/// Returns the elements and the number of bytes consumed.
pub fn decode(buf: &[u8], typmod: i32) -> Result<(Vec<f32>, usize), VectorError> {
    decode_with(buf, typmod, 4, |b| check_element(f32::from_be_bytes([b[0], b[1], b[2], b[3]])))
}

/// Decodes a binary halfvec (int16 dim, int16 unused, dim big-endian
/// binary16 bit patterns); NaN and infinite halves are refused.
pub fn decode_half(buf: &[u8], typmod: i32) -> Result<(Vec<u16>, usize), VectorError> {
    decode_with(buf, typmod, 2, |b| {
        let h = u16::from_be_bytes([b[0], b[1]]);
        check_element(crate::half::to_f32(h)).map(|_| h)
    })
}

/// Encodes halves in the binary form.
pub fn encode_half(x: &[u16], out: &mut Vec<u8>) {
    out.reserve(4 + 2 * x.len());
    out.extend_from_slice(&(x.len() as u16).to_be_bytes());
    out.extend_from_slice(&0i16.to_be_bytes());
    for v in x {
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// The binary header and `size`-byte elements read by `element`.
fn decode_with<T>(
    buf: &[u8],
    typmod: i32,
    size: usize,
    element: impl Fn(&[u8]) -> Result<T, VectorError>,
) -> Result<(Vec<T>, usize), VectorError> {
    // Both header words are unsigned, as Postgres's pq_getmsgint reads them:
    // 0xffff is 65535 dimensions (too many), not -1.
    let word = |at: usize| -> Result<u16, VectorError> {
        buf.get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or(VectorError::Truncated)
    };
    let dim = word(0)? as usize;
    let unused = word(2)?;
    check_dims(dim)?;
    check_expected_dims(typmod, dim)?;
    if unused != 0 {
        return Err(VectorError::UnusedNotZero(unused as i32));
    }
    // Element by element, like pgvector: a bad value before the end of a
    // short message is reported as the bad value.
    let mut out = Vec::with_capacity(dim);
    for i in 0..dim {
        let at = 4 + size * i;
        let b = buf.get(at..at + size).ok_or(VectorError::Truncated)?;
        out.push(element(b)?);
    }
    Ok((out, 4 + size * dim))
}

/// Encodes `x` in the binary form.
pub fn encode(x: &[f32], out: &mut Vec<u8>) {
    out.reserve(4 + 4 * x.len());
    out.extend_from_slice(&(x.len() as u16).to_be_bytes());
    out.extend_from_slice(&0i16.to_be_bytes());
    for v in x {
        out.extend_from_slice(&v.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn round_trip() {
        let x = [1.5f32, -2.25, 3e-8, 1.5e38];
        let mut buf = Vec::new();
        encode(&x, &mut buf);
        assert_eq!(&buf[..4], &[0, 4, 0, 0]);
        assert_eq!(&buf[4..8], &1.5f32.to_be_bytes());
        assert_eq!(decode(&buf, -1).unwrap(), (x.to_vec(), 20));
        assert_eq!(decode(&buf, 4).unwrap().0, x.to_vec());
    }

    #[test]
    fn rejects_bad_input() {
        let mut buf = Vec::new();
        encode(&[1.0, 2.0, 3.0], &mut buf);
        assert_eq!(decode(&buf, 2), Err(VectorError::ExpectedDims { expected: 2, got: 3 }));
        assert_eq!(decode(&buf[..9], -1), Err(VectorError::Truncated));
        assert_eq!(decode(&buf[..1], -1), Err(VectorError::Truncated));
        let mut bad = buf.clone();
        bad[3] = 1;
        assert_eq!(decode(&bad, -1), Err(VectorError::UnusedNotZero(1)));
        assert_eq!(decode(&[0, 0, 0, 0], -1), Err(VectorError::TooFewDims));
        // unsigned header words, as pgvector reads them
        assert_eq!(decode(&[0xff, 0xff, 0, 0], -1), Err(VectorError::TooManyDims));
        assert_eq!(decode(&[0x80, 0x00, 0, 0], -1), Err(VectorError::TooManyDims));
        assert_eq!(decode(&[0, 1, 0xff, 0xff, 0, 0, 0, 0], -1), Err(VectorError::UnusedNotZero(65535)));
        assert_eq!(decode(&[0x3e, 0x80, 0, 0], -1).map(|_| ()), Err(VectorError::Truncated));
        assert_eq!(decode(&[0x3e, 0x81, 0, 0], -1), Err(VectorError::TooManyDims));
        let mut nan = Vec::new();
        encode(&[f32::NAN], &mut nan);
        assert_eq!(decode(&nan, -1), Err(VectorError::NaN));
        // a NaN before the message runs short is reported as NaN
        assert_eq!(decode(&nan[..], -1).map(|_| ()), Err(VectorError::NaN));
        let mut two = Vec::new();
        encode(&[f32::NAN, 1.0], &mut two);
        assert_eq!(decode(&two[..9], -1), Err(VectorError::NaN));
        // huge finite values are accepted as they are
        let mut max = Vec::new();
        encode(&[f32::MAX, -f32::MAX, f32::MIN_POSITIVE / 2.0], &mut max);
        assert_eq!(decode(&max, -1).unwrap().0, vec![f32::MAX, -f32::MAX, f32::MIN_POSITIVE / 2.0]);
        let mut inf = Vec::new();
        encode(&[f32::NEG_INFINITY], &mut inf);
        assert_eq!(decode(&inf, -1), Err(VectorError::Infinite));
    }

    /// pgvector raises `expected unused to be 0, not N` as data_exception
    /// (22000) for vector and halfvec alike.
    #[test]
    fn unused_not_zero_is_a_data_exception() {
        use crate::types::error::SqlState;
        assert_eq!(VectorError::UnusedNotZero(1).sqlstate(), SqlState::Data);
        let mut bad = Vec::new();
        encode_half(&[0x3c00], &mut bad);
        bad[3] = 2;
        assert_eq!(decode_half(&bad, -1), Err(VectorError::UnusedNotZero(2)));
        assert_eq!(decode_half(&[0, 1, 0, 0, 0x7c, 0], -1), Err(VectorError::Infinite));
        assert_eq!(decode_half(&[0, 1, 0, 0, 0x7e, 0], -1), Err(VectorError::NaN));
        assert_eq!(decode_half(&[0, 1, 0, 0, 0, 1], -1).unwrap().0, vec![1]); // subnormal accepted
    }

    /// Random bytes never panic; anything accepted re-encodes to the bytes read.
    #[test]
    fn fuzz_random_bytes() {
        let seed = 0xb1_0a_u64;
        println!("binary fuzz seed {seed}");
        let mut rng = Rng::new(seed);
        let mut accepted = 0;
        for round in 0..200_000 {
            let len = rng.below(40) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            if round % 2 == 0 && len >= 4 {
                // plausible headers so the body paths are reached too
                let dim = rng.below(((len - 4) / 4 + 2) as u64) as u16;
                buf[..2].copy_from_slice(&dim.to_be_bytes());
                buf[2] = 0;
                buf[3] = 0;
            }
            if let Ok((x, used)) = decode(&buf, -1) {
                accepted += 1;
                let mut again = Vec::new();
                encode(&x, &mut again);
                assert_eq!(&again[..], &buf[..used]);
            }
        }
        assert!(accepted > 1000, "fuzzer reached the accepting path only {accepted} times");
    }
}
