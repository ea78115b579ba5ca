//! A sparse query prepared for many distances: its non-zeros in a small
//! open-addressing table keyed by index, so an inner product against a
//! stored vector is one look-up per stored non-zero instead of a merge of
//! both index lists (whose every step waits on the comparison before it).
//! The terms are the merge's, added in the same ascending index order, so
//! sums agree with [`super::sparse`]'s kernels to the last bit.

use super::sparse::Sparse;

/// Empty slot (indices are 0-based, never negative).
const EMPTY: i32 = -1;

/// Non-zeros of a query in a power-of-two table at most a quarter full,
/// behind a one-bit-per-hash filter of 128 or more bits per non-zero
/// (a look-up of an index the query lacks, the common case, mostly ends
/// at the filter: one bit in a few kilobytes that stay in L1).
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// (index, value) pairs; EMPTY where free.
    slots: Vec<(i32, f32)>,
    /// log2 of the slot count.
    bits: u32,
    /// A set bit for every hash prefix of `filter_bits` bits a query
    /// index has.
    filter: Vec<u64>,
    /// log2 of the filter's size in bits (more than `bits`).
    filter_bits: u32,
}

/// The 32-bit hash of an index (Fibonacci hashing: consecutive indices
/// land far apart); tables use its top bits.
#[inline]
fn hash(index: i32) -> u32 {
    (index as u32).wrapping_mul(0x9E37_79B9)
}

#[inline]
fn slot_of(index: i32, bits: u32) -> usize {
    (hash(index) >> (32 - bits)) as usize
}

impl Table {
    /// Fills the table with `q`'s non-zeros (the allocation is reused).
    pub fn load(&mut self, q: &Sparse) {
        let n = q.indices.len().min(q.values.len());
        let bits = (4 * n).max(16).next_power_of_two().trailing_zeros();
        self.bits = bits;
        self.slots.clear();
        self.slots.resize(1 << bits, (EMPTY, 0.0));
        let mask = (1usize << bits) - 1;
        // 128 bits or more per non-zero: an index the query lacks passes
        // the filter with a chance of at most 1 in 128 (each pass is a
        // jump the CPU mispredicts; 1 in 32 built 12% slower)
        self.filter_bits = (bits + 5).max(9);
        self.filter.clear();
        self.filter.resize(1 << (self.filter_bits - 6), 0);
        for (&i, &v) in q.indices[..n].iter().zip(&q.values[..n]) {
            let f = hash(i) >> (32 - self.filter_bits);
            self.filter[(f >> 6) as usize] |= 1 << (f & 63);
            let mut s = slot_of(i, bits);
            // indices are distinct, so each finds a free slot of its own
            while self.slots[s].0 != EMPTY {
                s = (s + 1) & mask;
            }
            self.slots[s] = (i, v);
        }
    }

    /// Whether the query may have a value at `index` (false: it has none).
    #[inline]
    fn may_have(&self, index: i32) -> bool {
        let f = hash(index) >> (32 - self.filter_bits);
        self.filter.get((f >> 6) as usize).is_some_and(|w| w >> (f & 63) & 1 != 0)
    }

    /// The query's value at `index`, if it has one there.
    #[inline]
    fn get(&self, index: i32) -> Option<f32> {
        if self.bits == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut s = slot_of(index, self.bits) & mask;
        loop {
            let (k, v) = *self.slots.get(s)?;
            if k == index {
                return Some(v);
            }
            if k == EMPTY {
                return None;
            }
            s = (s + 1) & mask;
        }
    }

    /// Calls `f(q[i], b[i])` for every index `i` both have, in ascending
    /// order.
    #[inline]
    pub fn common(&self, b: &Sparse, mut f: impl FnMut(f32, f32)) {
        let n = b.indices.len().min(b.values.len());
        if self.filter.is_empty() {
            return;
        }
        let values = &b.values[..n];
        for (k, &i) in b.indices[..n].iter().enumerate() {
            // the stored value is only read where the query has the index
            if self.may_have(i) {
                if let Some(x) = self.get(i) {
                    f(x, values[k]);
                }
            }
        }
    }

    /// The inner product with `b` as a float4 sum: `q[i] * b[i]` over the
    /// common indices in ascending order, exactly the terms (and products:
    /// float multiplication commutes) [`super::sparse::inner_product`]
    /// adds, in its order.
    #[inline]
    pub fn dot(&self, b: &Sparse) -> f32 {
        let mut sum = 0f32;
        self.common(b, |x, y| sum += x * y);
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::sparse::inner_product;
    use crate::rng::Rng;

    fn random(rng: &mut Rng, dim: u64, nnz: usize) -> (Vec<i32>, Vec<f32>) {
        let mut idx: Vec<i32> = Vec::new();
        while idx.len() < nnz {
            let i = rng.below(dim) as i32;
            if !idx.contains(&i) {
                idx.push(i);
            }
        }
        idx.sort_unstable();
        let val = idx.iter().map(|_| (rng.uniform() * 4.0 - 2.0) as f32).collect();
        (idx, val)
    }

    /// The table's dot equals the merge kernel bit for bit: short and long
    /// lists, dense overlaps and none, huge indices, an empty side,
    /// products that overflow or underflow.
    #[test]
    fn dot_matches_the_merge_kernel() {
        let seed = 7;
        let mut rng = Rng::new(seed);
        let mut t = Table::default();
        for round in 0..2000 {
            let dim = [8u64, 100, 30_000, 1_000_000_000][round % 4];
            let (na, nb) = (rng.below(dim.min(300) + 1) as usize, rng.below(dim.min(300) + 1) as usize);
            let (ai, av) = random(&mut rng, dim, na);
            let (bi, bv) = random(&mut rng, dim, nb);
            let a = Sparse { dim: dim as i32, indices: &ai, values: &av };
            let b = Sparse { dim: dim as i32, indices: &bi, values: &bv };
            t.load(&a);
            assert_eq!((t.dot(&b) as f64).to_bits(), inner_product(&a, &b).to_bits(), "seed {seed} round {round}");
        }
        let big = Sparse { dim: 3, indices: &[0, 1, 2], values: &[3e38, -3e38, 1e-30] };
        let tiny = Sparse { dim: 3, indices: &[0, 2], values: &[1e-30, 1e-30] };
        for (a, b) in [(big, big), (big, tiny), (tiny, big), (tiny, tiny)] {
            t.load(&a);
            assert_eq!((t.dot(&b) as f64).to_bits(), inner_product(&a, &b).to_bits());
        }
        let none = Sparse { dim: 3, indices: &[], values: &[] };
        t.load(&none);
        assert_eq!(t.dot(&big), 0.0);
        t.load(&big);
        assert_eq!(t.dot(&none), 0.0);
        assert!(t.dot(&none).is_sign_positive());
    }

    /// Indices that collide in the table (same slot) are all found.
    #[test]
    fn colliding_indices_are_found() {
        let bits = 4;
        let first = 12345;
        let mut same: Vec<i32> = (0..2_000_000).filter(|&i| slot_of(i, bits) == slot_of(first, bits)).take(4).collect();
        same.sort_unstable();
        let vals = [1.0f32, 2.0, 3.0, 4.0];
        let q = Sparse { dim: 2_000_000, indices: &same, values: &vals };
        let mut t = Table::default();
        t.load(&q);
        assert_eq!(t.bits, bits);
        for (&i, &v) in same.iter().zip(&vals) {
            assert_eq!(t.get(i), Some(v));
        }
        assert_eq!(t.get(first + 1), None);
        assert_eq!(t.dot(&q), 1.0 + 4.0 + 9.0 + 16.0);
    }
}
