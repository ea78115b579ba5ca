//! What an index stores for each element and how two of them compare: the
//! element type (float4, half precision, bits, quantised codes; sparse
//! plugs in here too) together with the metric. The graph algorithm sees
//! only bytes and this type: values are kept as stored bytes in memory and
//! on pages, queries in the form [`Space::query`] makes.

use crate::distance::{index_distance, Metric};
use crate::quant::Sq8;

/// An element type with its metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// `dims` float4, the metric's index distance (cosine: values and
    /// queries normalised to unit length first).
    F32 {
        /// The metric.
        metric: Metric,
        /// Number of elements.
        dims: usize,
    },
    /// `dims` float4 stored as 8-bit codes (see [`crate::quant`]); queries
    /// stay float4. Distances are those of the decoded vectors.
    Sq8 {
        /// The metric.
        metric: Metric,
        /// Number of elements.
        dims: usize,
    },
    /// `dims` IEEE half-precision values (bit patterns; cosine: normalised
    /// in float4, then rounded, as pgvector), queries alike.
    F16 {
        /// The metric.
        metric: Metric,
        /// Number of elements.
        dims: usize,
    },
    /// A `bit(dims)` string, packed most significant bit first, queries
    /// alike; Hamming or Jaccard.
    Bit {
        /// The metric.
        metric: Metric,
        /// Number of bits.
        dims: usize,
    },
    /// A sparse vector of at most `cap` non-zeros in the layout of
    /// [`crate::distance::sparse::encode`] (values padded to `cap` entries;
    /// queries unpadded, any length). Cosine: values normalised first.
    Sparse {
        /// The metric.
        metric: Metric,
        /// Most non-zeros a stored value holds.
        cap: usize,
    },
}

/// A computed distance as the graph sees it: NaN (Infinity minus Infinity
/// in a float4 sum) sorts last, as float8 ORDER BY puts NaN after every
/// number; NaN itself is reserved for elements that cannot be read.
#[inline]
fn computed(d: f64) -> f64 {
    if d.is_nan() {
        f64::INFINITY
    } else {
        d
    }
}

/// Whether a quantised code or query of `raw` under `metric` is marked.
fn risky(metric: Metric, raw: &[f32]) -> bool {
    metric == Metric::Cosine && !raw.is_empty() && crate::quant::float4_norm_risky(raw)
}

impl Space {
    /// The metric.
    pub fn metric(&self) -> Metric {
        match *self {
            Space::F32 { metric, .. }
            | Space::Sq8 { metric, .. }
            | Space::F16 { metric, .. }
            | Space::Bit { metric, .. }
            | Space::Sparse { metric, .. } => metric,
        }
    }

    /// Bytes of every stored value (all fixed-size so far; sparse values
    /// are padded to their capacity).
    pub fn value_bytes(&self) -> usize {
        match *self {
            Space::F32 { dims, .. } => 4 * dims,
            Space::Sq8 { dims, .. } => Sq8 { dims }.value_bytes(),
            Space::F16 { dims, .. } => 2 * dims,
            Space::Bit { dims, .. } => crate::distance::bits::bytes_for(dims),
            Space::Sparse { cap, .. } => crate::distance::sparse::encoded_bytes(cap),
        }
    }

    /// Whether stored values are approximations (an index of them returns
    /// lower bounds for the executor to re-check).
    pub fn is_lossy(&self) -> bool {
        matches!(self, Space::Sq8 { .. })
    }

    /// The stored form of a value (prepared: normalised for cosine). Half
    /// values are given widened to float4 (exact) and rounded back; bits
    /// as 0 and 1 (a non-zero element is a set bit).
    pub fn encode(&self, x: &[f32]) -> Bytes {
        self.encode_of(x, &[])
    }

