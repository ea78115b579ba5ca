//! A query prepared once for the many distances a search or an insert
//! computes against it; only sparse queries have a faster form (a look-up
//! table of their non-zeros, see [`crate::distance::sparse_table`]), every
//! other query is used as given.
//!
//! Inner product and cosine through the table are [`Space::distance`]'s
//! bit for bit. L2 and L1 need every non-zero of both sides in ascending
//! order, which is a merge; an index build may instead take them apart
//! ([`Prepared::load_for_build`]): each side's own sum (`Σx²`, `Σ|x|`) plus
//! a correction over the common indices only, in float8. That is the
//! distance to within float8 rounding of the sums (the float4 merge is
//! within float4 rounding of it); where the two sides nearly cancel (near
//! copies: the correction takes away almost all) or the float4 sum could
//! overflow, the exact kernel answers, so copies are at 0 exactly as before.

use crate::distance::sparse::{decode, Sparse};
use crate::distance::sparse_table::Table;
use crate::distance::Metric;
use crate::space::{f32s, Space};

/// Below this share of the two sides' own sums, a taken-apart L2 or L1
/// distance is computed by the exact kernel (float8 rounding of the sums,
/// ~1e-16 of them, stays far below the distance: under 1e-9 of it).
const CANCEL: f64 = 1e-6;

/// Most non-zeros a query is prepared for (its table then takes up to 64
/// KB; a build holds two per thread, outside the rows it counts against
/// maintenance_work_mem): bigger ones are merged.
pub const MAX_NNZ: usize = 1024;

/// A query (in its space's query form) made ready for [`Prepared::distance`].
#[derive(Clone, Debug, Default)]
pub struct Prepared {
    table: Table,
    /// The metric the table answers for; None: the query is used as given.
    metric: Option<Metric>,
    /// L2 and L1 taken apart: the query's own sum (Σx² or Σ|x|).
    own: f64,
}

