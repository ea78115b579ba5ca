//! The sq8 distance kernels: plain loops in a fixed lane order, and the
//! same loops compiled for AVX2 (picked at run time), which give the same
//! bits.

use super::Code;

/// `(Σ gap^p, Σ reach^p)` over the elements (p = 2 when `SQUARE`, else 1),
/// where `off = |q_i - x̂_i|`, `gap = max(off - half, 0)`, `reach = off +
/// half`, in float8 (eight lanes, in AVX2 registers where the CPU has
/// them; the lanes' order changes only float8 rounding, far below the
/// bound's margins).
#[inline]
pub(super) fn gap_sums<const SQUARE: bool>(q: &[f32], codes: &[u8], lo: f64, step: f64, half: f64) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if wide::available() {
        // SAFETY: the CPU has AVX2 and FMA (checked at run time).
        return unsafe { wide::gap_sums::<SQUARE>(q, codes, lo, step, half) };
    }
    gap_sums_body::<SQUARE>(q, codes, lo, step, half)
}

#[inline(always)]
pub(super) fn gap_sums_body<const SQUARE: bool>(q: &[f32], codes: &[u8], lo: f64, step: f64, half: f64) -> (f64, f64) {
    // eight lanes (two AVX2 registers each), so that no lane waits on
    // another's additions
    let (mut near, mut far) = ([0f64; 8], [0f64; 8]);
    let term = |v: f32, k: u8| {
        let off = (v as f64 - (lo + step * k as f64)).abs();
        let (gap, reach) = ((off - half).max(0.0), off + half);
        if SQUARE {
            (gap * gap, reach * reach)
        } else {
            (gap, reach)
        }
    };
    let mut qs = q.chunks_exact(8);
    let mut cs = codes.chunks_exact(8);
    for (x, k) in (&mut qs).zip(&mut cs) {
        for i in 0..8 {
            let (n, f) = term(x[i], k[i]);
            near[i] += n;
            far[i] += f;
        }
    }
    let (mut n_tail, mut f_tail) = (0f64, 0f64);
    for (&v, &k) in qs.remainder().iter().zip(cs.remainder()) {
        let (n, f) = term(v, k);
        n_tail += n;
        f_tail += f;
    }
    (near.iter().sum::<f64>() + n_tail, far.iter().sum::<f64>() + f_tail)
}

/// `Σ (q_i - x̂_i)²` with `x̂_i = lo + step·c_i`, as `((q_i - lo) - step·c_i)²`
/// (the first difference is exact when `q_i` is near `lo`; the second and
/// the square's addition are fused multiply-adds, one rounding each),
/// 32 lanes.
#[inline]
pub(super) fn l2_to_code(q: &[f32], c: &Code) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if wide::available() {
        // SAFETY: the CPU has AVX2 and FMA (checked at run time).
        return unsafe { wide::l2_to_code(q, c.lo, c.step, c.codes) } as f64;
    }
    l2_to_code_body(q, c.lo, c.step, c.codes) as f64
}

/// The loop of [`l2_to_code`]: four groups of eight lanes (so that the
/// additions of one group do not wait on another's), chunks of 8 left
/// over after the groups of 32 added into the first group, the groups
/// folded lane by lane (`((g0 + g1) + g2) + g3`), then the eight lanes
/// summed in order and the last few elements added: a fixed order, so
/// every instruction set gives the same sum (`mul_add` is exact-then-
/// rounded everywhere; without FMA hardware it is a slow library call,
/// only on CPUs that lack AVX2 too). No element's term passes through
/// more than `n/32 + 16` additions.
#[inline(always)]
pub(super) fn l2_to_code_body(q: &[f32], lo: f32, step: f32, codes: &[u8]) -> f32 {
    let mut acc = [0f32; 32];
    let n = q.len().min(codes.len());
    let wide = n / 32 * 32;
    let term = |x: f32, k: u8| (-step).mul_add(k as f32, x - lo);
    for (x, k) in q[..wide].chunks_exact(32).zip(codes[..wide].chunks_exact(32)) {
        for i in 0..32 {
            let d = term(x[i], k[i]);
            acc[i] = d.mul_add(d, acc[i]);
        }
    }
    let eights = n / 8 * 8;
    for (x, k) in q[wide..eights].chunks_exact(8).zip(codes[wide..eights].chunks_exact(8)) {
        for i in 0..8 {
            let d = term(x[i], k[i]);
            acc[i] = d.mul_add(d, acc[i]);
        }
    }
    let mut tail = 0f32;
    for (x, k) in q[eights..n].iter().zip(&codes[eights..n]) {
        let d = term(*x, *k);
        tail = d.mul_add(d, tail);
    }
    let mut lanes = [0f32; 8];
    for (i, l) in lanes.iter_mut().enumerate() {
        *l = ((acc[i] + acc[8 + i]) + acc[16 + i]) + acc[24 + i];
    }
    lanes.iter().sum::<f32>() + tail
}