    /// The stored form of prepared value `x` whose original (as the user
    /// gave it) is `raw`; a quantised cosine code is marked when the
    /// original's float4 norm is risky (see [`crate::quant::float4_norm_risky`]).
    pub fn encode_of(&self, x: &[f32], raw: &[f32]) -> Bytes {
        match *self {
            Space::F32 { .. } => Bytes::from_f32(x),
            Space::Sq8 { dims, metric } => Sq8 { dims }.encode_marked(x, risky(metric, raw)),
            Space::F16 { .. } => Bytes::from_f16(&crate::half::from_f32_slice(x)),
            Space::Bit { .. } => Bytes::from_slice(&pack_bits(x)),
            Space::Sparse { cap, .. } => Bytes::from_f32(&crate::distance::sparse::pad(x, cap)),
        }
    }

    /// The query form of prepared query `x` whose original is `raw`.
    pub fn query_of(&self, x: &[f32], raw: &[f32]) -> Bytes {
        match *self {
            Space::Sq8 { dims, metric } => Sq8 { dims }.query_marked(x, risky(metric, raw)),
            Space::Sparse { .. } => Bytes::from_f32(x),
            _ => self.encode_of(x, raw),
        }
    }

    /// The query form of a query (prepared like values).
    pub fn query(&self, x: &[f32]) -> Bytes {
        self.query_of(x, &[])
    }

    /// The query form of a stored value (to search for an element's own
    /// neighbours).
    pub fn query_of_value(&self, value: &[u8]) -> Bytes {
        match *self {
            Space::F32 { .. } | Space::F16 { .. } | Space::Bit { .. } | Space::Sparse { .. } => Bytes::from_slice(value),
            Space::Sq8 { dims, .. } => {
                let sq = Sq8 { dims };
                sq.query(&sq.decode(value).unwrap_or_default())
            }
        }
    }

    /// For lossy spaces, a value the operator's exact distance between the
    /// query and the vector behind `value` is never below (see
    /// [`Sq8::lower_bound`]); None for exact spaces.
    pub fn lower_bound(&self, query: &[u8], value: &[u8]) -> Option<f64> {
        match *self {
            Space::F32 { .. } | Space::F16 { .. } | Space::Bit { .. } | Space::Sparse { .. } => None,
            Space::Sq8 { metric, dims } => Some(Sq8 { dims }.lower_bound(metric, query, value)),
        }
    }

    /// Distance between a query (as [`Space::query`] made it) and a stored
    /// value; NaN (unreadable, see [`crate::hnsw::UNREADABLE`]) for a value
    /// of the wrong size.
    #[inline]
    pub fn distance(&self, query: &[u8], value: &[u8]) -> f64 {
        match *self {
            Space::F32 { metric, .. } => match (f32s(query), f32s(value)) {
                (Some(q), Some(v)) if q.len() == v.len() => computed(index_distance(metric, q, v)),
                _ => f64::NAN,
            },
            Space::Sq8 { metric, dims } => Sq8 { dims }.distance(metric, query, value),
            Space::F16 { metric, .. } => match (u16s(query), u16s(value)) {
                (Some(q), Some(v)) if q.len() == v.len() => computed(crate::distance::half::index_distance(metric, q, v)),
                _ => f64::NAN,
            },
            Space::Bit { metric, .. } if query.len() == value.len() => match metric {
                Metric::Jaccard => crate::distance::bits::jaccard(query, value),
                _ => crate::distance::bits::hamming(query, value),
            },
            Space::Bit { .. } => f64::NAN,
            Space::Sparse { metric, .. } => match (f32s(query), f32s(value)) {
                (Some(q), Some(v)) => match crate::distance::sparse::index_distance(metric, q, v) {
                    Some(d) => computed(d),
                    None => f64::NAN,
                },
                _ => f64::NAN,
            },
        }
    }

    /// Distance between two stored values.
    #[inline]
    pub fn between(&self, a: &[u8], b: &[u8]) -> f64 {
        match *self {
            Space::F32 { .. } | Space::F16 { .. } | Space::Bit { .. } | Space::Sparse { .. } => self.distance(a, b),
            Space::Sq8 { metric, dims } => Sq8 { dims }.between(metric, a, b),
        }
    }

