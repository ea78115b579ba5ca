//! Distances between bit strings (PostgreSQL `bit(n)`: bits packed most
//! significant first, the unused low bits of the last byte zero). Both
//! count bits with `popcount` over 64-bit words; no floating point until
//! the final ratio, so every path gives the same result.

/// Number of bits that differ.
#[inline]
pub fn hamming(a: &[u8], b: &[u8]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut n = 0u64;
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        n += (word(x) ^ word(y)).count_ones() as u64;
    }
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        n += (x ^ y).count_ones() as u64;
    }
    n as f64
}

/// `1 - |a AND b| / |a OR b|`; exactly 1 when no bit is set in both (also
/// for two empty strings), as pgvector.
#[inline]
pub fn jaccard(a: &[u8], b: &[u8]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let (mut both, mut na, mut nb) = (0u64, 0u64, 0u64);
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        let (x, y) = (word(x), word(y));
        both += (x & y).count_ones() as u64;
        na += x.count_ones() as u64;
        nb += y.count_ones() as u64;
    }
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        both += (x & y).count_ones() as u64;
        na += x.count_ones() as u64;
        nb += y.count_ones() as u64;
    }
    if both == 0 {
        return 1.0;
    }
    1.0 - both as f64 / (na + nb - both) as f64
}

#[inline]
fn word(b: &[u8]) -> u64 {
    u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// Bytes of a bit string of `bits` bits.
pub fn bytes_for(bits: usize) -> usize {
    bits.div_ceil(8)
}