/// The code kernels compiled for AVX2 (the same loops, wider registers and
/// byte-to-float conversions), picked at run time.
#[cfg(target_arch = "x86_64")]
mod wide {
    /// Whether this CPU runs the AVX2 kernels (AVX2 and FMA, checked once).
    pub use crate::distance::wide::avx2::available;

    use std::arch::x86_64::*;

    /// Eight codes widened to float4 lanes (exact: bytes are small integers).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn codes8(k: &[u8]) -> __m256 {
        debug_assert!(k.len() >= 8);
        // SAFETY: `k` holds at least 8 bytes (callers pass exact chunks);
        // an unaligned 8-byte load.
        let b = unsafe { _mm_loadl_epi64(k.as_ptr().cast::<__m128i>()) };
        _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b))
    }

    /// Eight float4 lanes of `x` (at least 8 long).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn load8(x: &[f32]) -> __m256 {
        debug_assert!(x.len() >= 8);
        // SAFETY: `x` holds at least 8 floats; an unaligned load.
        unsafe { _mm256_loadu_ps(x.as_ptr()) }
    }

    /// The same operations in the same order as
    /// [`super::l2_to_code_body`] (four registers of eight lanes, the same
    /// fused multiply-adds), so the sum has the same bits.
    #[target_feature(enable = "avx2,fma")]
    pub fn l2_to_code(q: &[f32], lo: f32, step: f32, codes: &[u8]) -> f32 {
        let n = q.len().min(codes.len());
        let (q, codes) = (&q[..n], &codes[..n]);
        let (vlo, vstep) = (_mm256_set1_ps(lo), _mm256_set1_ps(step));
        let term = |x: &[f32], k: &[u8], acc: __m256| {
            let d = _mm256_fnmadd_ps(vstep, codes8(k), _mm256_sub_ps(load8(x), vlo));
            _mm256_fmadd_ps(d, d, acc)
        };
        let mut acc = [_mm256_setzero_ps(); 4];
        let wide = n / 32 * 32;
        for (x, k) in q[..wide].chunks_exact(32).zip(codes[..wide].chunks_exact(32)) {
            for g in 0..4 {
                acc[g] = term(&x[8 * g..], &k[8 * g..], acc[g]);
            }
        }
        let eights = n / 8 * 8;
        for (x, k) in q[wide..eights].chunks_exact(8).zip(codes[wide..eights].chunks_exact(8)) {
            acc[0] = term(x, k, acc[0]);
        }
        let folded = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), acc[2]), acc[3]);
        let mut lanes = [0f32; 8];
        // SAFETY: an unaligned store of 8 floats into an 8-float array.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), folded) };
        let mut tail = 0f32;
        for (x, k) in q[eights..].iter().zip(&codes[eights..]) {
            let d = (-step).mul_add(*k as f32, x - lo);
            tail = d.mul_add(d, tail);
        }
        lanes.iter().sum::<f32>() + tail
    }

    /// As [`super::gap_sums_body`], lane for lane and operation for
    /// operation (no fused multiply-add), so the sums have the same bits.
    #[target_feature(enable = "avx2,fma")]
    pub fn gap_sums<const SQUARE: bool>(q: &[f32], codes: &[u8], lo: f64, step: f64, half: f64) -> (f64, f64) {
        let n = q.len().min(codes.len()) / 8 * 8;
        let (vlo, vstep, vhalf, zero) = (_mm256_set1_pd(lo), _mm256_set1_pd(step), _mm256_set1_pd(half), _mm256_setzero_pd());
        let sign = _mm256_set1_pd(-0.0);
        let (mut near, mut far) = ([zero; 2], [zero; 2]);
        let mut i = 0;
        while i < n {
            debug_assert!(codes[i..].len() >= 8);
            // SAFETY: `codes` holds at least 8 bytes from `i` (i + 8 <= n);
            // an unaligned 8-byte load.
            let b = unsafe { _mm_loadl_epi64(codes[i..].as_ptr().cast::<__m128i>()) };
            let k32 = _mm256_cvtepu8_epi32(b);
            let ks = [_mm256_cvtepi32_pd(_mm256_castsi256_si128(k32)), _mm256_cvtepi32_pd(_mm256_extracti128_si256::<1>(k32))];
            let q8 = load8(&q[i..]);
            let qs = [_mm256_cvtps_pd(_mm256_castps256_ps128(q8)), _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(q8))];
            for h in 0..2 {
                let x = _mm256_add_pd(vlo, _mm256_mul_pd(vstep, ks[h]));
                let off = _mm256_andnot_pd(sign, _mm256_sub_pd(qs[h], x));
                // max(NaN, 0) is 0, as f64::max
                let gap = _mm256_max_pd(_mm256_sub_pd(off, vhalf), zero);
                let reach = _mm256_add_pd(off, vhalf);
                if SQUARE {
                    near[h] = _mm256_add_pd(near[h], _mm256_mul_pd(gap, gap));
                    far[h] = _mm256_add_pd(far[h], _mm256_mul_pd(reach, reach));
                } else {
                    near[h] = _mm256_add_pd(near[h], gap);
                    far[h] = _mm256_add_pd(far[h], reach);
                }
            }
            i += 8;
        }
        let (mut nl, mut fl) = ([0f64; 8], [0f64; 8]);
        // SAFETY: unaligned stores of 4 doubles each into 8-double arrays.
        unsafe {
            _mm256_storeu_pd(nl.as_mut_ptr(), near[0]);
            _mm256_storeu_pd(nl.as_mut_ptr().add(4), near[1]);
            _mm256_storeu_pd(fl.as_mut_ptr(), far[0]);
            _mm256_storeu_pd(fl.as_mut_ptr().add(4), far[1]);
        }
        let (mut n_tail, mut f_tail) = (0f64, 0f64);
        for (&v, &k) in q[n..].iter().zip(&codes[n..]) {
            let off = (v as f64 - (lo + step * k as f64)).abs();
            let (gap, reach) = ((off - half).max(0.0), off + half);
            if SQUARE {
                n_tail += gap * gap;
                f_tail += reach * reach;
            } else {
                n_tail += gap;
                f_tail += reach;
            }
        }
        (nl.iter().sum::<f64>() + n_tail, fl.iter().sum::<f64>() + f_tail)
    }

    /// As [`super::dot_u8_body`], lane for lane.
    #[target_feature(enable = "avx2,fma")]
    pub fn dot_u8(q: &[f32], codes: &[u8]) -> f32 {
        let n = q.len().min(codes.len()) / 8 * 8;
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i < n {
            acc = _mm256_add_ps(acc, _mm256_mul_ps(load8(&q[i..]), codes8(&codes[i..])));
            i += 8;
        }
        let mut lanes = [0f32; 8];
        // SAFETY: an unaligned store of 8 floats into an 8-float array.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
        let mut tail = 0f32;
        for (x, k) in q[n..].iter().zip(&codes[n..]) {
            tail += x * *k as f32;
        }
        lanes.iter().sum::<f32>() + tail
    }
}

