//! Compact codes an in-memory build searches on: 8-bit ones (see
//! [`super::codes8`]) where they pass the precision check below, else the
//! half-precision ones described here. A float4 graph's searches
//! for new elements' neighbours read thousands of random vectors per insert
//! from memory; half-precision copies of them are half the bytes, so far
//! more stay in the CPU's caches. Only the search runs on them: the
//! candidates it finds are scored again exactly before the heuristic
//! chooses neighbours, and every distance between two elements (neighbour
//! selection, pruning) is exact, so links are chosen as without codes.
//!
//! A code is the vector less a centre `μ` (each dimension's median over a
//! sample of the data), times a power of two `s`
//! (the same for the whole graph, so the largest element is near 2^14 and
//! small ones keep their precision), rounded to IEEE half. Centring keeps
//! data far from the origin precise (a common offset of 1e4 over a spread
//! of 1 left half precision a step of 8: the searches ran blind). An l2
//! query is its float4 vector less `μ`, times `s`; a dot-product query is
//! its vector times `s`, with `q·μ` kept aside (in float8) and added back,
//! as `q·x = q·(x - μ) + q·μ`. Distances are summed in float4 over sixteen
//! lanes (AVX-512 where the CPU has it) and divided by `s²` (exact: a
//! power of two).

use super::codes8::Codes8;
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
    /// The centre subtracted before scaling (see [`center_of`]).
    origin: Vec<f32>,
    values: Values,
    /// 8-bit codes, where precise enough: then searches run on them and
    /// `values` is empty.
    bytes: Option<Codes8>,
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

    /// Codes of every value (float4 of `space`): 8-bit ones (see
    /// [`super::codes8`]) where they pass the same precision check as
    /// half precision, else half-precision ones ([`Codes::encode_half`]).
    pub fn encode(space: Space, values: &Values) -> Option<Codes> {
        let Space::F32 { metric, dims } = space else { return None };
        if !Self::supports(space) {
            return None;
        }
        #[cfg(test)]
        let eight = !NO_8BIT.with(|c| c.get());
        #[cfg(not(test))]
        let eight = true;
        if let Some(b) = Codes8::encode(space, values).filter(|_| eight) {
            let decode = |i: usize, out: &mut [f32]| {
                b.decode(i, out);
                true
            };
            if fine_enough(values, dims, metric != Metric::L2, &decode) {
                let scale = (1.0, 1.0);
                return Some(Codes { metric, dims, scale, origin: Vec::new(), values: Values::new(1), bytes: Some(b) });
            }
        }
        Self::encode_half(space, values)
    }

    /// Half-precision codes of every value (float4 of `space`); None if
    /// `space` gets none or the values do not suit half precision
    /// (non-finite, all zero, or magnitudes too far apart for one scale: a
    /// vector whose largest element would not be a normal half).
    pub fn encode_half(space: Space, values: &Values) -> Option<Codes> {
        let Space::F32 { metric, dims } = space else { return None };
        if !Self::supports(space) {
            return None;
        }
        let n = values.len();
        let origin = center_of(values, dims)?;
        // the largest magnitude of the centred values, and the smallest of
        // the centred vectors' largest magnitudes (0 left out)
        let (mut max, mut least_top) = (0f32, f32::INFINITY);
        let mut centred = vec![0f32; dims];
        for i in 0..n {
            let top = center(f32s(values.get(i))?, &origin, &mut centred);
            if !top.is_finite() {
                return None;
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
        for i in 0..n {
            center(f32s(values.get(i))?, &origin, &mut centred);
            centred.iter_mut().for_each(|y| *y *= s);
            let h = crate::half::from_f32_slice(&centred);
            // SAFETY: any u16 slice is readable as bytes.
            out.push(unsafe { std::slice::from_raw_parts(h.as_ptr().cast::<u8>(), 2 * h.len()) });
        }
        let codes = Codes { metric, dims, scale: (s, 1.0 / (s as f64 * s as f64)), origin, values: out, bytes: None };
        let decode = |i: usize, out: &mut [f32]| {
            let Some(code) = u16s(codes.values.get(i)) else { return false };
            for ((o, &h), &m) in out.iter_mut().zip(code).zip(&codes.origin) {
                *o = crate::half::to_f32(h) / s + m;
            }
            true
        };
        fine_enough(values, dims, false, &decode).then_some(codes)
    }

    /// Whether the build searches on 8-bit codes.
    pub fn is_8bit(&self) -> bool {
        self.bytes.is_some()
    }

    /// The query for float4 value `value` (stored bytes): `dims` float4,
    /// then `q·μ` as float8 (0 for l2).
    pub fn query(&self, value: &[u8]) -> Bytes {
        if let Some(b) = &self.bytes {
            return b.query(value);
        }
        let q = f32s(value).unwrap_or_default();
        let s = self.scale.0;
        let (x, shift): (Vec<f32>, f64) = match self.metric {
            Metric::L2 => (q.iter().zip(&self.origin).map(|(&v, &m)| (v - m) * s).collect(), 0.0),
            _ => (q.iter().map(|&v| v * s).collect(), q.iter().zip(&self.origin).map(|(&v, &m)| v as f64 * m as f64).sum()),
        };
        let mut out = Bytes::from_slice(f32_bytes(&x));
        out.extend(&shift.to_le_bytes());
        out
    }

    /// Element `i`'s code.
    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        match &self.bytes {
            Some(b) => b.get(i),
            None => self.values.get(i),
        }
    }

    /// Approximate index distance from a [`Codes::query`] to element `i`
    /// (NaN if either is malformed).
    #[inline]
    pub fn distance(&self, query: &[u8], i: usize) -> f64 {
        if let Some(b) = &self.bytes {
            let d = b.distance(query, i);
            return if d.is_nan() && query.len() == 4 * self.dims + 8 { f64::INFINITY } else { d };
        }
        let (Some(head), Some(tail)) = (query.get(..4 * self.dims), query.get(4 * self.dims..)) else { return f64::NAN };
        let (Some(q), Some(c), Ok(shift)) = (f32s(head), u16s(self.values.get(i)), <[u8; 8]>::try_from(tail)) else {
            return f64::NAN;
        };
        if c.len() != self.dims {
            return f64::NAN;
        }
        let shift = f64::from_le_bytes(shift);
        let d = match self.metric {
            Metric::L2 => kernels::l2(q, c) as f64 * self.scale.1,
            Metric::Cosine => 1.0 - (kernels::dot(q, c) as f64 * self.scale.1 + shift),
            _ => -(kernels::dot(q, c) as f64 * self.scale.1 + shift),
        };
        if d.is_nan() {
            f64::INFINITY
        } else {
            d
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.values.bytes() + self.bytes.as_ref().map_or(0, Codes8::bytes)
    }
}

/// Whether codes' rounding stays well below the distances between near
/// neighbours (`decode(i, out)` writes what element `i`'s code stands for;
/// false if it cannot): some rows each look for their nearest among a
/// pool of rows drawn at random (exactly, rows equal to them left out),
/// and at most one in twenty may have a code error above a sixteenth of
/// that distance. Groups of rows at very different distances from the
/// centre (one scale for all: the far ones round to steps wider than their
/// spread) fail it. The pool's nearest is never nearer than the true
/// nearest, so the check errs on the side of codes; its cost is bounded
/// (about 5e7 multiply-adds).
///
/// With `along_rows` (a dot-product metric's 8-bit codes) the same probes
/// also bound each code's error along its own row: the error a search sees
/// is then `q·e` (`e` a code's error), which does not shrink with the
/// distance between query and candidate as an l2 one (`2(q - x)·e`) does,
/// so data far from the origin (a common offset, e.g. unit vectors around
/// one direction) with 8-bit steps fine for l2 still ranks candidates
/// blindly. Each probe row `x` (against its pool-nearest squared distance
/// `r²`) measures `x·(x - x̂)`; at most one in twenty may have
/// `|x·(x - x̂)| √dims > 2 r²`. (Measured on 64-d blobs: unit rows around
/// the origin give a 95th percentile of 0.44, the same rows offset by 10
/// before normalising a median of 2.4 and a 95th percentile of 28, and
/// their 8-bit build lost 0.03 recall@10; for 384-d MiniLM-like rows the
/// estimate is about 0.02.)
fn fine_enough(values: &Values, dims: usize, along_rows: bool, decode: &dyn Fn(usize, &mut [f32]) -> bool) -> bool {
    const PROBES: usize = 64;
    let n = values.len();
    let pool_len = (50_000_000 / (PROBES * dims.max(1))).clamp(32, 2048);
    let ids = sample(n, pool_len);
    let pool: Vec<&[f32]> = match ids.iter().map(|&i| f32s(values.get(i))).collect() {
        Some(p) => p,
        None => return false,
    };
    let l2 = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum::<f64>();
    let (mut probes, mut coarse, mut coarse_along) = (0usize, 0usize, 0usize);
    let step = pool.len().div_ceil(PROBES).max(1);
    let mut decoded = vec![0f32; dims];
    let root = (dims as f64).sqrt();
    for (k, x) in pool.iter().enumerate().step_by(step) {
        let nearest = pool.iter().enumerate().filter(|&(j, _)| j != k).map(|(_, y)| l2(x, y)).filter(|&d| d > 0.0).fold(f64::INFINITY, f64::min);
        if !nearest.is_finite() {
            continue;
        }
        if x.len() != dims || !decode(ids[k], &mut decoded) {
            return false;
        }
        probes += 1;
        coarse += usize::from(l2(x, &decoded) * 256.0 > nearest);
        if along_rows {
            let along: f64 = x.iter().zip(&decoded).map(|(&v, &c)| v as f64 * (v as f64 - c as f64)).sum();
            coarse_along += usize::from(along.abs() * root > 2.0 * nearest);
        }
    }
    coarse * 20 <= probes && coarse_along * 20 <= probes
}

#[cfg(test)]
thread_local! {
    /// Tests: half-precision codes only (as before 8-bit codes), to
    /// compare builds on either.
    pub(super) static NO_8BIT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Rows [`center_of`] looks at.
const CENTER_SAMPLE: usize = 4096;

/// The centre codes are taken around: each dimension's median over
/// [`CENTER_SAMPLE`] rows drawn at random (a median, not a mean: one huge element must not
/// move every vector's centred copy; then the per-vector check in
/// [`Codes::encode`] sees it). None if a sampled value is not finite.
fn center_of(values: &Values, dims: usize) -> Option<Vec<f32>> {
    let rows: Vec<&[f32]> = sample(values.len(), CENTER_SAMPLE).into_iter().map(|i| f32s(values.get(i))).collect::<Option<_>>()?;
    let mut column = Vec::with_capacity(rows.len());
    let mut out = vec![0f32; dims];
    for (j, m) in out.iter_mut().enumerate() {
        column.clear();
        column.extend(rows.iter().map(|r| r.get(j).copied().unwrap_or(f32::NAN)));
        if column.iter().any(|x| !x.is_finite()) {
            return None;
        }
        if !column.is_empty() {
            let mid = column.len() / 2;
            *m = *column.select_nth_unstable_by(mid, |a, b| a.total_cmp(b)).1;
        }
    }
    Some(out)
}

/// `k` row numbers below `n` drawn at random (fixed seed: a build is
/// reproducible; not evenly spaced, which data laid out in a period would
/// fool); all rows when `n <= k`.
fn sample(n: usize, k: usize) -> Vec<usize> {
    if n <= k {
        return (0..n).collect();
    }
    let mut rng = crate::rng::Rng::new(0x5eed);
    (0..k).map(|_| rng.below(n as u64) as usize).collect()
}

/// `x - origin` into `out`; returns its largest magnitude (NaN if `x` is
/// not `origin`'s length).
fn center(x: &[f32], origin: &[f32], out: &mut [f32]) -> f32 {
    if x.len() != origin.len() {
        return f32::NAN;
    }
    let mut top = 0f32;
    for ((y, &v), &m) in out.iter_mut().zip(x).zip(origin) {
        *y = v - m;
        top = top.max(y.abs());
    }
    top
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
                let codes = Codes::encode_half(space, &Values::from_f32(dims, &rows)).expect("codes");
                for (i, q) in rows.chunks(dims).enumerate().take(5) {
                    let query = codes.query(f32_bytes(q));
                    for j in 0..20 {
                        let s = codes.scale.0;
                        let decoded: Vec<f32> =
                            u16s(codes.get(j)).expect("halves").iter().zip(&codes.origin).map(|(&h, &m)| crate::half::to_f32(h) / s + m).collect();
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
            let codes = Codes::encode_half(space, &Values::from_f32(dims, &rows)).expect("codes");
            for (j, row) in rows.chunks(dims).enumerate() {
                let s = codes.scale.0;
                for ((h, x), m) in u16s(codes.get(j)).expect("halves").iter().zip(row).zip(&codes.origin) {
                    let (back, want) = (crate::half::to_f32(*h) / s, x - m);
                    assert!((back - want).abs() <= want.abs() * 2f32.powi(-11), "size {size:e}: {back} vs {want}");
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

    /// 8-bit codes where they are fine enough (data of even spread), half
    /// precision where one dimension's outlier would leave 8-bit steps
    /// wider than the distances between neighbours, and searches on the
    /// chosen codes see near the exact distances.
    #[test]
    fn eight_bit_codes_where_precise_enough() {
        let dims = 64;
        let space = Space::F32 { metric: Metric::L2, dims };
        let mut rng = Rng::new(11);
        let rows: Vec<f32> = (0..200 * dims).map(|_| rng.normal() as f32).collect();
        let even = Codes::encode(space, &Values::from_f32(dims, &rows)).expect("codes");
        assert!(even.is_8bit());
        let q = &rows[..dims];
        let query = even.query(f32_bytes(q));
        for j in 0..200 {
            let exact = index_distance(Metric::L2, q, &rows[j * dims..(j + 1) * dims]);
            let got = even.distance(&query, j);
            assert!((got - exact).abs() <= 0.02 * (1.0 + exact), "{j}: {got} vs {exact}");
        }
        let mut outlier = rows.clone();
        outlier[5] = 1e3;
        let coarse = Codes::encode(space, &Values::from_f32(dims, &outlier)).expect("codes");
        assert!(!coarse.is_8bit());
        assert!(Codes::encode_half(space, &Values::from_f32(dims, &rows)).is_some_and(|c| !c.is_8bit()));
    }
}