    /// Whether identical values are at distance 0 (the graph then treats
    /// them as copies of each other).
    pub fn zero_on_identical(&self) -> bool {
        self.metric().zero_on_identical()
    }
}

/// Bytes holding a value or query, aligned for every element type (8).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bytes {
    words: Vec<u64>,
    len: usize,
}

impl Bytes {
    /// A copy of `b`.
    pub fn from_slice(b: &[u8]) -> Self {
        let mut out = Bytes::default();
        out.set(b);
        out
    }

    /// The bytes of float4 values.
    pub fn from_f32(x: &[f32]) -> Self {
        Self::from_slice(f32_bytes(x))
    }

    /// The bytes of halves (bit patterns, native byte order).
    pub fn from_f16(x: &[u16]) -> Self {
        // SAFETY: any u16 slice is readable as bytes.
        Self::from_slice(unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<u8>(), std::mem::size_of_val(x)) })
    }

    /// Replaces the contents with `b`.
    pub fn set(&mut self, b: &[u8]) {
        self.words.clear();
        self.words.resize(b.len().div_ceil(8), 0);
        self.len = b.len();
        self.as_mut().copy_from_slice(b);
    }

    /// Empties it, keeping the allocation.
    pub fn clear(&mut self) {
        self.words.clear();
        self.len = 0;
    }

    /// Appends `b`.
    pub fn extend(&mut self, b: &[u8]) {
        let at = self.len;
        self.len += b.len();
        self.words.resize(self.len.div_ceil(8), 0);
        self.as_mut()[at..].copy_from_slice(b);
    }

    /// Appends `b` at the next 8-byte boundary; returns where it starts
    /// (an arena of values, each aligned).
    pub fn push_aligned(&mut self, b: &[u8]) -> usize {
        let at = self.len.div_ceil(8) * 8;
        self.len = at;
        self.extend(b);
        at
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn as_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        // SAFETY: the words hold at least `len` initialised bytes, u8 has no
        // alignment or validity requirements, and the borrow is unique.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), len) }
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: as in `as_mut`, shared.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }
}

/// Float4 values in `b`, if `b` is 4-aligned and a multiple of 4 bytes
/// long (stored values always are: pages MAXALIGN items, [`Bytes`] is
/// 8-aligned).
#[inline]
pub fn f32s(b: &[u8]) -> Option<&[f32]> {
    if b.len() % 4 != 0 || b.as_ptr() as usize % 4 != 0 {
        return None;
    }
    // SAFETY: alignment and length checked; every bit pattern is an f32.
    Some(unsafe { std::slice::from_raw_parts(b.as_ptr().cast::<f32>(), b.len() / 4) })
}

/// Half bit patterns in `b`, if `b` is 2-aligned and of even length.
#[inline]
pub fn u16s(b: &[u8]) -> Option<&[u16]> {
    if !b.len().is_multiple_of(2) || !(b.as_ptr() as usize).is_multiple_of(2) {
        return None;
    }
    // SAFETY: alignment and length checked; every bit pattern is a u16.
    Some(unsafe { std::slice::from_raw_parts(b.as_ptr().cast::<u16>(), b.len() / 2) })
}

/// Packs elements into a bit string as PostgreSQL lays out `bit(n)`: bit i
/// (most significant first) set where `x[i]` is non-zero.
pub fn pack_bits(x: &[f32]) -> Vec<u8> {
    let mut out = vec![0u8; x.len().div_ceil(8)];
    for (i, _) in x.iter().enumerate().filter(|(_, v)| **v != 0.0) {
        out[i / 8] |= 0x80 >> (i % 8);
    }
    out
}

