//! Distance kernels over half-precision vectors (bit patterns, `u16`),
//! computed exactly as pgvector's `halfutils.c` does, so results match it
//! bit for bit: on x86-64 CPUs with AVX, F16C and FMA, eight float4 lanes
//! accumulate with fused multiply-adds, the lanes are summed left to right
//! and the tail (dim % 8 elements) is added with fused multiply-adds (GCC
//! contracts pgvector's `distance += diff * diff` there); elsewhere one
//! float4 sum in element order (fused on aarch64, where GCC contracts too).
//! Each half widens exactly to float4.

use super::Metric;
use crate::half::to_f32;

/// Which of pgvector's kernels this CPU runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Path {
    /// Eight FMA lanes (x86-64 with AVX, F16C, FMA).
    Lanes,
    /// One float4 sum in element order.
    Sequential,
}

/// The path pgvector takes on this CPU.
#[inline]
pub fn path() -> Path {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static LANES: OnceLock<bool> = OnceLock::new();
        let lanes = *LANES.get_or_init(|| {
            is_x86_feature_detected!("avx") && is_x86_feature_detected!("f16c") && is_x86_feature_detected!("fma")
        });
        if lanes {
            return Path::Lanes;
        }
    }
    Path::Sequential
}

/// `acc + x * y` as the compiled C computes it on this target: fused where
/// GCC contracts (aarch64), separately rounded elsewhere.
#[inline(always)]
fn madd_seq(x: f32, y: f32, acc: f32) -> f32 {
    #[cfg(target_arch = "aarch64")]
    {
        x.mul_add(y, acc)
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        acc + x * y
    }
}

/// Squared Euclidean distance, float4 (widened).
#[inline]
pub fn l2_squared(a: &[u16], b: &[u16]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if path() == Path::Lanes {
        // SAFETY: the CPU has AVX, F16C and FMA (checked by `path`).
        return unsafe { lanes::l2_squared(a, b) } as f64;
    }
    let mut s = 0f32;
    for (x, y) in a.iter().zip(b) {
        let d = to_f32(*x) - to_f32(*y);
        s = madd_seq(d, d, s);
    }
    s as f64
}

/// Inner product, float4 (widened).
#[inline]
pub fn inner_product(a: &[u16], b: &[u16]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if path() == Path::Lanes {
        // SAFETY: the CPU has AVX, F16C and FMA (checked by `path`).
        return unsafe { lanes::inner_product(a, b) } as f64;
    }
    let mut s = 0f32;
    for (x, y) in a.iter().zip(b) {
        s = madd_seq(to_f32(*x), to_f32(*y), s);
    }
    s as f64
}

/// Cosine distance `1 - cos`, clamped to [0, 2]; NaN for a zero norm.
#[inline]
pub fn cosine_distance(a: &[u16], b: &[u16]) -> f64 {
    let dot = inner_product(a, b);
    let norms = inner_product(a, a) * inner_product(b, b);
    1.0 - (dot / norms.sqrt()).clamp(-1.0, 1.0)
}

