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
use kernels::{decoded_dot, dot_u8, gap_sums, l2_to_code};

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
                // squares below the least normal float4 round to a grid
                // of 2^-149 (absolute, not relative, error): up to half of
                // it lost per term and per addition
                let underflow = if metric == Metric::L2 { underflow_allowance(self.dims) } else { 0.0 };
                let sum = near - gamma * far - underflow;
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
                    // products below the least normal float4 round
                    // absolutely, as L2's squares
                    -(upper + gamma * magnitude + underflow_allowance(self.dims))
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

impl Sq8 {
    /// A lower bound like [`Sq8::lower_bound`] from `dist`, the value
    /// [`Sq8::distance`] gave for this query and code, and the code's
    /// header alone (no pass over the elements): the decoded vector is
    /// within `half·√n` of the original (triangle inequality), `dist` is
    /// the float4 sum of the squared differences (each difference within a
    /// few roundings of the real one, the sum within `(n/8 + 16)·u` of its
    /// terms: no term passes through more than `n/32 + 16` additions), and the operator's float4 sum of non-negative terms is
    /// within `(n + 6)·u` of the true square. L2 only: other metrics give
    /// -inf (no cheap bound, compute [`Sq8::lower_bound`]); so does an
    /// unusable `dist`. Looser than `lower_bound` by about `half·√n` minus
    /// what the gaps lose: cheap enough for every candidate of a batch.
    pub fn bound_from_distance(&self, metric: Metric, query: &[u8], value: &[u8], dist: f64) -> f64 {
        match self.scale(value) {
            Some((lo, step)) => self.bound_from_scale(metric, query, lo, step, dist),
            None => f64::NEG_INFINITY,
        }
    }

    /// A stored value's minimum and step (None if it is not one of this
    /// shape's values): all that [`Sq8::bound_from_scale`] needs of it.
    pub fn scale(&self, value: &[u8]) -> Option<(f32, f32)> {
        self.code(value).map(|c| (c.lo, c.step))
    }

    /// [`Sq8::bound_from_distance`] from the value's minimum and step
    /// ([`Sq8::scale`]), remembered when the distance was computed.
    pub fn bound_from_scale(&self, metric: Metric, query: &[u8], lo: f32, step: f32, dist: f64) -> f64 {
        let Some(q) = self.view_query(query) else { return f64::NEG_INFINITY };
        if metric != Metric::L2 || !dist.is_finite() || dist < 0.0 {
            return f64::NEG_INFINITY;
        }
        let u = UNIT_ROUNDOFF;
        let n = self.dims as f64;
        let (lo, step) = (lo as f64, step as f64);
        if !lo.is_finite() || !step.is_finite() || !(q.abs_sum as f64).is_finite() {
            return f64::NEG_INFINITY;
        }
        // |computed difference| vs the real q_i - x̂_i: a few roundings of
        // |q_i| + |lo| + step·255 each; their norm is below this (Σ|q| >= |q|)
        // (plus half of 2^-149 each where a fused difference underflows)
        let diff_err = 4.0 * u * (q.abs_sum as f64 * (1.0 + 1e-6) + n.sqrt() * (lo.abs() + 255.0 * step)) + n.sqrt() * LEAST_F32;
        let sum_err = (n / 8.0 + 16.0) * u;
        // |x̂ - q| in real arithmetic is at least this (a fused square
        // added below the least normal float4 rounds absolutely: up to
        // half of 2^-149 each, more than any relative allowance)
        let tiny = underflow_allowance(self.dims);
        let decoded = ((dist * (1.0 - sum_err) - tiny).max(0.0).sqrt() - diff_err) / (1.0 + 4.0 * u);
        let half = step / 2.0 * (1.0 + 1e-6);
        let truth = decoded - half * n.sqrt();
        if truth <= 0.0 {
            return 0.0;
        }
        let gamma = (n + 6.0) * u;
        // the operator's float4 sum loses up to `tiny` to underflow too
        let bound = (truth * truth * (1.0 - gamma).max(0.0) - tiny).max(0.0).sqrt() * (1.0 - 1e-9);
        if bound.is_nan() {
            f64::NEG_INFINITY
        } else {
            bound
        }
    }
}

/// Unit roundoff of float4 (half its machine epsilon).
const UNIT_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;

/// The least positive float4 (2^-149, subnormal): below the least normal
/// float4 a rounding errs by up to half of it, whatever the value.
const LEAST_F32: f64 = 1.401298464324817e-45;

/// What a float4 sum of `dims` squares or products (one rounding each,
/// and one per addition) can lose to underflow, with a factor 2 to spare.
fn underflow_allowance(dims: usize) -> f64 {
    (2 * dims + 16) as f64 * LEAST_F32
}

mod kernels;
pub mod lazy;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bounds;
