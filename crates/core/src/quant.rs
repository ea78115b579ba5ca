//! 8-bit scalar quantisation, per vector: each vector is stored as its
//! minimum `lo`, a step `s = (max - min) / 255` and one byte per element,
//! `x_i ≈ lo + s * c_i` with `|x_i - (lo + s * c_i)| <= s / 2`. A quarter of
//! float4's bytes, so a graph page holds three times the elements and a
//! search reads a third of the memory.
//!
//! Distances between a float4 query and a code need one pass over the
//! codes (a float4-by-byte dot product) thanks to the per-vector header
//! (`lo`, `s`, and the code's own squared norm). [`Sq8::lower_bound`]
//! gives, from the error bound, a value the exact distance can never be
//! below: what lets an index return codes' rows for the executor to
//! re-check and re-order exactly.
//!
//! Stored layout: `lo`, `s`, `|x̂|²` (written, no longer read: L2 sums
//! differences) and a mark (1.0: see [`float4_norm_risky`]) as float4, then
//! `dims` bytes. Query layout (see [`Sq8::query`]): `Σq`, an unused float4,
//! `Σ|q|`, the mark, then `dims` float4.

use crate::distance::Metric;
use crate::space::{f32_bytes, f32s, Bytes};

/// Bytes before the codes of a stored value, and before the float4 of a
/// query.
pub const HEADER: usize = 16;

/// 8-bit scalar quantisation of `dims`-long vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sq8 {
    /// Number of elements.
    pub dims: usize,
}

/// A stored value, viewed (the stored `|x̂|²` is no longer read: L2 is
/// summed over differences). `wide`: see [`float4_norm_risky`].
struct Code<'a> {
    lo: f32,
    step: f32,
    wide: bool,
    codes: &'a [u8],
}

/// A query, viewed.
struct Query<'a> {
    sum: f32,
    abs_sum: f32,
    wide: bool,
    x: &'a [f32],
}

/// Whether the float4 sum of squares of the vector as the user gave it may
/// underflow or overflow (elements near 1e-19 or 1e19): the cosine
/// operator, which normalises with float4 norms, can then answer anything
/// from 0 to 2 (or NaN), so no bound holds for it. Such vectors are marked
/// in their code's header (and queries in theirs).
pub fn float4_norm_risky(raw: &[f32]) -> bool {
    let s: f64 = raw.iter().map(|&v| v as f64 * v as f64).sum();
    !(1e-25..=1e37).contains(&s)
}

fn header(b: &[u8]) -> Option<[f32; 4]> {
    let h = f32s(b.get(..HEADER)?)?;
    Some([h[0], h[1], h[2], h[3]])
}

impl Sq8 {
    /// Bytes of a stored value.
    pub fn value_bytes(&self) -> usize {
        HEADER + self.dims
    }

    /// The code of `x` (already normalised for cosine).
    pub fn encode(&self, x: &[f32]) -> Bytes {
        self.encode_marked(x, false)
    }

