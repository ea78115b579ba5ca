//! AVX-512 kernels for `f32` L2 and inner product with four independent
//! accumulators: simsimd's single accumulator makes each 16-float step wait
//! for the previous fused multiply-add (four cycles), while a graph search
//! scores hundreds of vectors a query. The sums stay in float4 (reduced
//! lane by lane in f32), so results differ from simsimd's AVX-512 kernel
//! only by the order of float4 additions.

use std::arch::x86_64::*;

/// Whether the CPU runs these kernels (AVX-512F; the check is cached by std).
#[inline]
pub fn available() -> bool {
    is_x86_feature_detected!("avx512f")
}

/// Lanes `i..i + 16` of `x`, or the first `n - i` of them (rest zero).
#[inline(always)]
unsafe fn load(x: &[f32], i: usize, n: usize) -> __m512 {
    if i + 16 <= n {
        // SAFETY: i + 16 <= n <= x.len(); unaligned 64-byte load.
        unsafe { _mm512_loadu_ps(x.as_ptr().add(i)) }
    } else {
        let mask: __mmask16 = (1u32 << (n - i)).wrapping_sub(1) as u16;
        // SAFETY: masked lanes are not read; the unmasked ones lie below n.
        unsafe { _mm512_maskz_loadu_ps(mask, x.as_ptr().add(i)) }
    }
}

/// Squared Euclidean distance, summed in float4.
///
/// # Safety
/// The CPU must support AVX-512F ([`available`]).
#[target_feature(enable = "avx512f")]
pub unsafe fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (mut s0, mut s1, mut s2, mut s3) = (_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps());
    let mut i = 0;
    // SAFETY (all loads below): `load` keeps within n.
    unsafe {
        while i + 64 <= n {
            let d0 = _mm512_sub_ps(load(a, i, n), load(b, i, n));
            let d1 = _mm512_sub_ps(load(a, i + 16, n), load(b, i + 16, n));
            let d2 = _mm512_sub_ps(load(a, i + 32, n), load(b, i + 32, n));
            let d3 = _mm512_sub_ps(load(a, i + 48, n), load(b, i + 48, n));
            s0 = _mm512_fmadd_ps(d0, d0, s0);
            s1 = _mm512_fmadd_ps(d1, d1, s1);
            s2 = _mm512_fmadd_ps(d2, d2, s2);
            s3 = _mm512_fmadd_ps(d3, d3, s3);
            i += 64;
        }
        while i < n {
            let d = _mm512_sub_ps(load(a, i, n), load(b, i, n));
            s0 = _mm512_fmadd_ps(d, d, s0);
            i += 16;
        }
    }
    _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)))
}

/// Inner product, summed in float4.
///
/// # Safety
/// The CPU must support AVX-512F ([`available`]).
#[target_feature(enable = "avx512f")]
pub unsafe fn inner_product(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (mut s0, mut s1, mut s2, mut s3) = (_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps());
    let mut i = 0;
    // SAFETY (all loads below): `load` keeps within n.
    unsafe {
        while i + 64 <= n {
            s0 = _mm512_fmadd_ps(load(a, i, n), load(b, i, n), s0);
            s1 = _mm512_fmadd_ps(load(a, i + 16, n), load(b, i + 16, n), s1);
            s2 = _mm512_fmadd_ps(load(a, i + 32, n), load(b, i + 32, n), s2);
            s3 = _mm512_fmadd_ps(load(a, i + 48, n), load(b, i + 48, n), s3);
            i += 64;
        }
        while i < n {
            s0 = _mm512_fmadd_ps(load(a, i, n), load(b, i, n), s0);
            i += 16;
        }
    }
    _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)))
}

/// The same four-accumulator kernels over 8-lane AVX2 words, for CPUs
/// without AVX-512 (AMD Zen 2/3, Intel before Skylake-X): there simsimd's
/// AVX2 kernel keeps one accumulator, so each 8-float step waits for the
/// previous fused multiply-add. A 100k MiniLM single-row INSERT on an AMD
/// EPYC spent 36 % of its time in that kernel, a 10k index scan 19 %.
pub mod avx2 {
    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    /// Whether the CPU runs these kernels (AVX2 and FMA; checked once).
    #[inline]
    pub fn available() -> bool {
        static AVX2: OnceLock<bool> = OnceLock::new();
        *AVX2.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
    }

