//! Distance kernels over half-precision vectors (bit patterns, `u16`).
//! Each half widens exactly to float4 and sums accumulate in float4, as
//! pgvector's `halfutils.c` does; simsimd's f16 kernels (F16C/AVX-512 FP16
//! or NEON, else serial C) take the fast path, and a sum that leaves float4's
//! range is recomputed with the plain float4 loop (see [`super::float4_sum`]).

use super::{float4_sum, Metric};
use crate::half::to_f32;
use simsimd::SpatialSimilarity;

/// simsimd's view of half bit patterns.
#[inline]
fn simd(x: &[u16]) -> &[simsimd::f16] {
    // SAFETY: simsimd::f16 is #[repr(transparent)] over u16: same size,
    // alignment and validity, so the slice reads the same memory.
    unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<simsimd::f16>(), x.len()) }
}

/// Squared Euclidean distance, float4 sum.
#[inline]
pub fn l2_squared(a: &[u16], b: &[u16]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    float4_sum(simsimd::f16::l2sq(simd(a), simd(b)).unwrap_or(f64::NAN), || scalar::l2_squared(a, b))
}

/// Inner product, float4 sum.
#[inline]
pub fn inner_product(a: &[u16], b: &[u16]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    float4_sum(simsimd::f16::dot(simd(a), simd(b)).unwrap_or(f64::NAN), || scalar::inner_product(a, b))
}

/// Cosine distance `1 - cos`, clamped to [0, 2]; NaN for a zero norm.
#[inline]
pub fn cosine_distance(a: &[u16], b: &[u16]) -> f64 {
    let dot = inner_product(a, b);
    let norms = inner_product(a, a) * inner_product(b, b);
    1.0 - (dot / norms.sqrt()).clamp(-1.0, 1.0)
}

/// Taxicab distance, float4 sum (eight accumulators: vectorised).
#[inline]
pub fn l1_distance(a: &[u16], b: &[u16]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..8 {
            acc[i] += (to_f32(x[i]) - to_f32(y[i])).abs();
        }
    }
    let mut tail = 0f32;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += (to_f32(*x) - to_f32(*y)).abs();
    }
    (acc.iter().sum::<f32>() + tail) as f64
}

/// Euclidean norm, float8 sum (as pgvector's `l2_norm(halfvec)`).
#[inline]
pub fn norm(a: &[u16]) -> f64 {
    a.iter().map(|&h| (to_f32(h) as f64).powi(2)).sum::<f64>().sqrt()
}

/// The index distance for `metric` (see [`super::index_distance`]).
#[inline]
pub fn index_distance(metric: Metric, a: &[u16], b: &[u16]) -> f64 {
    match metric {
        Metric::L2 => l2_squared(a, b),
        Metric::InnerProduct => -inner_product(a, b),
        Metric::Cosine => 1.0 - inner_product(a, b),
        Metric::L1 => l1_distance(a, b),
        Metric::Hamming | Metric::Jaccard => f64::NAN,
    }
}

/// The loops pgvector runs (float4 sums, element order): the reference the
/// SIMD kernels are tested against and the fallback at float4's edges.
pub mod scalar {
    use crate::half::to_f32;

    /// Squared Euclidean distance.
    pub fn l2_squared(a: &[u16], b: &[u16]) -> f64 {
        let mut s = 0f32;
        for (x, y) in a.iter().zip(b) {
            let d = to_f32(*x) - to_f32(*y);
            s += d * d;
        }
        s as f64
    }

    /// Inner product.
    pub fn inner_product(a: &[u16], b: &[u16]) -> f64 {
        let mut s = 0f32;
        for (x, y) in a.iter().zip(b) {
            s += to_f32(*x) * to_f32(*y);
        }
        s as f64
    }

    /// Cosine distance (one pass, as pgvector's default kernel).
    pub fn cosine_distance(a: &[u16], b: &[u16]) -> f64 {
        let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
        for (x, y) in a.iter().zip(b) {
            let (x, y) = (to_f32(*x), to_f32(*y));
            dot += x * y;
            na += x * x;
            nb += y * y;
        }
        1.0 - (dot as f64 / (na as f64 * nb as f64).sqrt()).clamp(-1.0, 1.0)
    }

    /// Taxicab distance.
    pub fn l1_distance(a: &[u16], b: &[u16]) -> f64 {
        let mut s = 0f32;
        for (x, y) in a.iter().zip(b) {
            s += (to_f32(*x) - to_f32(*y)).abs();
        }
        s as f64
    }
}
