//! Chunked value storage for builds, and grouping of exactly identical
//! values. Values are appended in fixed-size chunks, so collecting rows
//! never doubles memory by reallocating; identical vectors share one graph
//! element (which keeps up to [`MAX_GROUP`] rows, as pgvector's elements
//! keep up to 10 heap TIDs), so piles of duplicates neither bloat the graph
//! nor crowd out diverse links.

use crate::space::f32_bytes;
use std::collections::HashMap;

/// Most rows one element stands for.
pub const MAX_GROUP: usize = 10;

/// Bytes per chunk of [`Values`] (a power-of-two number of values fits).
const CHUNK_BYTES: usize = 1 << 20;

/// Fixed-size values (stored bytes, 8-aligned), appended in fixed-size
/// chunks.
pub struct Values {
    width: usize,
    words: usize,
    shift: u32,
    chunks: Vec<Vec<u64>>,
    len: usize,
}

impl Values {
    /// An empty store for values of `width` bytes.
    pub fn new(width: usize) -> Self {
        let width = width.max(1);
        let words = width.div_ceil(8);
        let per = (CHUNK_BYTES / (8 * words)).max(1);
        let shift = usize::BITS - 1 - per.leading_zeros();
        Values { width, words, shift, chunks: Vec::new(), len: 0 }
    }

    /// A store holding rows of float4 (`flat.len() % dim == 0`).
    pub fn from_f32(dim: usize, flat: &[f32]) -> Self {
        let mut v = Values::new(4 * dim.max(1));
        for row in flat.chunks_exact(dim.max(1)) {
            v.push(f32_bytes(row));
        }
        v
    }

    /// Bytes per value.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a value (`x.len()` must equal the width).
    pub fn push(&mut self, x: &[u8]) {
        assert_eq!(x.len(), self.width, "value size");
        let per = 1usize << self.shift;
        if self.len % per == 0 {
            self.chunks.push(Vec::with_capacity(per * self.words));
        }
        if let Some(c) = self.chunks.last_mut() {
            let at = c.len();
            c.resize(at + self.words, 0);
            // SAFETY: the words just added are initialised and hold at least
            // `width` bytes; u64 storage may be written as bytes.
            let dst = unsafe { std::slice::from_raw_parts_mut(c[at..].as_mut_ptr().cast::<u8>(), self.width) };
            dst.copy_from_slice(x);
        }
        self.len += 1;
    }

    /// Value `i`, 8-aligned.
    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        let c = &self.chunks[i >> self.shift];
        let at = (i & ((1 << self.shift) - 1)) * self.words;
        // SAFETY: `at..at + words` lies within the chunk and holds `width`
        // initialised bytes; u64 storage may be read as bytes.
        unsafe { std::slice::from_raw_parts(c[at..at + self.words].as_ptr().cast::<u8>(), self.width) }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.capacity() * 8).sum()
    }

    /// Bytes one more value of `width` bytes takes (amortised).
    pub fn bytes_per_value(width: usize) -> usize {
        8 * width.max(1).div_ceil(8)
    }
}

fn hash_bytes(x: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in x {
        h = (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Groups rows with identical values (the same bytes): each group lists
/// row indices in input order, at most [`MAX_GROUP`] per group (further
/// copies start a new group). When a value needs several groups, the
/// first holds the remainder and the later ones are full: the graph breaks
/// distance ties in favour of later elements, so a search that keeps one
/// element of a pile (ef_search = 1) gets a full one.
pub fn group_duplicates(values: &Values) -> Vec<Vec<u32>> {
    let mut groups: Vec<Vec<u32>> = Vec::with_capacity(values.len());
    // hash -> (group with room, the first group of its value) per value
    let mut open: HashMap<u64, Vec<(u32, u32)>> = HashMap::with_capacity(values.len());
    // first group of a value -> its later groups
    let mut later: HashMap<u32, Vec<u32>> = HashMap::new();
    for i in 0..values.len() {
        let x = values.get(i);
        let slots = open.entry(hash_bytes(x)).or_default();
        let hit = slots.iter().position(|&(g, _)| values.get(groups[g as usize][0] as usize) == x);
        match hit {
            Some(k) => {
                let (g, first) = slots[k];
                if groups[g as usize].len() >= MAX_GROUP {
                    let next = groups.len() as u32;
                    groups.push(vec![i as u32]);
                    later.entry(first).or_default().push(next);
                    slots[k] = (next, first);
                } else {
                    groups[g as usize].push(i as u32);
                }
            }
            None => {
                slots.push((groups.len() as u32, groups.len() as u32));
                groups.push(vec![i as u32]);
            }
        }
    }
    for (first, rest) in later {
        let members: Vec<u32> = std::iter::once(first).chain(rest).collect();
        let rows: Vec<u32> = members.iter().flat_map(|&g| std::mem::take(&mut groups[g as usize])).collect();
        let head = match rows.len() % MAX_GROUP {
            0 => MAX_GROUP,
            r => r,
        };
        let mut at = 0;
        for (k, &g) in members.iter().enumerate() {
            let take = if k == 0 { head } else { MAX_GROUP };
            groups[g as usize] = rows[at..at + take].to_vec();
            at += take;
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
            let mut v = Values::new(4 * dim);
            for i in 0..50 {
                v.push(f32_bytes(&vec![i as f32; dim]));
            }
            assert_eq!(v.len(), 50);
            for i in 0..50 {
                let row = crate::space::f32s(v.get(i)).expect("aligned");
                assert!(row.iter().all(|&x| x == i as f32), "dim {dim} row {i}");
            }
        }
        let mut odd = Values::new(5);
        odd.push(&[1, 2, 3, 4, 5]);
        odd.push(&[6, 7, 8, 9, 10]);
        assert_eq!(odd.get(1), &[6, 7, 8, 9, 10]);
    }

    #[test]
    fn duplicates_are_grouped_by_ten() {
        let mut v = Values::new(8);
        for i in 0..25 {
            v.push(f32_bytes(&[1.0, 2.0]));
            v.push(f32_bytes(&[i as f32, 0.5]));
        }
        v.push(f32_bytes(&[0.0, 0.0]));
        v.push(f32_bytes(&[0.0, 0.0]));
        let g = group_duplicates(&v);
        let sizes: Vec<usize> = g.iter().map(Vec::len).collect();
        // [1,2] x25 -> 5, 10, 10 (the partial group first); 25 distinct
        // rows; the two zero vectors together
        assert_eq!(sizes.iter().sum::<usize>(), 52);
        assert_eq!(sizes.iter().filter(|&&s| s == 10).count(), 2);
        let pile: Vec<usize> = g.iter().filter(|grp| v.get(grp[0] as usize) == f32_bytes(&[1.0, 2.0])).map(Vec::len).collect();
        assert_eq!(pile, [5, 10, 10]);
        assert_eq!(g[0], [0, 2, 4, 6, 8], "the first group keeps the first rows");
        assert!(g.iter().any(|grp| grp.len() == 2 && v.get(grp[0] as usize) == f32_bytes(&[0.0, 0.0])));
        assert!(g.iter().all(|grp| grp.windows(2).all(|w| w[0] < w[1])));
    }
}
