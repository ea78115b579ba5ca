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
