//! The values a scan of a quantised index reports with the rows of a batch
//! (the executor re-checks each row's exact distance and returns rows once
//! no later one can be nearer than the value last reported): computed
//! lazily, as rows are handed out, from two lower bounds of each row's
//! exact distance: a cheap one known for every row up front (e.g.
//! [`super::Sq8::bound_from_distance`], -inf when there is none) and a
//! full one (e.g. [`super::Sq8::lower_bound`]) computed only when needed.

/// Per row of a batch: the reported value (NaN: not computed yet), the full
/// bound (NaN: not computed yet), the cheap bound, and the least cheap
/// bound of the row and every later one.
#[derive(Debug, Default)]
pub struct LazyBounds {
    reported: Vec<f64>,
    full: Vec<f64>,
    cheap: Vec<f64>,
    cheap_min: Vec<f64>,
}

impl LazyBounds {
    /// Forgets the batch.
    pub fn clear(&mut self) {
        self.reported.clear();
        self.full.clear();
        self.cheap.clear();
        self.cheap_min.clear();
    }

    /// Rows of the batch (0: no bounds are reported).
    pub fn len(&self) -> usize {
        self.cheap.len()
    }

    /// Whether there is no batch.
    pub fn is_empty(&self) -> bool {
        self.cheap.is_empty()
    }

    /// A new batch with these cheap bounds (NaN counts as none: -inf).
    pub fn start(&mut self, cheap: impl IntoIterator<Item = f64>) {
        self.clear();
        self.cheap.extend(cheap.into_iter().map(|c| if c.is_nan() { f64::NEG_INFINITY } else { c }));
        let n = self.cheap.len();
        self.reported.resize(n, f64::NAN);
        self.full.resize(n, f64::NAN);
        self.cheap_min.extend_from_slice(&self.cheap);
        for i in (0..n.saturating_sub(1)).rev() {
            self.cheap_min[i] = self.cheap_min[i].min(self.cheap_min[i + 1]);
        }
    }

    /// Whether row `i` has no cheap bound (its full one is all there is).
    pub fn lacks_cheap(&self, i: usize) -> bool {
        self.cheap[i] == f64::NEG_INFINITY
    }

    /// Row `i`'s bound: the greater of its cheap bound and its full one,
    /// computed once with `full_of(i)` (NaN: none). Both are lower bounds
    /// of the exact distance, and the cheap one is not always the lower:
    /// taking the greater is what keeps the reported values from
    /// decreasing when a later row is skipped for a cheap bound at or
    /// above the value (its bound is then at or above it too).
    pub fn full(&mut self, i: usize, full_of: &mut impl FnMut(usize) -> f64) -> f64 {
        if self.full[i].is_nan() {
            let lb = full_of(i);
            // a NaN bound would read as "not computed": no bound at all
            let lb = if lb.is_nan() { f64::NEG_INFINITY } else { lb };
            self.full[i] = lb.max(self.cheap[i]);
        }
        self.full[i]
    }

    /// The value reported with row `i`: no more than its own bound nor
    /// any later row's, never decreasing along the batch (under strict
    /// order, a value below one already reported drops the row). A later
    /// row whose cheap bound is already at or above the value cannot lower
    /// it, so its full bound is computed only when the cheap one is below.
    pub fn reported(&mut self, i: usize, full_of: &mut impl FnMut(usize) -> f64) -> f64 {
        if !self.reported[i].is_nan() {
            return self.reported[i];
        }
        let mut v = self.full(i, full_of);
        let mut j = i + 1;
        while j < self.len() && self.cheap_min[j] < v {
            if self.cheap[j] < v {
                v = v.min(self.full(j, full_of));
            }
            j += 1;
        }
        self.reported[i] = v;
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// What the scan reports for every row of a batch, handed out in order.
    fn handed_out(cheap: &[f64], full: &[f64]) -> (Vec<f64>, usize) {
        let mut b = LazyBounds::default();
        b.start(cheap.iter().copied());
        let mut calls = 0;
        let mut f = |j: usize| {
            calls += 1;
            full[j]
        };
        let out = (0..cheap.len()).map(|i| b.reported(i, &mut f)).collect();
        (out, calls)
    }

    #[test]
    fn reported_values_are_lower_bounds_and_never_decrease() {
        // both bounds are lower bounds of the exact distance, but the cheap
        // one may be the higher (sq8: a full bound near half a step per
        // element loses more to float4 rounding margins than the cheap one)
        let (out, _) = handed_out(&[0.5, 1.0], &[0.95, 0.9]);
        assert!(out[0] <= out[1], "reported {out:?} decreases");
        let mut rng = Rng::new(21);
        for round in 0..2000 {
            let n = 1 + rng.below(12) as usize;
            let exact: Vec<f64> = (0..n).map(|_| rng.uniform() * 10.0).collect();
            let cheap: Vec<f64> = exact.iter().map(|e| if rng.below(5) == 0 { f64::NEG_INFINITY } else { e - rng.uniform() }).collect();
            let full: Vec<f64> = exact.iter().map(|e| e - rng.uniform()).collect();
            let (out, _) = handed_out(&cheap, &full);
            for i in 0..n {
                assert!(out[i] <= exact[i..].iter().copied().fold(f64::INFINITY, f64::min), "round {round}: {out:?} {exact:?}");
                if i + 1 < n {
                    assert!(out[i] <= out[i + 1], "round {round}: reported {out:?} decreases (cheap {cheap:?}, full {full:?})");
                }
            }
        }
    }

    #[test]
    fn full_bounds_are_computed_only_where_needed() {
        // rows far behind the first ones' bounds never need a full bound
        let cheap = [0.9, 5.0, 6.0, 7.0];
        let full = [1.0, 5.5, 6.5, 7.5];
        let (out, calls) = handed_out(&cheap[..1], &full[..1]);
        assert_eq!((out, calls), (vec![1.0], 1));
        let mut b = LazyBounds::default();
        b.start(cheap);
        let mut calls = 0;
        let v = b.reported(0, &mut |j| {
            calls += 1;
            full[j]
        });
        assert_eq!((v, calls), (1.0, 1));
        // no bound from a NaN
        let (out, _) = handed_out(&[f64::NAN], &[f64::NAN]);
        assert_eq!(out, vec![f64::NEG_INFINITY]);
    }
}
