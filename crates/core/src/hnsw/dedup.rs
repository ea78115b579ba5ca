//! Chunked vector storage for builds, and grouping of exactly identical
//! vectors. Vectors are appended in fixed-size chunks, so collecting rows
//! never doubles memory by reallocating; identical vectors share one graph
//! element (which keeps up to [`MAX_GROUP`] rows, as pgvector's elements
//! keep up to 10 heap TIDs), so piles of duplicates neither bloat the graph
//! nor crowd out diverse links.

use std::collections::HashMap;

/// Most rows one element stands for.
pub const MAX_GROUP: usize = 10;

/// Bytes per chunk of [`Vectors`] (a power-of-two number of rows fits).
const CHUNK_BYTES: usize = 1 << 20;

/// Vectors of one dimension, appended in fixed-size chunks.
pub struct Vectors {
    dim: usize,
    shift: u32,
    chunks: Vec<Vec<f32>>,
    len: usize,
}

impl Vectors {
    /// An empty store for `dim`-long vectors.
    pub fn new(dim: usize) -> Self {
        let dim = dim.max(1);
        let rows = (CHUNK_BYTES / (4 * dim)).max(1);
        let shift = usize::BITS - 1 - rows.leading_zeros();
        Vectors { dim, shift, chunks: Vec::new(), len: 0 }
    }

    /// A store holding the rows of a flat array (`len % dim == 0`).
    pub fn from_flat(dim: usize, flat: &[f32]) -> Self {
        let mut v = Vectors::new(dim);
        for row in flat.chunks_exact(dim.max(1)) {
            v.push(row);
        }
        v
    }

    /// Vector length.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a vector (`x.len()` must equal `dim`).
    pub fn push(&mut self, x: &[f32]) {
        assert_eq!(x.len(), self.dim, "vector length");
        let per = 1usize << self.shift;
        if self.len % per == 0 {
            self.chunks.push(Vec::with_capacity(per * self.dim));
        }
        if let Some(c) = self.chunks.last_mut() {
            c.extend_from_slice(x);
        }
        self.len += 1;
    }

    /// Vector `i`.
    #[inline]
    pub fn get(&self, i: usize) -> &[f32] {
        let c = &self.chunks[i >> self.shift];
        let at = (i & ((1 << self.shift) - 1)) * self.dim;
        &c[at..at + self.dim]
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.capacity() * 4).sum()
    }

    /// Bytes one more vector will take (amortised over its chunk).
    pub fn bytes_per_vector(dim: usize) -> usize {
        4 * dim.max(1)
    }
}

fn hash_bits(x: &[f32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in x {
        // -0.0 and 0.0 are identical vectors for every metric
        let bits = if *v == 0.0 { 0 } else { v.to_bits() };
        h = (h ^ bits as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn same(a: &[f32], b: &[f32]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// Groups rows with identical vectors: each group lists row indices in
/// input order, at most [`MAX_GROUP`] per group (further copies start a new
/// group); groups are ordered by their first row.
pub fn group_duplicates(vectors: &Vectors) -> Vec<Vec<u32>> {
    let mut groups: Vec<Vec<u32>> = Vec::with_capacity(vectors.len());
    // hash -> groups with that hash that still have room
    let mut open: HashMap<u64, Vec<u32>> = HashMap::with_capacity(vectors.len());
    for i in 0..vectors.len() {
        let x = vectors.get(i);
        let h = hash_bits(x);
        let slots = open.entry(h).or_default();
        let hit = slots.iter().position(|&g| same(vectors.get(groups[g as usize][0] as usize), x));
        match hit {
            Some(k) => {
                let g = slots[k] as usize;
                groups[g].push(i as u32);
                if groups[g].len() >= MAX_GROUP {
                    slots.swap_remove(k);
                }
            }
            None => {
                slots.push(groups.len() as u32);
                groups.push(vec![i as u32]);
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_rows_round_trip() {
        for dim in [1, 3, 384, 1536, 70_000] {
            let mut v = Vectors::new(dim);
            for i in 0..50 {
                v.push(&vec![i as f32; dim]);
            }
            assert_eq!(v.len(), 50);
            for i in 0..50 {
                assert!(v.get(i).iter().all(|&x| x == i as f32), "dim {dim} row {i}");
            }
        }
    }

    #[test]
    fn duplicates_are_grouped_by_ten() {
        let mut v = Vectors::new(2);
        for i in 0..25 {
            v.push(&[1.0, 2.0]);
            v.push(&[i as f32, 0.5]);
        }
        v.push(&[-0.0, 0.0]);
        v.push(&[0.0, 0.0]);
        let g = group_duplicates(&v);
        let sizes: Vec<usize> = g.iter().map(Vec::len).collect();
        // [1,2] x25 -> 10, 10, 5; 25 distinct rows; the two zero vectors together
        assert_eq!(sizes.iter().sum::<usize>(), 52);
        assert_eq!(sizes.iter().filter(|&&s| s == 10).count(), 2);
        assert!(g.iter().any(|grp| grp.len() == 5 && v.get(grp[0] as usize) == [1.0, 2.0]));
        assert!(g.iter().any(|grp| grp.len() == 2 && v.get(grp[0] as usize)[1] == 0.0));
        assert!(g.iter().all(|grp| grp.windows(2).all(|w| w[0] < w[1])));
    }
}
