//! Compact codes an in-memory build searches on. A float4 graph's searches
//! for new elements' neighbours read thousands of random vectors per insert
//! from memory; half-precision copies of them are half the bytes, so far
//! more stay in the CPU's caches. Only the search runs on them: the
//! candidates it finds are scored again exactly before the heuristic
//! chooses neighbours, and every distance between two elements (neighbour
//! selection, pruning) is exact, so links are chosen as without codes.
//!
//! A code is the vector times a power of two `s` (the same for the whole
//! graph, so the largest element is near 2^14 and small ones keep their
//! precision), rounded to IEEE half; a query is its float4 vector times
//! `s`. Distances are summed in float4 over sixteen lanes (AVX-512 where
//! the CPU has it) and divided by `s²` (exact: a power of two).

use super::dedup::Values;
use crate::distance::Metric;
use crate::space::{f32_bytes, f32s, u16s, Bytes, Space};

/// Dimensions from which a float4 build searches on codes (below, a vector
/// is a few cache lines and exact distances cost little more).
pub const MIN_DIMS: usize = 64;

/// The half-precision codes of every value of a float4 graph.
pub struct Codes {
    metric: Metric,
    dims: usize,
    /// `s` and `1 / s²`.
    scale: (f32, f64),
    values: Values,
}

impl Codes {
    /// Whether codes can stand in for values of `space` during a build
    /// (float4, a metric with a code kernel).
    pub fn supports(space: Space) -> bool {
        matches!(space, Space::F32 { metric: Metric::L2 | Metric::Cosine | Metric::InnerProduct, dims } if dims > 0)
    }

    /// Bytes one element's code takes (0 when `space` gets no codes).
    pub fn bytes_per_element(space: Space) -> usize {
        match space {
            Space::F32 { dims, .. } if Self::supports(space) => Values::bytes_per_value(2 * dims),
            _ => 0,
        }
    }

    /// Codes of every value (float4 of `space`); None if `space` gets none
    /// or the values do not suit half precision (non-finite, all zero, or
    /// magnitudes too far apart for one scale: a vector whose largest
    /// element would not be a normal half).
    pub fn encode(space: Space, values: &Values) -> Option<Codes> {
        let Space::F32 { metric, dims } = space else { return None };
        if !Self::supports(space) {
            return None;
        }
        // the largest magnitude, and the smallest of the non-zero
        // vectors' largest magnitudes
        let (mut max, mut least_top) = (0f32, f32::INFINITY);
        for i in 0..values.len() {
            let mut top = 0f32;
            for &x in f32s(values.get(i))? {
                if !x.is_finite() {
                    return None;
                }
                top = top.max(x.abs());
            }
            max = max.max(top);
            if top > 0.0 {
                least_top = least_top.min(top);
            }
        }
        if max == 0.0 {
            return None;
        }
        // s = 2^k with max·s in [2^13, 2^14): no overflow, full precision
        let k = 13 - max.log2().floor() as i32;
        let s = 2f32.powi(k);
        if !s.is_finite() || s == 0.0 || !(max * s).is_finite() {
            return None;
        }
        // every vector keeps half precision's 11 bits relative to its own
        // largest element: that element must stay a normal half (from
        // 2^-14). One huge element elsewhere would otherwise flush the rest
        // of the data to zero codes and the searches would wander blind.
        if least_top * s < 2f32.powi(-14) {
            return None;
        }
        let mut out = Values::new(2 * dims);
        let mut scaled = vec![0f32; dims];
        for i in 0..values.len() {
            for (y, &x) in scaled.iter_mut().zip(f32s(values.get(i))?) {
                *y = x * s;
            }
            let h = crate::half::from_f32_slice(&scaled);
            // SAFETY: any u16 slice is readable as bytes.
            out.push(unsafe { std::slice::from_raw_parts(h.as_ptr().cast::<u8>(), 2 * h.len()) });
        }
        Some(Codes { metric, dims, scale: (s, 1.0 / (s as f64 * s as f64)), values: out })
    }

    /// The query for float4 value `value` (stored bytes).
    pub fn query(&self, value: &[u8]) -> Bytes {
        let x: Vec<f32> = f32s(value).unwrap_or_default().iter().map(|&v| v * self.scale.0).collect();
        Bytes::from_slice(f32_bytes(&x))
    }

    /// Element `i`'s code.
    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        self.values.get(i)
    }

    /// Approximate index distance from a [`Codes::query`] to element `i`
    /// (NaN if either is malformed).
    #[inline]
    pub fn distance(&self, query: &[u8], i: usize) -> f64 {
        let (Some(q), Some(c)) = (f32s(query), u16s(self.values.get(i))) else { return f64::NAN };
        if q.len() != self.dims || c.len() != self.dims {
            return f64::NAN;
        }
        let d = match self.metric {
            Metric::L2 => kernels::l2(q, c) as f64 * self.scale.1,
            Metric::Cosine => 1.0 - kernels::dot(q, c) as f64 * self.scale.1,
            _ => -(kernels::dot(q, c) as f64 * self.scale.1),
        };
        if d.is_nan() {
            f64::INFINITY
        } else {
            d
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.values.bytes()
    }
}

