//! float4 kernels for the build's k-means and list assignment: squared
//! Euclidean distance and dot product of one pair (the distance module's
//! [`crate::distance::wide`] kernels on AVX-512 or AVX2), and of one center
//! with four rows at once (the center is loaded once for the four).
//!
//! Sums run in float4 over several independent accumulators (simsimd's
//! single-accumulator loops wait on each FMA's latency), so they may differ
//! from [`crate::distance`]'s in the last bits: callers that must agree
//! with [`crate::ivf::nearest`] re-check near ties with it.
//!
//! The CPU is checked at run time (AVX-512, else AVX2 with FMA); the
//! portable loop below is the reference and the fallback.

/// Squared Euclidean distance.
#[inline]
pub fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F; equal lengths checked above.
            return unsafe { crate::distance::wide::l2_squared(a, b) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA; equal lengths checked above.
            return unsafe { crate::distance::wide::avx2::l2_squared(a, b) };
        }
    }
    scalar::l2sq(a, b)
}

/// Dot product.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: as in `l2sq`.
            return unsafe { crate::distance::wide::inner_product(a, b) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: as in `l2sq`.
            return unsafe { crate::distance::wide::avx2::inner_product_unchecked(a, b) };
        }
    }
    scalar::dot(a, b)
}

/// Squared Euclidean distances of `c` to each of four rows.
#[inline]
pub fn l2sq4(c: &[f32], x: [&[f32]; 4]) -> [f32; 4] {
    assert!(x.iter().all(|r| r.len() == c.len()));
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F; every length checked above.
            return unsafe { x86::l2sq4_512(c, x) };
        }
    }
    x.map(|r| l2sq(c, r))
}

/// Dot products of `c` with each of four rows.
#[inline]
pub fn dot4(c: &[f32], x: [&[f32]; 4]) -> [f32; 4] {
    assert!(x.iter().all(|r| r.len() == c.len()));
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: as in `l2sq4`.
            return unsafe { x86::dot4_512(c, x) };
        }
    }
    x.map(|r| dot(c, r))
}

/// The portable reference: eight float4 lanes, summed pairwise at the end.
pub mod scalar {
    /// Squared Euclidean distance.
    pub fn l2sq(a: &[f32], b: &[f32]) -> f32 {
        fold(a, b, |x, y| (x - y) * (x - y))
    }