/// Σx² (L2) or Σ|x| (L1) in float8, four running sums (the order of
/// these additions does not matter: float8 sums of float4 values).
#[inline]
fn own_sum(metric: Metric, values: &[f32]) -> f64 {
    let g = |x: f32| match metric {
        Metric::L2 => x as f64 * x as f64,
        _ => (x as f64).abs(),
    };
    let mut acc = [0f64; 4];
    let mut chunks = values.chunks_exact(4);
    for c in &mut chunks {
        for k in 0..4 {
            acc[k] += g(c[k]);
        }
    }
    for &x in chunks.remainder() {
        acc[0] += g(x);
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

impl Prepared {
    /// Whether queries of `space` have a prepared form (`build`: also the
    /// taken-apart L2 and L1 of [`Prepared::load_for_build`]).
    pub fn helps(space: Space, build: bool) -> bool {
        match space {
            Space::Sparse { metric: Metric::InnerProduct | Metric::Cosine, .. } => true,
            Space::Sparse { metric: Metric::L2 | Metric::L1, .. } => build,
            _ => false,
        }
    }

    /// Prepares `query` of `space` (the allocation is reused); distances
    /// are [`Space::distance`]'s bit for bit.
    pub fn load(&mut self, space: Space, query: &[u8]) {
        self.load_with(space, query, false);
    }

    /// Prepares `query` of `space` for an index build: also L2 and L1 are
    /// faster, taken apart (see the module note).
    pub fn load_for_build(&mut self, space: Space, query: &[u8]) {
        self.load_with(space, query, true);
    }

    /// [`Prepared::load_for_build`] if `build`, else [`Prepared::load`].
    pub fn load_with(&mut self, space: Space, query: &[u8], build: bool) {
        self.metric = None;
        if !Self::helps(space, build) {
            return;
        }
        if let Some(q) = f32s(query).and_then(decode).filter(|q| q.indices.len() <= MAX_NNZ) {
            self.table.load(&q);
            self.metric = Some(space.metric());
            self.own = match space.metric() {
                Metric::L2 | Metric::L1 => own_sum(space.metric(), q.values),
                _ => 0.0,
            };
        }
    }

    /// Forgets the prepared query (distances then use queries as given).
    pub fn clear(&mut self) {
        self.metric = None;
    }

    /// Whether a query has been prepared (by the last load).
    pub fn is_loaded(&self) -> bool {
        self.metric.is_some()
    }

    /// [`Space::distance`]`(query, value)` for the `query` last loaded
    /// into this (with the same `space`); taken apart if loaded for a build.
    #[inline]
    pub fn distance(&self, space: Space, query: &[u8], value: &[u8]) -> f64 {
        let Some(metric) = self.metric else { return space.distance(query, value) };
        let Some(v) = f32s(value).and_then(decode) else { return f64::NAN };
        let d = match metric {
            Metric::L2 | Metric::L1 => return self.apart(metric, space, query, value, &v),
            Metric::Cosine => 1.0 - self.table.dot(&v) as f64,
            _ => -(self.table.dot(&v) as f64),
        };
        // as Space::distance: NaN (Infinity minus Infinity) sorts last
        if d.is_nan() {
            f64::INFINITY
        } else {
            d
        }
    }

    /// L2 or L1 as the two own sums plus the common indices' correction.
    #[inline]
    fn apart(&self, metric: Metric, space: Space, query: &[u8], value: &[u8], v: &Sparse) -> f64 {
        let mut cross = 0f64;
        match metric {
            // (x - y)² - x² - y²
            Metric::L2 => self.table.common(v, |x, y| cross -= 2.0 * (x as f64 * y as f64)),
            _ => self.table.common(v, |x, y| {
                let (x, y) = (x as f64, y as f64);
                cross += (x - y).abs() - x.abs() - y.abs();
            }),
        }
        let total = self.own + own_sum(metric, v.values);
        let d = total + cross;
        // near copies cancel; a float4 sum this big may overflow; NaN
        if !(d > CANCEL * total && d < 0.5 * f32::MAX as f64) {
            return space.distance(query, value);
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::sparse::encode;
    use crate::rng::Rng;
    use crate::space::f32_bytes;

    /// Prepared distances equal the space's for every sparse metric (the
    /// ones without a table fall through), padded and unpadded values,
    /// overflowing sums and malformed values.
    #[test]
    fn prepared_distances_equal_the_spaces() {
        let seed = 11;
        let mut rng = Rng::new(seed);
        let row = |rng: &mut Rng| {
            let mut idx: Vec<i32> = (0..60).filter(|_| rng.uniform() < 0.3).collect();
            idx.dedup();
            let val: Vec<f32> = idx.iter().map(|_| (rng.uniform() * 4.0 - 2.0) as f32).collect();
            encode(60, &idx, &val)
        };
        let mut p = Prepared::default();
        for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1] {
            let space = Space::Sparse { metric, cap: 40 };
            assert_eq!(Prepared::helps(space, false), matches!(metric, Metric::InnerProduct | Metric::Cosine));
            assert!(Prepared::helps(space, true));
            for round in 0..300 {
                let q = space.query(&row(&mut rng));
                p.load(space, &q);
                let r = row(&mut rng);
                for v in [space.encode(&r), crate::space::Bytes::from_f32(&r)] {
                    let (want, got) = (space.distance(&q, &v), p.distance(space, &q, &v));
                    assert_eq!(got.to_bits(), want.to_bits(), "seed {seed} {metric:?} round {round}");
                }
                assert!(p.distance(space, &q, &q[..4]).is_nan());
            }
            let huge = space.query(&encode(2, &[0, 1], &[3e38, 3e38]));
            let neg = space.encode(&encode(2, &[0, 1], &[3e38, -3e38]));
            p.load(space, &huge);
            assert_eq!(p.distance(space, &huge, &neg).to_bits(), space.distance(&huge, &neg).to_bits());
            assert_eq!(p.distance(space, &huge, &huge).to_bits(), space.distance(&huge, &huge).to_bits());
        }
        let dense = Space::F32 { metric: Metric::InnerProduct, dims: 2 };
        let q = f32_bytes(&[1.0, 2.0]);
        p.load(dense, q);
        assert_eq!(p.distance(dense, q, q), dense.distance(q, q));
    }

    /// A build's taken-apart L2 and L1 stay within float4 rounding of the
    /// merge kernels (1e-5 of the distance here), are the exact kernel's
    /// for copies, near copies and sums that could overflow float4, and
    /// inner product and cosine are unchanged by the build mode.
    #[test]
    fn build_distances_are_close_and_exact_near_copies() {
        let seed = 23;
        let mut rng = Rng::new(seed);
        let mut p = Prepared::default();
        let rows: Vec<Vec<f32>> = (0..200)
            .map(|_| {
                let mut idx: Vec<i32> = (0..3000).filter(|_| rng.uniform() < 0.03).collect();
                idx.dedup();
                let val: Vec<f32> = idx.iter().map(|_| (rng.uniform() * 4.0 - 2.0) as f32).collect();
                encode(3000, &idx, &val)
            })
            .collect();
        for metric in [Metric::L2, Metric::L1, Metric::InnerProduct, Metric::Cosine] {
            let space = Space::Sparse { metric, cap: 200 };
            for (k, r) in rows.iter().enumerate() {
                let q = space.query(r);
                p.load_for_build(space, &q);
                for other in rows.iter().skip(k).take(20) {
                    let v = space.encode(other);
                    let (want, got) = (space.distance(&q, &v), p.distance(space, &q, &v));
                    match metric {
                        Metric::L2 | Metric::L1 => assert!((got - want).abs() <= 1e-5 * want, "seed {seed} {metric:?} row {k}: {got} vs {want}"),
                        _ => assert_eq!(got.to_bits(), want.to_bits()),
                    }
                }
                // a copy, and a near copy (one value one float4 step away)
                let v = space.encode(r);
                assert_eq!(p.distance(space, &q, &v).to_bits(), space.distance(&q, &v).to_bits());
                let mut near = r.clone();
                if near.len() > 2 {
                    let last = near.len() - 1;
                    near[last] = f32::from_bits(near[last].to_bits() + 1);
                    let v = space.encode(&near);
                    assert_eq!(p.distance(space, &q, &v).to_bits(), space.distance(&q, &v).to_bits(), "{metric:?} row {k}");
                }
            }
            // float4 overflow: the merge's +Infinity, not a float8 sum
            let big = space.query(&encode(4, &[0, 1], &[3e38, 3e38]));
            p.load_for_build(space, &big);
            let far = space.encode(&encode(4, &[2, 3], &[3e38, -3e38]));
            assert_eq!(p.distance(space, &big, &far).to_bits(), space.distance(&big, &far).to_bits(), "{metric:?}");
            // exact loads never take L2 and L1 apart
            let q = space.query(&rows[0]);
            p.load(space, &q);
            let v = space.encode(&rows[1]);
            assert_eq!(p.distance(space, &q, &v).to_bits(), space.distance(&q, &v).to_bits());
        }
    }

    /// Queries with more than [`MAX_NNZ`] non-zeros are not prepared (their
    /// table would be big): they are merged, exactly, in every mode.
    #[test]
    fn big_queries_are_merged() {
        let idx: Vec<i32> = (0..MAX_NNZ as i32 + 1).map(|i| 3 * i).collect();
        let val: Vec<f32> = idx.iter().map(|&i| 1.0 + (i % 7) as f32).collect();
        let other = encode(20_000, &idx[..100], &val[100..200]);
        let mut p = Prepared::default();
        for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1] {
            let space = Space::Sparse { metric, cap: 4000 };
            for take in [MAX_NNZ, MAX_NNZ + 1] {
                let q = space.query(&encode(20_000, &idx[..take], &val[..take]));
                p.load(space, &q);
                assert_eq!(p.is_loaded(), take == MAX_NNZ && Prepared::helps(space, false), "{metric:?} {take}");
                p.load_for_build(space, &q);
                assert_eq!(p.is_loaded(), take == MAX_NNZ, "{metric:?} {take}");
                let v = space.encode(&other);
                let want = space.distance(&q, &v);
                let got = p.distance(space, &q, &v);
                match (metric, take) {
                    (Metric::L2 | Metric::L1, MAX_NNZ) => assert!((got - want).abs() <= 1e-5 * want),
                    _ => assert_eq!(got.to_bits(), want.to_bits()),
                }
            }
        }
    }
}

#[cfg(test)]
mod adversarial {
    use super::*;
    use crate::distance::sparse::encode;
    use crate::rng::Rng;

    /// The merge's terms summed in float8: the reference both the float4
    /// merge and the taken-apart sum approximate.
    fn reference(metric: Metric, a: &Sparse, b: &Sparse) -> f64 {
        let (mut i, mut j, mut s) = (0, 0, 0f64);
        let g = |x: f64, y: f64| if metric == Metric::L2 { (x - y) * (x - y) } else { (x - y).abs() };
        while i < a.indices.len() || j < b.indices.len() {
            let (x, y) = (a.indices.get(i).copied().unwrap_or(i32::MAX), b.indices.get(j).copied().unwrap_or(i32::MAX));
            let xv = if x <= y { a.values[i] as f64 } else { 0.0 };
            let yv = if y <= x { b.values[j] as f64 } else { 0.0 };
            s += g(xv, yv);
            i += (x <= y) as usize;
            j += (y <= x) as usize;
        }
        s
    }

    /// Taken-apart L2 and L1 over values of wildly mixed magnitudes (1e-30
    /// to 1e19 in one vector, near float4 max, shared huge terms that
    /// cancel, all-zero vectors, 16,000 stored non-zeros, dims up to 1e9):
    /// every build distance is either the exact kernel's or within 1e-9 of
    /// the float8 sum of the merge's terms, and never NaN.
    #[test]
    fn taken_apart_is_exact_or_close_at_extreme_magnitudes() {
        let seed = 31;
        let mut rng = Rng::new(seed);
        let mut p = Prepared::default();
        let mag = |rng: &mut Rng| -> f32 {
            let e = [-30.0, -22.0, -12.0, 0.0, 6.0, 18.0, 19.0][rng.below(7) as usize];
            let s = if rng.uniform() < 0.5 { -1.0 } else { 1.0 };
            (s * (1.0 + rng.uniform()) * 10f64.powf(e)) as f32
        };
        for round in 0..3000 {
            let dim: i64 = [100, 70_000, 1_000_000_000][round % 3];
            let nq = [0usize, 1, 5, 300, MAX_NNZ][rng.below(5) as usize];
            let nv = [0usize, 1, 7, 200, 16_000][rng.below(5) as usize].min(dim as usize);
            let nq = nq.min(dim as usize);
            let pick = |rng: &mut Rng, n: usize| {
                let mut idx: Vec<i32> = (0..n).map(|_| rng.below(dim as u64) as i32).collect();
                idx.sort_unstable();
                idx.dedup();
                idx
            };
            let qi = pick(&mut rng, nq);
            let qv: Vec<f32> = qi.iter().map(|_| mag(&mut rng)).collect();
            // the stored value shares half the query's terms, some equal
            let mut vi = pick(&mut rng, nv);
            vi.extend(qi.iter().step_by(2));
            vi.sort_unstable();
            vi.dedup();
            let vv: Vec<f32> = vi
                .iter()
                .map(|i| match qi.binary_search(i) {
                    Ok(k) if rng.uniform() < 0.5 => qv[k],
                    _ => mag(&mut rng),
                })
                .collect();
            for metric in [Metric::L2, Metric::L1] {
                let space = Space::Sparse { metric, cap: vi.len().max(1) };
                let q = space.query(&encode(dim as i32, &qi, &qv));
                let v = space.encode(&encode(dim as i32, &vi, &vv));
                p.load_for_build(space, &q);
                let got = p.distance(space, &q, &v);
                let exact = space.distance(&q, &v);
                let a = Sparse { dim: dim as i32, indices: &qi, values: &qv };
                let b = Sparse { dim: dim as i32, indices: &vi, values: &vv };
                let r = reference(metric, &a, &b);
                assert!(!got.is_nan(), "round {round} {metric:?}");
                assert!(
                    got.to_bits() == exact.to_bits() || (got - r).abs() <= 1e-9 * r,
                    "seed {seed} round {round} {metric:?} nq {} nv {}: got {got} exact {exact} reference {r}",
                    qi.len(),
                    vi.len()
                );
            }
        }
    }
}
