//! A sparse query prepared for many distances: its non-zeros in a small
//! open-addressing table keyed by index, so an inner product against a
//! stored vector is one look-up per stored non-zero instead of a merge of
//! both index lists (whose every step waits on the comparison before it).
//! The terms are the merge's, added in the same ascending index order, so
//! sums agree with [`super::sparse`]'s kernels to the last bit.

use super::sparse::Sparse;
use std::cell::Cell;

/// Empty slot (indices are 0-based, never negative).
const EMPTY: i32 = -1;

/// Non-zeros of a query in a power-of-two table at most a quarter full
/// (half full built 5% slower), behind a filter: a look-up of an index the
/// query lacks, the common case, mostly ends there, at one bit in a few
/// kilobytes that stay in L1; the table is only searched for the few that
/// pass. The filter is a bitmap of
/// the indices themselves when the query's highest index is below
/// max(65,536, 256 per non-zero) (exact, and no hashing), else one bit per
/// hash, 128 or more per non-zero. 48 to 96 bytes per non-zero, or 32 to
/// 64 and the bitmap's 8 KB.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// (index, value) pairs; EMPTY where free.
    slots: Vec<(i32, f32)>,
    /// log2 of the slot count.
    bits: u32,
    /// A set bit for every query index (`direct`), or for every hash
    /// prefix of `filter_bits` bits a query index has.
    filter: Vec<u64>,
    /// log2 of the hashed filter's size in bits (more than `bits`).
    filter_bits: u32,
    /// Whether the filter is a bitmap of the indices themselves.
    direct: bool,
    /// How many stored indices passed the filter lately.
    passes: Passes,
}

/// Stored indices looked up and how many of them passed the filter, over
/// the table's life (kept across loads: a build's rows are alike), both
/// halved past 4,096 looked up, so it follows the data (some 40
/// distances). It only picks the faster of two loops that add the same
/// terms in the same order.
#[derive(Clone, Debug, Default)]
struct Passes {
    seen: Cell<u32>,
    passed: Cell<u32>,
}

impl Passes {
    /// Whether more than 1 in 20 passed (then collecting the ones that
    /// pass first beats a jump per index).
    #[inline]
    fn many(&self) -> bool {
        20 * self.passed.get() as u64 > self.seen.get() as u64
    }

    #[inline]
    fn add(&self, seen: usize, passed: usize) {
        let (mut s, mut p) = (self.seen.get().saturating_add(seen as u32), self.passed.get().saturating_add(passed as u32));
        if s > 1 << 12 {
            (s, p) = (s / 2, p / 2);
        }
        self.seen.set(s);
        self.passed.set(p);
    }
}