    /// Dot product.
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        fold(a, b, |x, y| x * y)
    }

    #[inline]
    fn fold(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
        let mut acc = [0f32; 8];
        let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
        let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(&x, &y)| f(x, y)).sum();
        for (x, y) in ca.zip(cb) {
            for l in 0..8 {
                acc[l] += f(x[l], y[l]);
            }
        }
        ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Lanes `at..at + 16` of `a` (fewer at the end: the rest read as 0).
    ///
    /// # Safety
    /// AVX-512F; `at < a.len()`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load16(a: &[f32], at: usize) -> __m512 {
        let left = a.len() - at;
        if left >= 16 {
            // SAFETY: 16 floats from `at` are in bounds.
            unsafe { _mm512_loadu_ps(a.as_ptr().add(at)) }
        } else {
            // SAFETY: the mask only reads the `left` floats in bounds.
            unsafe { _mm512_maskz_loadu_ps(((1u32 << left) - 1) as __mmask16, a.as_ptr().add(at)) }
        }
    }

    macro_rules! four_512 {
        ($name:ident, $step:expr) => {
            /// # Safety
            /// AVX-512F; every row as long as `c`.
            #[target_feature(enable = "avx512f")]
            pub unsafe fn $name(c: &[f32], x: [&[f32]; 4]) -> [f32; 4] {
                let step = $step;
                let mut acc = [_mm512_setzero_ps(); 4];
                let mut i = 0;
                while i < c.len() {
                    // SAFETY: i < len of every slice; the load masks the tail.
                    let cv = unsafe { load16(c, i) };
                    for (s, r) in acc.iter_mut().zip(x) {
                        // SAFETY: as above.
                        *s = step(cv, unsafe { load16(r, i) }, *s);
                    }
                    i += 16;
                }
                acc.map(|s| _mm512_reduce_add_ps(s))
            }
        };
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn sq_step(x: __m512, y: __m512, s: __m512) -> __m512 {
        let d = _mm512_sub_ps(x, y);
        _mm512_fmadd_ps(d, d, s)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn dot_step(x: __m512, y: __m512, s: __m512) -> __m512 {
        _mm512_fmadd_ps(x, y, s)
    }

    four_512!(l2sq4_512, sq_step);
    four_512!(dot4_512, dot_step);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn exact(a: &[f32], b: &[f32]) -> (f64, f64, f64) {
        let l2: f64 = a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum();
        let dot: f64 = a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum();
        let scale: f64 = a.iter().zip(b).map(|(&x, &y)| (x as f64).abs() * (y as f64).abs() + (x as f64).powi(2) + (y as f64).powi(2)).sum();
        (l2, dot, scale)
    }

    fn close(got: f32, want: f64, scale: f64, what: &str) {
        assert!((got as f64 - want).abs() <= 1e-5 * scale + 1e-30, "{what}: {got} vs {want} (scale {scale})");
    }

    /// Every kernel (and each CPU variant present) against a float8 sum, for
    /// lengths with every kind of tail, odd ones included.
    #[test]
    fn kernels_match_a_float8_reference() {
        let mut rng = Rng::new(5);
        for n in (0..=70).chain([127, 128, 129, 383, 384, 385, 1000]) {
            let row = |rng: &mut Rng| (0..n).map(|_| (rng.normal() * 3.0) as f32).collect::<Vec<f32>>();
            let c = row(&mut rng);
            let xs: Vec<Vec<f32>> = (0..4).map(|_| row(&mut rng)).collect();
            let four = [&xs[0][..], &xs[1][..], &xs[2][..], &xs[3][..]];
            let (q4, d4) = (l2sq4(&c, four), dot4(&c, four));
            for (r, x) in xs.iter().enumerate() {
                let (l2, d, scale) = exact(&c, x);
                let what = format!("n {n} row {r}");
                close(l2sq(&c, x), l2, scale, &what);
                close(dot(&c, x), d, scale, &what);
                close(scalar::l2sq(&c, x), l2, scale, &what);
                close(scalar::dot(&c, x), d, scale, &what);
                close(q4[r], l2, scale, &what);
                close(d4[r], d, scale, &what);
                #[cfg(target_arch = "x86_64")]
                {
                    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                        // SAFETY: the CPU has AVX2 and FMA; equal lengths.
                        let (a, b) = unsafe { (crate::distance::wide::avx2::l2_squared(&c, x), crate::distance::wide::avx2::inner_product_unchecked(&c, x)) };
                        close(a, l2, scale, &what);
                        close(b, d, scale, &what);
                    }
                    if std::arch::is_x86_feature_detected!("avx512f") {
                        // SAFETY: the CPU has AVX-512F; equal lengths.
                        let (a, b) = unsafe { (crate::distance::wide::l2_squared(&c, x), crate::distance::wide::inner_product(&c, x)) };
                        close(a, l2, scale, &what);
                        close(b, d, scale, &what);
                    }
                }
            }
        }
    }

    #[test]
    fn kernels_agree_with_the_distance_module() {
        let mut rng = Rng::new(9);
        let a: Vec<f32> = (0..384).map(|_| rng.normal() as f32).collect();
        let b: Vec<f32> = (0..384).map(|_| rng.normal() as f32).collect();
        let (l2, d) = (crate::distance::l2_squared(&a, &b), crate::distance::inner_product(&a, &b));
        assert!((l2sq(&a, &b) as f64 - l2).abs() <= 1e-5 * l2, "{} vs {l2}", l2sq(&a, &b));
        assert!((dot(&a, &b) as f64 - d).abs() <= 1e-3, "{} vs {d}", dot(&a, &b));
        assert_eq!(l2sq(&a, &a), 0.0);
    }

    #[test]
    #[should_panic]
    fn different_lengths_are_refused() {
        l2sq(&[1.0, 2.0], &[1.0]);
    }
}