/// The code kernels: sixteen lanes in a fixed order.
mod kernels {
    use crate::half::to_f32;

    const LANES: usize = 16;

    #[inline]
    fn l2_plain(q: &[f32], c: &[u16]) -> f32 {
        let mut acc = [0f32; LANES];
        let mut qs = q.chunks_exact(LANES);
        let mut cs = c.chunks_exact(LANES);
        for (x, k) in (&mut qs).zip(&mut cs) {
            for i in 0..LANES {
                let d = x[i] - to_f32(k[i]);
                acc[i] += d * d;
            }
        }
        let tail: f32 = qs.remainder().iter().zip(cs.remainder()).map(|(x, k)| (x - to_f32(*k)) * (x - to_f32(*k))).sum();
        acc.iter().sum::<f32>() + tail
    }

    #[inline]
    fn dot_plain(q: &[f32], c: &[u16]) -> f32 {
        let mut acc = [0f32; LANES];
        let mut qs = q.chunks_exact(LANES);
        let mut cs = c.chunks_exact(LANES);
        for (x, k) in (&mut qs).zip(&mut cs) {
            for i in 0..LANES {
                acc[i] += x[i] * to_f32(k[i]);
            }
        }
        let tail: f32 = qs.remainder().iter().zip(cs.remainder()).map(|(x, k)| x * to_f32(*k)).sum();
        acc.iter().sum::<f32>() + tail
    }

    #[cfg(target_arch = "x86_64")]
    mod wide {
        use crate::half::to_f32;
        use std::arch::x86_64::*;

        /// Whether this CPU runs the AVX-512 kernels.
        #[inline]
        pub fn available() -> bool {
            use std::sync::OnceLock;
            static AVX512: OnceLock<bool> = OnceLock::new();
            *AVX512.get_or_init(|| is_x86_feature_detected!("avx512f"))
        }

        /// Sixteen lane sums of the whole chunks, the tail's sum.
        #[target_feature(enable = "avx512f")]
        fn sums(q: &[f32], c: &[u16], l2: bool) -> (f32, f32) {
            let n = q.len().min(c.len()) / 16 * 16;
            let mut acc = _mm512_setzero_ps();
            let mut at = 0;
            while at < n {
                // SAFETY: `at + 16 <= n` elements of both slices exist;
                // unaligned loads.
                let (x, k) = unsafe {
                    (_mm512_loadu_ps(q.as_ptr().add(at)), _mm512_cvtph_ps(_mm256_loadu_si256(c.as_ptr().add(at).cast())))
                };
                acc = if l2 {
                    let d = _mm512_sub_ps(x, k);
                    _mm512_fmadd_ps(d, d, acc)
                } else {
                    _mm512_fmadd_ps(x, k, acc)
                };
                at += 16;
            }
            let tail = q[n..]
                .iter()
                .zip(&c[n..])
                .map(|(x, k)| {
                    let v = to_f32(*k);
                    if l2 {
                        (x - v) * (x - v)
                    } else {
                        x * v
                    }
                })
                .sum::<f32>();
            (_mm512_reduce_add_ps(acc), tail)
        }

        #[target_feature(enable = "avx512f")]
        pub fn l2(q: &[f32], c: &[u16]) -> f32 {
            let (a, t) = sums(q, c, true);
            a + t
        }

        #[target_feature(enable = "avx512f")]
        pub fn dot(q: &[f32], c: &[u16]) -> f32 {
            let (a, t) = sums(q, c, false);
            a + t
        }
    }

    #[inline]
    pub fn l2(q: &[f32], c: &[u16]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if wide::available() {
            // SAFETY: the CPU has AVX-512F (checked at run time).
            return unsafe { wide::l2(q, c) };
        }
        l2_plain(q, c)
    }