/// `x̂a · x̂b` of two codes: `Σ (la + sa·a_i)(lb + sb·b_i)` expanded into
/// integer sums, one pass over the bytes.
pub(super) fn decoded_dot(a: &Code, b: &Code, dims: usize) -> f64 {
    let (mut ab, mut sa, mut sb) = (0u32, 0u32, 0u32);
    for (&x, &y) in a.codes.iter().zip(b.codes) {
        ab += x as u32 * y as u32;
        sa += x as u32;
        sb += y as u32;
    }
    let (la, lb, ka, kb) = (a.lo as f64, b.lo as f64, a.step as f64, b.step as f64);
    dims as f64 * la * lb + la * kb * sb as f64 + lb * ka * sa as f64 + ka * kb * ab as f64
}

/// `Σ q_i * c_i` over float4 and bytes, eight lanes at a time so the
/// compiler vectorises it.
#[inline]
pub(super) fn dot_u8(q: &[f32], c: &[u8]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if wide::available() {
        // SAFETY: the CPU has AVX2 and FMA (checked at run time).
        return unsafe { wide::dot_u8(q, c) } as f64;
    }
    dot_u8_body(q, c) as f64
}

#[inline(always)]
pub(super) fn dot_u8_body(q: &[f32], c: &[u8]) -> f32 {
    let mut acc = [0f32; 8];
    let mut qs = q.chunks_exact(8);
    let mut cs = c.chunks_exact(8);
    for (x, k) in (&mut qs).zip(&mut cs) {
        for i in 0..8 {
            acc[i] += x[i] * k[i] as f32;
        }
    }
    let mut tail = 0f32;
    for (x, k) in qs.remainder().iter().zip(cs.remainder()) {
        tail += x * *k as f32;
    }
    acc.iter().sum::<f32>() + tail
}