    /// The code of `x`, marked when the original's norm is risky (see
    /// [`float4_norm_risky`]).
    pub fn encode_marked(&self, x: &[f32], wide: bool) -> Bytes {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &v in x {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if x.is_empty() {
            (lo, hi) = (0.0, 0.0);
        }
        let step = ((hi as f64 - lo as f64) / 255.0) as f32;
        let mut codes = Vec::with_capacity(x.len());
        let mut norm2 = 0f64;
        for &v in x {
            let c = if step > 0.0 { ((v as f64 - lo as f64) / step as f64).round().clamp(0.0, 255.0) as u8 } else { 0 };
            let r = lo as f64 + step as f64 * c as f64;
            norm2 += r * r;
            codes.push(c);
        }
        let mut out = Bytes::from_f32(&[lo, step, norm2 as f32, if wide { 1.0 } else { 0.0 }]);
        out.extend(&codes);
        out
    }

    /// The approximate vector a code stands for.
    pub fn decode(&self, value: &[u8]) -> Option<Vec<f32>> {
        let c = self.code(value)?;
        Some(c.codes.iter().map(|&k| c.lo + c.step * k as f32).collect())
    }

    /// The query form of a (prepared) float4 query.
    pub fn query(&self, q: &[f32]) -> Bytes {
        self.query_marked(q, false)
    }

    /// The query form, marked when the original's norm is risky.
    pub fn query_marked(&self, q: &[f32], wide: bool) -> Bytes {
        let (mut sum, mut abs) = (0f64, 0f64);
        for &v in q {
            sum += v as f64;
            abs += (v as f64).abs();
        }
        let mut out = Bytes::from_f32(&[sum as f32, 0.0, abs as f32, if wide { 1.0 } else { 0.0 }]);
        out.extend(f32_bytes(q));
        out
    }

    fn code<'a>(&self, value: &'a [u8]) -> Option<Code<'a>> {
        if value.len() != self.value_bytes() {
            return None;
        }
        let [lo, step, _, mark] = header(value)?;
        Some(Code { lo, step, wide: mark != 0.0, codes: &value[HEADER..] })
    }

    fn view_query<'a>(&self, query: &'a [u8]) -> Option<Query<'a>> {
        let [sum, _, abs_sum, mark] = header(query)?;
        let x = f32s(&query[HEADER..])?;
        (x.len() == self.dims).then_some(Query { sum, abs_sum, wide: mark != 0.0, x })
    }

    /// Distance the index orders by between a query and a code (the
    /// metric's index distance of the decoded vector).
    pub fn distance(&self, metric: Metric, query: &[u8], value: &[u8]) -> f64 {
        let (Some(q), Some(c)) = (self.view_query(query), self.code(value)) else { return f64::NAN };
        let d = Self::fast_distance(metric, &q, &c);
        if d.is_finite() {
            return d;
        }
        // a float4 sum overflowed (inf, or inf - inf): sum in float8
        let terms = q.x.iter().zip(c.codes).map(|(&v, &k)| (v as f64, c.lo as f64 + c.step as f64 * k as f64));
        match metric {
            Metric::L2 => terms.map(|(v, x)| (v - x) * (v - x)).sum(),
            Metric::InnerProduct => -terms.map(|(v, x)| v * x).sum::<f64>(),
            Metric::Cosine => 1.0 - terms.map(|(v, x)| v * x).sum::<f64>(),
            Metric::L1 => terms.map(|(v, x)| (v - x).abs()).sum(),
            // sq8 codes are float vectors only
            Metric::Hamming | Metric::Jaccard => f64::NAN,
        }
    }

    fn fast_distance(metric: Metric, q: &Query, c: &Code) -> f64 {
        match metric {
            // differences first: |q|² - 2q·x̂ + |x̂|² cancels catastrophically
            // for vectors far from the origin (a common offset)
            Metric::L2 => l2_to_code(q.x, c),
            Metric::InnerProduct => -(c.lo as f64 * q.sum as f64 + c.step as f64 * dot_u8(q.x, c.codes)),
            Metric::Cosine => 1.0 - (c.lo as f64 * q.sum as f64 + c.step as f64 * dot_u8(q.x, c.codes)),
            Metric::L1 => q.x.iter().zip(c.codes).map(|(&v, &k)| (v - (c.lo + c.step * k as f32)).abs() as f64).sum(),
            // sq8 codes are float vectors only
            Metric::Hamming | Metric::Jaccard => f64::NAN,
        }
    }

    /// Distance between two codes (their decoded vectors).
    pub fn between(&self, metric: Metric, a: &[u8], b: &[u8]) -> f64 {
        let (Some(a), Some(b)) = (self.code(a), self.code(b)) else { return f64::NAN };
        match metric {
            Metric::L2 => {
                let mut acc = [0f32; 8];
                let shift = a.lo - b.lo;
                let mut xs = a.codes.chunks_exact(8);
                let mut ys = b.codes.chunks_exact(8);
                for (x, y) in (&mut xs).zip(&mut ys) {
                    for i in 0..8 {
                        let d = shift + (a.step * x[i] as f32 - b.step * y[i] as f32);
                        acc[i] += d * d;
                    }
                }
                let mut tail = 0f32;
                for (x, y) in xs.remainder().iter().zip(ys.remainder()) {
                    let d = shift + (a.step * *x as f32 - b.step * *y as f32);
                    tail += d * d;
                }
                (acc.iter().sum::<f32>() + tail) as f64
            }
            Metric::InnerProduct => -decoded_dot(&a, &b, self.dims),
            Metric::Cosine => 1.0 - decoded_dot(&a, &b, self.dims),
            Metric::L1 => {
                let mut acc = [0f32; 8];
                let mut xs = a.codes.chunks_exact(8);
                let mut ys = b.codes.chunks_exact(8);
                for (x, y) in (&mut xs).zip(&mut ys) {
                    for i in 0..8 {
                        acc[i] += (a.lo + a.step * x[i] as f32 - (b.lo + b.step * y[i] as f32)).abs();
                    }
                }
                let mut tail = 0f32;
                for (x, y) in xs.remainder().iter().zip(ys.remainder()) {
                    tail += (a.lo + a.step * *x as f32 - (b.lo + b.step * *y as f32)).abs();
                }
                (acc.iter().sum::<f32>() + tail) as f64
            }
            Metric::Hamming | Metric::Jaccard => f64::NAN,
        }
    }

    /// A value the operator's result for the query and the vector behind
    /// `value` is never below (l2: the Euclidean distance, not its square;
    /// cosine: of the normalised vectors). Each element is within half a
    /// step of its code; and the operator sums in float4 (as pgvector
    /// does), which may come out below the true sum by up to about
    /// `(n + 4)·u` times the sum of the terms' magnitudes (absorbed small
    /// terms, cancellation), or overflow to -Infinity for inner products:
    /// the bound allows for both.
    pub fn lower_bound(&self, metric: Metric, query: &[u8], value: &[u8]) -> f64 {
        let (Some(q), Some(c)) = (self.view_query(query), self.code(value)) else { return f64::NEG_INFINITY };
        if metric == Metric::Cosine && (q.wide || c.wide) {
            return f64::NEG_INFINITY;
        }
        let half = c.step as f64 / 2.0 * (1.0 + 1e-6);
        let gamma = (self.dims as f64 + 4.0) * UNIT_ROUNDOFF;
        let (lo, step) = (c.lo as f64, c.step as f64);
        let bound = match metric {
            Metric::L2 | Metric::L1 => {
                // true sum >= Σ gap^p; the float4 sum >= true - gamma·Σ reach^p
                let (near, far) = if metric == Metric::L2 {
                    gap_sums::<true>(q.x, c.codes, lo, step, half)
                } else {
                    gap_sums::<false>(q.x, c.codes, lo, step, half)
                };
                let sum = near - gamma * far;
                if metric == Metric::L2 {
                    sum.max(0.0).sqrt()
                } else {
                    sum
                }
            }
            Metric::InnerProduct | Metric::Cosine => {
                let (mut dot, mut magnitude) = (0f64, 0f64);
                for (&v, &k) in q.x.iter().zip(c.codes) {
                    let x = lo + step * k as f64;
                    dot += v as f64 * x;
                    magnitude += (v as f64).abs() * (x.abs() + half);
                }
                let upper = dot + half * q.abs_sum as f64 * (1.0 + 1e-6);
                if metric == Metric::Cosine {
                    // the operator normalises with float4 norms too: its
                    // similarity is within a few gamma of the true one
                    1.0 - upper - 4.0 * gamma - 1e-7
                } else if magnitude >= f32::MAX as f64 / 2.0 {
                    // the float4 sum may overflow: the operator can say -inf
                    f64::NEG_INFINITY
                } else {
                    -(upper + gamma * magnitude)
                }
            }
            Metric::Hamming | Metric::Jaccard => f64::NEG_INFINITY,
        };
        if bound.is_nan() {
            f64::NEG_INFINITY
        } else {
            bound
        }
    }
}