/// Taxicab distance, float4 (widened).
#[inline]
pub fn l1_distance(a: &[u16], b: &[u16]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if path() == Path::Lanes {
        // SAFETY: the CPU has AVX, F16C and FMA (checked by `path`).
        return unsafe { lanes::l1_distance(a, b) } as f64;
    }
    let mut s = 0f32;
    for (x, y) in a.iter().zip(b) {
        s += (to_f32(*x) - to_f32(*y)).abs();
    }
    s as f64
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

/// pgvector's F16C kernels: eight lanes, fused multiply-adds.
#[cfg(target_arch = "x86_64")]
mod lanes {
    use crate::half::to_f32;
    use std::arch::x86_64::*;

    /// Sums the eight lanes left to right, as pgvector's `s[0] + ... + s[7]`.
    #[inline(always)]
    unsafe fn lane_sum(v: __m256) -> f32 {
        let mut s = [0f32; 8];
        // SAFETY: s has room for eight floats; unaligned store.
        unsafe { _mm256_storeu_ps(s.as_mut_ptr(), v) };
        s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7]
    }

    /// Eight halves from `x[i..i + 8]` widened to float4.
    #[inline(always)]
    unsafe fn load(x: &[u16], i: usize) -> __m256 {
        debug_assert!(i + 8 <= x.len());
        // SAFETY: the caller keeps i + 8 <= x.len(); unaligned 16-byte load.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(x.as_ptr().add(i).cast())) }
    }

    /// Squared Euclidean distance.
    ///
    /// # Safety
    /// The CPU must support AVX, F16C and FMA.
    #[target_feature(enable = "avx,f16c,fma")]
    pub unsafe fn l2_squared(a: &[u16], b: &[u16]) -> f32 {
        let n = a.len().min(b.len());
        let count = n / 8 * 8;
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i < count {
            // SAFETY: i + 8 <= count <= n.
            let d = unsafe { _mm256_sub_ps(load(a, i), load(b, i)) };
            acc = _mm256_fmadd_ps(d, d, acc);
            i += 8;
        }
        // SAFETY: features as above.
        let mut s = unsafe { lane_sum(acc) };
        for j in i..n {
            let d = to_f32(a[j]) - to_f32(b[j]);
            s = d.mul_add(d, s);
        }
        s
    }

    /// Inner product.
    ///
    /// # Safety
    /// The CPU must support AVX, F16C and FMA.
    #[target_feature(enable = "avx,f16c,fma")]
    pub unsafe fn inner_product(a: &[u16], b: &[u16]) -> f32 {
        let n = a.len().min(b.len());
        let count = n / 8 * 8;
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i < count {
            // SAFETY: i + 8 <= count <= n.
            acc = unsafe { _mm256_fmadd_ps(load(a, i), load(b, i), acc) };
            i += 8;
        }
        // SAFETY: features as above.
        let mut s = unsafe { lane_sum(acc) };
        for j in i..n {
            s = to_f32(a[j]).mul_add(to_f32(b[j]), s);
        }
        s
    }

    /// Taxicab distance (pgvector's F16C kernel: lanes, no FMA involved).
    ///
    /// # Safety
    /// The CPU must support AVX, F16C and FMA.
    #[target_feature(enable = "avx,f16c,fma")]
    pub unsafe fn l1_distance(a: &[u16], b: &[u16]) -> f32 {
        let n = a.len().min(b.len());
        let count = n / 8 * 8;
        let sign = _mm256_set1_ps(-0.0);
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i < count {
            // SAFETY: i + 8 <= count <= n.
            let d = unsafe { _mm256_sub_ps(load(a, i), load(b, i)) };
            acc = _mm256_add_ps(acc, _mm256_andnot_ps(sign, d));
            i += 8;
        }
        // SAFETY: features as above.
        let mut s = unsafe { lane_sum(acc) };
        for j in i..n {
            s += (to_f32(a[j]) - to_f32(b[j])).abs();
        }
        s
    }
}

/// pgvector's lane algorithm in portable Rust (software-exact `mul_add`):
/// the reference the x86 kernels are tested against, bit for bit.
pub mod reference {
    use crate::half::to_f32;

    fn lanes(a: &[u16], b: &[u16], step: impl Fn(f32, f32, f32) -> f32) -> f32 {
        let count = a.len() / 8 * 8;
        let mut acc = [0f32; 8];
        for i in (0..count).step_by(8) {
            for j in 0..8 {
                acc[j] = step(to_f32(a[i + j]), to_f32(b[i + j]), acc[j]);
            }
        }
        let mut s = acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
        for i in count..a.len() {
            s = step(to_f32(a[i]), to_f32(b[i]), s);
        }
        s
    }

    /// Squared Euclidean distance, lanes and tail fused.
    pub fn l2_squared(a: &[u16], b: &[u16]) -> f32 {
        lanes(a, b, |x, y, acc| (x - y).mul_add(x - y, acc))
    }

    /// Inner product, lanes and tail fused.
    pub fn inner_product(a: &[u16], b: &[u16]) -> f32 {
        lanes(a, b, |x, y, acc| x.mul_add(y, acc))
    }

    /// Taxicab distance in lanes.
    pub fn l1_distance(a: &[u16], b: &[u16]) -> f32 {
        lanes(a, b, |x, y, acc| acc + (x - y).abs())
    }
}

/// The loops pgvector's default kernels run (float4 sums, element order,
/// no fusing): the reference for error bounds.
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
