//! A query prepared once for the many distances a search or an insert
//! computes against it. Only sparse inner-product and cosine queries have a
//! faster form (a look-up table of their non-zeros, see
//! [`crate::distance::sparse_table`]); every other query is used as given.
//! Distances equal [`Space::distance`]'s bit for bit.

use crate::distance::sparse::decode;
use crate::distance::sparse_table::Table;
use crate::distance::Metric;
use crate::space::{f32s, Space};

/// A query (in its space's query form) made ready for [`Prepared::distance`].
#[derive(Clone, Debug, Default)]
pub struct Prepared {
    table: Table,
    /// The metric the table answers for; None: the query is used as given.
    metric: Option<Metric>,
}

impl Prepared {
    /// Whether queries of `space` have a prepared form.
    pub fn helps(space: Space) -> bool {
        matches!(space, Space::Sparse { metric: Metric::InnerProduct | Metric::Cosine, .. })
    }

    /// Prepares `query` of `space` (the allocation is reused).
    pub fn load(&mut self, space: Space, query: &[u8]) {
        self.metric = None;
        if !Self::helps(space) {
            return;
        }
        if let Some(q) = f32s(query).and_then(decode) {
            self.table.load(&q);
            self.metric = Some(space.metric());
        }
    }

    /// Forgets the prepared query (distances then use queries as given).
    pub fn clear(&mut self) {
        self.metric = None;
    }

    /// Whether a query has been prepared (by the last [`Prepared::load`]).
    pub fn is_loaded(&self) -> bool {
        self.metric.is_some()
    }

    /// [`Space::distance`]`(query, value)` for the `query` last loaded
    /// into this (with the same `space`).
    #[inline]
    pub fn distance(&self, space: Space, query: &[u8], value: &[u8]) -> f64 {
        let Some(metric) = self.metric else { return space.distance(query, value) };
        let Some(v) = f32s(value).and_then(decode) else { return f64::NAN };
        let dot = self.table.dot(&v) as f64;
        let d = match metric {
            Metric::Cosine => 1.0 - dot,
            _ => -dot,
        };
        // as Space::distance: NaN (Infinity minus Infinity) sorts last
        if d.is_nan() {
            f64::INFINITY
        } else {
            d
        }
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
            assert_eq!(Prepared::helps(space), matches!(metric, Metric::InnerProduct | Metric::Cosine));
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
}