/// `(Σ gap^p, Σ reach^p)` over the elements (p = 2 when `SQUARE`, else 1),
/// where `off = |q_i - x̂_i|`, `gap = max(off - half, 0)`, `reach = off +
/// half`, in float8 (four lanes, for AVX2 where the CPU has it; the lanes'
/// order changes only float8 rounding, far below the bound's margins).
#[inline]
fn gap_sums<const SQUARE: bool>(q: &[f32], codes: &[u8], lo: f64, step: f64, half: f64) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if wide::available() {
        // SAFETY: the CPU has AVX2 and FMA (checked at run time).
        return unsafe { wide::gap_sums::<SQUARE>(q, codes, lo, step, half) };
    }
    gap_sums_body::<SQUARE>(q, codes, lo, step, half)
}

#[inline(always)]
fn gap_sums_body<const SQUARE: bool>(q: &[f32], codes: &[u8], lo: f64, step: f64, half: f64) -> (f64, f64) {
    let (mut near, mut far) = ([0f64; 4], [0f64; 4]);
    let term = |v: f32, k: u8| {
        let off = (v as f64 - (lo + step * k as f64)).abs();
        let (gap, reach) = ((off - half).max(0.0), off + half);
        if SQUARE {
            (gap * gap, reach * reach)
        } else {
            (gap, reach)
        }
    };
    let mut qs = q.chunks_exact(4);
    let mut cs = codes.chunks_exact(4);
    for (x, k) in (&mut qs).zip(&mut cs) {
        for i in 0..4 {
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

/// Unit roundoff of float4 (half its machine epsilon).
const UNIT_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;

/// `Σ (q_i - x̂_i)²` with `x̂_i = lo + step·c_i`, as `((q_i - lo) - step·c_i)²`
/// (the first difference is exact when `q_i` is near `lo`), eight lanes.
#[inline]
fn l2_to_code(q: &[f32], c: &Code) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if wide::available() {
        // SAFETY: the CPU has AVX2 and FMA (checked at run time).
        return unsafe { wide::l2_to_code(q, c.lo, c.step, c.codes) } as f64;
    }
    l2_to_code_body(q, c.lo, c.step, c.codes) as f64
}

/// The loop of [`l2_to_code`]: eight lanes in a fixed order, so every
/// instruction set gives the same sum.
#[inline(always)]
fn l2_to_code_body(q: &[f32], lo: f32, step: f32, codes: &[u8]) -> f32 {
    let mut acc = [0f32; 8];
    let mut qs = q.chunks_exact(8);
    let mut cs = codes.chunks_exact(8);
    for (x, k) in (&mut qs).zip(&mut cs) {
        for i in 0..8 {
            let d = (x[i] - lo) - step * k[i] as f32;
            acc[i] += d * d;
        }
    }
    let mut tail = 0f32;
    for (x, k) in qs.remainder().iter().zip(cs.remainder()) {
        let d = (x - lo) - step * *k as f32;
        tail += d * d;
    }
    acc.iter().sum::<f32>() + tail
}

/// The code kernels compiled for AVX2 (the same loops, wider registers and
/// byte-to-float conversions), picked at run time.
#[cfg(target_arch = "x86_64")]
mod wide {
    /// Whether this CPU runs the AVX2 kernels.
    #[inline]
    pub fn available() -> bool {
        use std::sync::OnceLock;
        static AVX2: OnceLock<bool> = OnceLock::new();
        *AVX2.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
    }

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

    /// Lane `i` of the 8-lane sums, then the lanes summed in order: the
    /// same operations, each rounded separately (no fused multiply-add),
    /// as [`super::l2_to_code_body`], so the sum has the same bits.
    #[target_feature(enable = "avx2,fma")]
    pub fn l2_to_code(q: &[f32], lo: f32, step: f32, codes: &[u8]) -> f32 {
        let n = q.len().min(codes.len()) / 8 * 8;
        let (vlo, vstep) = (_mm256_set1_ps(lo), _mm256_set1_ps(step));
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i < n {
            let d = _mm256_sub_ps(_mm256_sub_ps(load8(&q[i..]), vlo), _mm256_mul_ps(vstep, codes8(&codes[i..])));
            acc = _mm256_add_ps(acc, _mm256_mul_ps(d, d));
            i += 8;
        }
        let mut lanes = [0f32; 8];
        // SAFETY: an unaligned store of 8 floats into an 8-float array.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
        let mut tail = 0f32;
        for (x, k) in q[n..].iter().zip(&codes[n..]) {
            let d = (x - lo) - step * *k as f32;
            tail += d * d;
        }
        lanes.iter().sum::<f32>() + tail
    }

    #[target_feature(enable = "avx2,fma")]
    pub fn gap_sums<const SQUARE: bool>(q: &[f32], codes: &[u8], lo: f64, step: f64, half: f64) -> (f64, f64) {
        super::gap_sums_body::<SQUARE>(q, codes, lo, step, half)
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
fn decoded_dot(a: &Code, b: &Code, dims: usize) -> f64 {
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
pub fn dot_u8(q: &[f32], c: &[u8]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if wide::available() {
        // SAFETY: the CPU has AVX2 and FMA (checked at run time).
        return unsafe { wide::dot_u8(q, c) } as f64;
    }
    dot_u8_body(q, c) as f64
}

#[inline(always)]
fn dot_u8_body(q: &[f32], c: &[u8]) -> f32 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::scalar::exact;
    use crate::rng::Rng;

    fn random(n: usize, rng: &mut Rng) -> Vec<f32> {
        (0..n).map(|_| rng.normal() as f32).collect()
    }

    #[test]
    fn wide_kernels_give_the_same_bits() {
        let mut rng = Rng::new(9);
        for dims in [1, 7, 8, 9, 384, 1536] {
            let sq = Sq8 { dims };
            let x = random(dims, &mut rng);
            let code = sq.encode(&random(dims, &mut rng));
            let c = sq.code(&code).unwrap();
            let q: Vec<f32> = x.iter().map(|v| v * 0.5).collect();
            let scalar = (l2_to_code_body(&q, c.lo, c.step, c.codes), dot_u8_body(&q, c.codes));
            assert_eq!((l2_to_code(&q, &c) as f32, dot_u8(&q, c.codes) as f32), scalar, "dims {dims}");
        }
    }

    /// The lane sums of the bounds (and their AVX2 build) equal the plain
    /// sequential float8 sums up to float8 rounding; the L2 and L1 sq8
    /// kernels give the scalar loops' bits on many random vectors.
    #[test]
    fn lane_sums_match_the_sequential_ones() {
        let mut rng = Rng::new(11);
        for dims in [1, 3, 4, 5, 8, 16, 23, 384, 1000] {
            let sq = Sq8 { dims };
            for _ in 0..20 {
                let code = sq.encode(&random(dims, &mut rng));
                let c = sq.code(&code).unwrap();
                let q = random(dims, &mut rng);
                let (lo, step) = (c.lo as f64, c.step as f64);
                let half = step / 2.0;
                for square in [true, false] {
                    let (mut near, mut far) = (0f64, 0f64);
                    for (&v, &k) in q.iter().zip(c.codes) {
                        let off = (v as f64 - (lo + step * k as f64)).abs();
                        let (gap, reach) = ((off - half).max(0.0), off + half);
                        near += if square { gap * gap } else { gap };
                        far += if square { reach * reach } else { reach };
                    }
                    let got = if square {
                        gap_sums::<true>(&q, c.codes, lo, step, half)
                    } else {
                        gap_sums::<false>(&q, c.codes, lo, step, half)
                    };
                    let body = if square {
                        gap_sums_body::<true>(&q, c.codes, lo, step, half)
                    } else {
                        gap_sums_body::<false>(&q, c.codes, lo, step, half)
                    };
                    assert_eq!(got, body, "dims {dims}");
                    assert!((got.0 - near).abs() <= 1e-12 * near.abs().max(1e-300), "dims {dims}: {} vs {near}", got.0);
                    assert!((got.1 - far).abs() <= 1e-12 * far.abs(), "dims {dims}: {} vs {far}", got.1);
                }
                assert_eq!(l2_to_code(&q, &c) as f32, l2_to_code_body(&q, c.lo, c.step, c.codes), "dims {dims}");
                assert_eq!(dot_u8(&q, c.codes) as f32, dot_u8_body(&q, c.codes), "dims {dims}");
            }
        }
    }

    #[test]
    fn codes_are_within_half_a_step() {
        let mut rng = Rng::new(1);
        for dims in [1, 3, 8, 17, 384, 1536] {
            let q = Sq8 { dims };
            let x = random(dims, &mut rng);
            let code = q.encode(&x);
            assert_eq!(code.len(), q.value_bytes());
            let step = header(&code).unwrap()[1];
            for (a, b) in x.iter().zip(q.decode(&code).unwrap()) {
                assert!((a - b).abs() <= step / 2.0 * 1.0001 + 1e-7, "dims {dims}: {a} vs {b}");
            }
        }
        // constant vectors decode exactly
        let q = Sq8 { dims: 4 };
        assert_eq!(q.decode(&q.encode(&[2.5; 4])).unwrap(), vec![2.5; 4]);
    }

    #[test]
    fn distances_match_the_decoded_vectors_and_bounds_hold() {
        let mut rng = Rng::new(2);
        for dims in [5, 64, 384] {
            let sq = Sq8 { dims };
            for _ in 0..200 {
                let mut x = random(dims, &mut rng);
                let mut y = random(dims, &mut rng);
                for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1] {
                    if metric == Metric::Cosine {
                        for v in [&mut x, &mut y] {
                            let n = v.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt() as f32;
                            v.iter_mut().for_each(|a| *a /= n);
                        }
                    }
                    let code = sq.encode(&y);
                    let dec = sq.decode(&code).unwrap();
                    let query = sq.query(&x);
                    let want = match metric {
                        Metric::L2 => exact::l2_squared(&x, &dec),
                        Metric::InnerProduct => -exact::inner_product(&x, &dec),
                        Metric::Cosine => 1.0 - exact::inner_product(&x, &dec),
                        Metric::L1 => exact::l1_distance(&x, &dec),
                        Metric::Hamming | Metric::Jaccard => unreachable!(),
                    };
                    let got = sq.distance(metric, &query, &code);
                    assert!((got - want).abs() <= 1e-4 * (1.0 + want.abs()), "{metric:?} dims {dims}: {got} vs {want}");
                    // the bound never exceeds the exact distance to the original
                    let truth = match metric {
                        Metric::L2 => exact::l2_squared(&x, &y).sqrt(),
                        Metric::InnerProduct => -exact::inner_product(&x, &y),
                        Metric::Cosine => 1.0 - exact::inner_product(&x, &y),
                        Metric::L1 => exact::l1_distance(&x, &y),
                        Metric::Hamming | Metric::Jaccard => unreachable!(),
                    };
                    let lb = sq.lower_bound(metric, &query, &code);
                    assert!(lb <= truth + 1e-9 * (1.0 + truth.abs()), "{metric:?} dims {dims}: bound {lb} above {truth}");
                    let bt = sq.between(metric, &sq.encode(&x), &code);
                    assert!(bt.is_finite());
                }
            }
        }
    }

    /// The operators' float4 arithmetic, summed in one lane (pgvector's
    /// scalar loop) or eight (a SIMD back-end).
    fn op_f4(metric: Metric, a: &[f32], b: &[f32], lanes: usize) -> f64 {
        let sum = |f: &dyn Fn(f32, f32) -> f32| {
            let mut acc = vec![0f32; lanes];
            for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
                acc[i % lanes] += f(x, y);
            }
            acc.iter().sum::<f32>()
        };
        match metric {
            Metric::L2 => (sum(&|x, y| (x - y) * (x - y)) as f64).sqrt(),
            Metric::InnerProduct => -(sum(&|x, y| x * y) as f64),
            Metric::L1 => sum(&|x, y| (x - y).abs()) as f64,
            Metric::Cosine => {
                let (d, na, nb) = (sum(&|x, y| x * y) as f64, sum(&|x, _| x * x) as f64, sum(&|_, y| y * y) as f64);
                1.0 - (d / (na * nb).sqrt()).clamp(-1.0, 1.0)
            }
            Metric::Hamming | Metric::Jaccard => unreachable!("sq8 is float only"),
        }
    }

    #[test]
    fn bounds_allow_for_the_operators_float4_sums() {
        let n = 16000;
        let mut big_then_ones = vec![1f32; n];
        big_then_ones[0] = 1e8;
        let cases: Vec<(Metric, Vec<f32>, Vec<f32>)> = vec![
            // cancellation: the float4 dot loses the small term
            (Metric::InnerProduct, vec![1e8, -1.0, -1e8], vec![1.0, 1.0, 1.0]),
            (Metric::InnerProduct, vec![1e8, -3.0, -1e8, 0.5], vec![1.0, 1.0, 1.0, 0.9]),
            // overflow: the float4 dot is +inf, the operator -inf
            (Metric::InnerProduct, vec![3e38, 3e38], vec![1.0, 1.0]),
            // 16,000 ones absorbed by a big first term
            (Metric::L1, big_then_ones.clone(), vec![0f32; n]),
            (Metric::L2, big_then_ones.iter().map(|v| v.sqrt()).collect(), vec![0f32; n]),
        ];
        for (metric, q, x) in cases {
            let sq = Sq8 { dims: q.len() };
            let lb = sq.lower_bound(metric, &sq.query(&q), &sq.encode(&x));
            for lanes in [1, 8] {
                let op = op_f4(metric, &q, &x, lanes);
                assert!(lb <= op, "{metric:?} dims {} lanes {lanes}: bound {lb} above the operator's {op}", q.len());
            }
        }
    }

    #[test]
    fn bounds_hold_against_float4_operators_on_random_data() {
        let mut rng = Rng::new(3);
        for dims in [3, 100, 1536] {
            let sq = Sq8 { dims };
            for round in 0..100 {
                // mixed scales and signs, some far from the origin
                let offset = if round % 3 == 0 { 1000.0 } else { 0.0 };
                let scale = [1e-3, 1.0, 1e4][round % 3];
                let x: Vec<f32> = (0..dims).map(|_| (offset + scale * rng.normal()) as f32).collect();
                let q: Vec<f32> = (0..dims).map(|_| (offset + scale * rng.normal()) as f32).collect();
                for metric in [Metric::L2, Metric::InnerProduct, Metric::L1] {
                    let lb = sq.lower_bound(metric, &sq.query(&q), &sq.encode(&x));
                    for lanes in [1, 8] {
                        let op = op_f4(metric, &q, &x, lanes);
                        assert!(lb <= op, "{metric:?} dims {dims} round {round}: bound {lb} above {op}");
                    }
                }
            }
        }
    }

    #[test]
    fn l2_is_precise_far_from_the_origin() {
        // every vector shares an offset of 1000: the distance between two
        // codes' vectors must still be close to the decoded vectors' own
        let mut rng = Rng::new(4);
        let dims = 384;
        let sq = Sq8 { dims };
        for _ in 0..50 {
            let x: Vec<f32> = (0..dims).map(|_| (1000.0 + 0.01 * rng.normal()) as f32).collect();
            let y: Vec<f32> = (0..dims).map(|_| (1000.0 + 0.01 * rng.normal()) as f32).collect();
            let code = sq.encode(&y);
            let dec = sq.decode(&code).unwrap();
            let want: f64 = x.iter().zip(&dec).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
            let got = sq.distance(Metric::L2, &sq.query(&x), &code);
            assert!((got - want).abs() <= 1e-2 * want, "query to code: {got} vs {want}");
            let dec_x = sq.decode(&sq.encode(&x)).unwrap();
            let want: f64 = dec_x.iter().zip(&dec).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
            let got = sq.between(Metric::L2, &sq.encode(&x), &code);
            assert!((got - want).abs() <= 1e-2 * want, "code to code: {got} vs {want}");
        }
    }
}