/// A bitmap filter covers indices below the larger of this and 256 per
/// non-zero.
const DIRECT_MIN: usize = 1 << 16;

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
        let top = q.indices[..n].iter().copied().max().unwrap_or(0).max(0) as usize;
        // (a malformed negative index goes to the hashed filter)
        self.direct = top < DIRECT_MIN.max(256 * n) && q.indices[..n].iter().all(|&i| i >= 0);
        // cleared whole (a few kilobytes: cheaper than finding the last
        // query's bits, a jump the CPU guesses wrong every other slot)
        self.filter.clear();
        if self.direct {
            self.filter.resize((top + 1).div_ceil(64), 0);
        } else {
            // 128 bits or more per non-zero: an index the query lacks
            // passes with a chance of at most 1 in 128 (each pass is a
            // jump the CPU mispredicts; 1 in 32 built 12% slower)
            self.filter_bits = (bits + 5).max(9);
            self.filter.resize(1 << (self.filter_bits - 6), 0);
        }
        for (&i, &v) in q.indices[..n].iter().zip(&q.values[..n]) {
            let f = self.filter_bit(i) as usize;
            self.filter[f >> 6] |= 1 << (f & 63);
            let mut s = slot_of(i, bits);
            // indices are distinct, so each finds a free slot of its own
            while self.slots[s].0 != EMPTY {
                s = (s + 1) & mask;
            }
            self.slots[s] = (i, v);
        }
    }

    /// The filter bit of `index`.
    #[inline]
    fn filter_bit(&self, index: i32) -> u32 {
        match self.direct {
            true => index as u32,
            false => hash(index) >> (32 - self.filter_bits),
        }
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
    #[inline(always)]
    pub fn common(&self, b: &Sparse, f: impl FnMut(f32, f32)) {
        if self.filter.is_empty() {
            return;
        }
        // one loop per kind of filter (not a choice per index), and per
        // share of stored indices that pass it so far (see `Passes`)
        let shift = 32 - self.filter_bits;
        let passed = match (self.direct, self.passes.many()) {
            (true, false) => self.scan_jumping(b, |i| i as u32, f),
            (true, true) => self.scan_collecting(b, |i| i as u32, f),
            (false, false) => self.scan_jumping(b, |i| hash(i) >> shift, f),
            (false, true) => self.scan_collecting(b, |i| hash(i) >> shift, f),
        };
        self.passes.add(b.indices.len().min(b.values.len()), passed);
    }

    /// [`Table::common`] with filter bits from `bit`, one jump per stored
    /// index (cheapest while few pass: the CPU guesses "no" right); returns
    /// how many passed.
    #[inline(always)]
    fn scan_jumping(&self, b: &Sparse, bit: impl Fn(i32) -> u32, mut f: impl FnMut(f32, f32)) -> usize {
        let n = b.indices.len().min(b.values.len());
        let (indices, values) = (&b.indices[..n], &b.values[..n]);
        let mut passed = 0;
        for k in 0..n {
            let at = bit(indices[k]);
            if self.filter.get((at >> 6) as usize).is_some_and(|w| w >> (at & 63) & 1 != 0) {
                passed += 1;
                // the stored value is only read where the query has the index
                if let Some(x) = self.get(indices[k]) {
                    f(x, values[k]);
                }
            }
        }
        passed
    }

    /// [`Table::common`] with filter bits from `bit`, in blocks of stored
    /// indices: first the positions that pass the filter are collected
    /// without a jump, then only those are looked up (cheapest when many
    /// pass: neighbours share a fifth of their terms on SPLADE-like rows,
    /// and whether one passes is then a jump the CPU cannot guess); returns
    /// how many passed.
    #[inline(always)]
    fn scan_collecting(&self, b: &Sparse, bit: impl Fn(i32) -> u32, mut f: impl FnMut(f32, f32)) -> usize {
        // small enough to clear without a call to memset
        const BLOCK: usize = 256;
        let n = b.indices.len().min(b.values.len());
        let (indices, values) = (&b.indices[..n], &b.values[..n]);
        let mut pass = [0u8; BLOCK];
        let (mut start, mut passed) = (0, 0);
        while start < n {
            let end = (start + BLOCK).min(n);
            let mut count = 0;
            for k in start..end {
                let at = bit(indices[k]);
                let word = self.filter.get((at >> 6) as usize).copied().unwrap_or(0);
                pass[count] = (k - start) as u8;
                count += (word >> (at & 63) & 1) as usize;
            }
            for &k in &pass[..count] {
                let k = start + k as usize;
                if let Some(x) = self.get(indices[k]) {
                    f(x, values[k]);
                }
            }
            passed += count;
            start = end;
        }
        passed
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

    /// Bitmap and hashed filters in turn on one table: a bitmap's bits
    /// from a query with higher indices never answer for the next, and
    /// malformed negative indices do not panic.
    #[test]
    fn filters_switch_without_stale_bits() {
        let wide = Sparse { dim: 70_000, indices: &[5, 60_000, 65_000], values: &[1.0, 2.0, 3.0] };
        let narrow = Sparse { dim: 70_000, indices: &[5, 6], values: &[4.0, 5.0] };
        let far = Sparse { dim: 2_000_000_000, indices: &[7, 1_999_999_999], values: &[6.0, 7.0] };
        let probe = Sparse { dim: 2_000_000_000, indices: &[5, 6, 7, 60_000, 65_000, 1_999_999_999], values: &[1.0; 6] };
        let mut t = Table::default();
        for q in [wide, narrow, far, narrow, wide, far, wide] {
            t.load(&q);
            assert_eq!(t.direct, q.dim < 1_000_000);
            assert_eq!(t.dot(&probe).to_bits(), (inner_product(&q, &probe) as f32).to_bits(), "{:?}", q.indices);
        }
        let bad = Sparse { dim: 10, indices: &[-3, 2], values: &[1.0, 1.0] };
        t.load(&bad);
        assert!(!t.direct);
        let _ = t.dot(&bad);
        t.load(&narrow);
        assert_eq!(t.dot(&probe), 9.0);
    }

    /// Both loops (the one picked while few stored indices pass the
    /// filter and the one while many do) give the merge kernel's sums.
    #[test]
    fn both_loops_match_the_merge_kernel() {
        let seed = 5;
        let mut rng = Rng::new(seed);
        let mut t = Table::default();
        for (dim, many) in [(30_000, false), (40, true), (1_000_000_000, false), (300, true)] {
            let rows: Vec<(Vec<i32>, Vec<f32>)> = (0..400).map(|_| random(&mut rng, dim, 30.min(dim as usize))).collect();
            for round in 0..400 {
                let (a, b) = (&rows[round], &rows[(round * 7 + 1) % rows.len()]);
                let (a, b) = (Sparse { dim: dim as i32, indices: &a.0, values: &a.1 }, Sparse { dim: dim as i32, indices: &b.0, values: &b.1 });
                t.load(&a);
                assert_eq!((t.dot(&b) as f64).to_bits(), inner_product(&a, &b).to_bits(), "seed {seed} dim {dim} round {round}");
            }
            assert_eq!(t.passes.many(), many, "dim {dim}");
        }
    }
}