    #[inline]
    pub fn dot(q: &[f32], c: &[u16]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if wide::available() {
            // SAFETY: as in `l2`.
            return unsafe { wide::dot(q, c) };
        }
        dot_plain(q, c)
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::rng::Rng;

        /// The kernel in use (AVX-512 where the CPU has it) against the
        /// portable one, at odd lengths and from unaligned starts, with
        /// halves from all 0 to the largest finite: within float4
        /// summation's bound (`2·n·ε·Σ|term|`: the lanes' order and fused
        /// multiply-adds differ), and exactly equal for exact sums.
        #[test]
        fn wide_kernels_match_the_portable_ones() {
            let mut rng = Rng::new(5);
            for dims in [1, 3, 15, 16, 17, 63, 64, 65, 383, 384, 385, 2000, 16000] {
                for shift in [0, 1, 3] {
                    let qv: Vec<f32> = (0..dims + shift).map(|_| (rng.normal() * 1000.0) as f32).collect();
                    let kinds: [Vec<u16>; 4] = [
                        (0..dims + shift).map(|_| crate::half::from_f32_slice(&[(rng.normal() * 1000.0) as f32])[0]).collect(),
                        vec![0u16; dims + shift],
                        vec![0x7bff; dims + shift], // 65504
                        vec![0x0001; dims + shift], // the smallest subnormal
                    ];
                    for c in &kinds {
                        let (q, c) = (&qv[shift..], &c[shift..]);
                        let l2_terms: f32 = q.iter().zip(c).map(|(x, k)| (x - to_f32(*k)) * (x - to_f32(*k))).sum();
                        let dot_terms: f32 = q.iter().zip(c).map(|(x, k)| (x * to_f32(*k)).abs()).sum();
                        let eps = f32::EPSILON as f64;
                        let (l2w, l2p) = (l2(q, c) as f64, l2_plain(q, c) as f64);
                        let (dw, dp) = (dot(q, c) as f64, dot_plain(q, c) as f64);
                        assert!((l2w - l2p).abs() <= 2.0 * dims as f64 * eps * l2_terms as f64, "l2 {dims}+{shift}: {l2w} vs {l2p}");
                        assert!((dw - dp).abs() <= 2.0 * dims as f64 * eps * dot_terms as f64, "dot {dims}+{shift}: {dw} vs {dp}");
                        assert!(l2w.is_finite() && dw.is_finite());
                        if c.iter().all(|&k| k == 0) {
                            assert_eq!(dw, 0.0);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::index_distance;
    use crate::rng::Rng;

    /// Code distances are those of the decoded vectors (to float4
    /// rounding), for every metric with codes, and near the exact ones.
    #[test]
    fn code_distances_match_decoded_vectors() {
        let mut rng = Rng::new(7);
        for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
            for dims in [1, 15, 16, 100, 384] {
                let rows: Vec<f32> = (0..20 * dims).map(|_| rng.normal() as f32 * 0.1).collect();
                let space = Space::F32 { metric, dims };
                let codes = Codes::encode(space, &Values::from_f32(dims, &rows)).expect("codes");
                for (i, q) in rows.chunks(dims).enumerate().take(5) {
                    let query = codes.query(f32_bytes(q));
                    for j in 0..20 {
                        let s = codes.scale.0;
                        let decoded: Vec<f32> = u16s(codes.get(j)).expect("halves").iter().map(|&h| crate::half::to_f32(h) / s).collect();
                        let want = index_distance(metric, q, &decoded);
                        let got = codes.distance(&query, j);
                        assert!((got - want).abs() <= 1e-4 * (1.0 + want.abs()), "{metric:?} {dims} {i}->{j}: {got} vs {want}");
                        let exact = index_distance(metric, q, &rows[j * dims..(j + 1) * dims]);
                        assert!((got - exact).abs() <= 0.002 * (1.0 + exact.abs()), "{metric:?} {dims}: {got} vs exact {exact}");
                    }
                }
            }
        }
        assert!(!Codes::supports(Space::F32 { metric: Metric::L1, dims: 8 }));
        assert!(!Codes::supports(Space::F16 { metric: Metric::L2, dims: 8 }));
    }

    /// The scale suits data of any size (1e-30 to 1e30: codes within
    /// half precision of the vectors); magnitudes too far apart for one
    /// scale (a vector's largest element below a normal half) give no
    /// codes; zero vectors are fine.
    #[test]
    fn scales_keep_every_vector_precise_or_give_no_codes() {
        let dims = 64;
        let space = Space::F32 { metric: Metric::L2, dims };
        let mut rng = Rng::new(3);
        let base: Vec<f32> = (0..10 * dims).map(|_| rng.normal() as f32).collect();
        for size in [1e-30f32, 1e-10, 1.0, 1e10, 1e30] {
            let rows: Vec<f32> = base.iter().map(|x| x * size).collect();
            let codes = Codes::encode(space, &Values::from_f32(dims, &rows)).expect("codes");
            for (j, row) in rows.chunks(dims).enumerate() {
                let s = codes.scale.0;
                for (h, x) in u16s(codes.get(j)).expect("halves").iter().zip(row) {
                    let back = crate::half::to_f32(*h) / s;
                    assert!((back - x).abs() <= x.abs() * 2f32.powi(-11), "size {size:e}: {back} vs {x}");
                }
            }
        }
        let spread = |ratio: f32| {
            let mut rows = base.clone();
            rows[5] = ratio;
            rows.extend(vec![0f32; dims]);
            Codes::encode(space, &Values::from_f32(dims, &rows)).is_some()
        };
        assert!(spread(1e6));
        assert!(!spread(1e15));
        assert!(!spread(1e30));
    }
}