/// The bytes of float4 values (native byte order, as stored).
pub fn f32_bytes(x: &[f32]) -> &[u8] {
    // SAFETY: any f32 slice is readable as bytes.
    unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<u8>(), std::mem::size_of_val(x)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_aligned_and_round_trip() {
        let x = [1.5f32, -2.0, 3.25];
        let b = Bytes::from_f32(&x);
        assert_eq!(f32s(&b), Some(&x[..]));
        assert_eq!(Bytes::from_slice(f32_bytes(&x)), b);
        let mut c = Bytes::default();
        c.extend(f32_bytes(&x[..1]));
        c.extend(f32_bytes(&x[1..]));
        assert_eq!(c, b);
        assert!(f32s(&b[1..]).is_none());
    }

    #[test]
    fn distances_match_the_kernels() {
        let s = Space::F32 { metric: Metric::L2, dims: 3 };
        let (a, b) = (Bytes::from_f32(&[1.0, 2.0, 3.0]), Bytes::from_f32(&[2.0, 2.0, 1.0]));
        assert_eq!(s.distance(&a, &b), 5.0);
        assert_eq!(s.between(&a, &a), 0.0);
        assert!(s.distance(&a, &b[..8]).is_nan());
        assert_eq!(s.value_bytes(), 12);
    }

    #[test]
    fn half_and_bit_spaces() {
        let s = Space::F16 { metric: Metric::L2, dims: 3 };
        let (a, b) = (s.encode(&[1.0, 2.0, 3.0]), s.encode(&[2.0, 2.0, 1.0]));
        assert_eq!(a.len(), 6);
        assert_eq!(s.distance(&a, &b), 5.0);
        assert_eq!(s.between(&a, &a), 0.0);
        assert!(s.distance(&a, &b[..4]).is_nan());
        assert_eq!(s.value_bytes(), 6);
        let c = Space::F16 { metric: Metric::Cosine, dims: 2 };
        assert!(c.distance(&c.encode(&[0.6, 0.8]), &c.encode(&[0.6, 0.8])).abs() < 1e-3);
        let h = Space::Bit { metric: Metric::Hamming, dims: 10 };
        let (x, y) = (h.encode(&[1., 1., 0., 0., 0., 0., 0., 0., 0., 1.]), h.encode(&[1., 0., 0., 0., 0., 0., 0., 0., 0., 0.]));
        assert_eq!(&x[..], &[0xc0, 0x40]);
        assert_eq!(h.value_bytes(), 2);
        assert_eq!(h.distance(&x, &y), 2.0);
        let j = Space::Bit { metric: Metric::Jaccard, dims: 10 };
        assert!((j.distance(&x, &y) - (1.0 - 1.0 / 3.0)).abs() < 1e-12);
        assert_eq!(j.distance(&y, &y), 0.0);
        assert_eq!(j.distance(&j.encode(&[0.0; 10]), &j.encode(&[0.0; 10])), 1.0);
    }

    /// Sparse values are padded to the room for non-zeros; queries are
    /// not; distances are the merge kernels' (cosine on normalised values).
    #[test]
    fn sparse_space() {
        use crate::distance::sparse::encode;
        let s = Space::Sparse { metric: Metric::L2, cap: 4 };
        assert_eq!(s.value_bytes(), 40);
        let a = s.encode(&encode(10, &[1, 7], &[3.0, 4.0]));
        assert_eq!(a.len(), 40);
        let q = s.query(&encode(10, &[7], &[4.0]));
        assert_eq!(q.len(), 16);
        assert_eq!(s.distance(&q, &a), 9.0);
        assert_eq!(s.between(&a, &a), 0.0);
        assert!(s.distance(&q, &a[..8]).is_nan());
        let ip = Space::Sparse { metric: Metric::InnerProduct, cap: 4 };
        assert_eq!(ip.distance(&q, &a), -16.0);
        let big = Space::Sparse { metric: Metric::L1, cap: 2 };
        assert_eq!(big.distance(&big.query(&encode(3, &[0, 1, 2], &[1.0, 1.0, 1.0])), &big.encode(&encode(3, &[0], &[1.0]))), 2.0);
    }
}