    /// Lanes `i..i + 8` of `x`, or the first `n - i` of them (rest zero).
    ///
    /// # Safety
    /// AVX2; `i < n <= x.len()`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load(x: &[f32], i: usize, n: usize) -> __m256 {
        if i + 8 <= n {
            // SAFETY: i + 8 <= n <= x.len(); unaligned 32-byte load.
            unsafe { _mm256_loadu_ps(x.as_ptr().add(i)) }
        } else {
            let left = (n - i) as i32;
            let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            // SAFETY: lanes at or past `left` (outside the slice) are masked off and not read.
            unsafe { _mm256_maskload_ps(x.as_ptr().add(i), mask) }
        }
    }

    /// The eight lanes of `s`, summed pairwise in float4.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn reduce(s: __m256) -> f32 {
        let mut lanes = [0f32; 8];
        // SAFETY: 8 floats stored into an 8-float array.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), s) };
        ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]))
    }

    /// The largest of the eight lanes of `s`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn reduce_max(s: __m256) -> f32 {
        let mut lanes = [0f32; 8];
        // SAFETY: 8 floats stored into an 8-float array.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), s) };
        lanes.into_iter().fold(0f32, f32::max)
    }

    macro_rules! four_accumulators {
        ($(#[$doc:meta])* $name:ident, $scalar:ident, signed: $signed:literal, |$x:ident, $y:ident, $s:ident| $step:expr) => {
            $(#[$doc])*
            ///
            /// # Safety
            /// The CPU must support AVX2 and FMA ([`available`]).
            #[target_feature(enable = "avx2,fma")]
            pub unsafe fn $name(a: &[f32], b: &[f32]) -> f32 {
                let n = a.len().min(b.len());
                let step = |$x: __m256, $y: __m256, $s: __m256| -> __m256 { $step };
                let mut acc = [_mm256_setzero_ps(); 4];
                let magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
                let abs = |s: __m256| _mm256_and_ps(s, magnitude);
                // the largest running sum seen, tracked where terms may be negative
                let mut peak = _mm256_setzero_ps();
                let mut i = 0;
                // SAFETY (all loads below): `load` keeps within n.
                unsafe {
                    while i + 32 <= n {
                        for (l, s) in acc.iter_mut().enumerate() {
                            *s = step(load(a, i + 8 * l, n), load(b, i + 8 * l, n), *s);
                        }
                        if $signed {
                            let m = _mm256_max_ps(_mm256_max_ps(abs(acc[0]), abs(acc[1])), _mm256_max_ps(abs(acc[2]), abs(acc[3])));
                            peak = _mm256_max_ps(peak, m);
                        }
                        i += 32;
                    }
                    while i < n {
                        acc[0] = step(load(a, i, n), load(b, i, n), acc[0]);
                        if $signed {
                            peak = _mm256_max_ps(peak, abs(acc[0]));
                        }
                        i += 8;
                    }
                }
                let sum = reduce(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
                // pgvector adds the terms in another order, and (at x86-64's
                // baseline) rounds each product before adding it. Where the
                // terms may be negative, each is the difference of two running
                // sums here, so no term exceeds 2 * peak and no sum of n terms
                // in any order exceeds 2n * peak (plus rounding): below
                // MAX / 4n neither loop can overflow. Above it the order, or
                // a fused multiply-add keeping a product beyond float4 finite,
                // can decide between Infinity and a finite sum, so pgvector's
                // sequential loop decides. Non-negative terms (L2) overflow
                // in no order while their sum stays below MAX / 2.
                let bound = if $signed { reduce_max(peak) * (4.0 * n as f32) } else { sum.abs() * 2.0 };
                if bound >= f32::MAX {
                    return super::super::scalar::$scalar(a, b) as f32;
                }
                sum
            }
        };
    }

    four_accumulators!(
        /// Squared Euclidean distance, summed in float4.
        l2_squared,
        l2_squared,
        signed: false,
        |x, y, s| {
            let d = _mm256_sub_ps(x, y);
            _mm256_fmadd_ps(d, d, s)
        }
    );
    four_accumulators!(
        /// Inner product, summed in float4.
        inner_product,
        inner_product,
        signed: true,
        |x, y, s| _mm256_fmadd_ps(x, y, s)
    );
    four_accumulators!(
        /// Inner product, summed in float4, for an index's order: only the
        /// final sum is checked against overflow (tracking the running sums
        /// costs 5-15 %), so where running sums pass f32::MAX / 4n it may be
        /// finite where pgvector's loop (and [`inner_product`]) overflows.
        inner_product_unchecked,
        inner_product,
        signed: false,
        |x, y, s| _mm256_fmadd_ps(x, y, s)
    );
}
