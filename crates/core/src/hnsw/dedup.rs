//! Chunked value storage for builds, and grouping of exactly identical
//! values. Values are appended in fixed-size chunks, so collecting rows
//! never doubles memory by reallocating. A store is fixed-width (every
//! value the same size, e.g. float4 vectors) or variable-width (each value
//! at its own size, e.g. sparse vectors, which would otherwise be padded to
//! the index's room for non-zeros); identical vectors share one graph
//! element (which keeps up to [`MAX_GROUP`] rows, as pgvector's elements
//! keep up to 10 heap TIDs), so piles of duplicates neither bloat the graph
//! nor crowd out diverse links.

use crate::space::f32_bytes;
use std::collections::HashMap;

/// Most rows one element stands for.
pub const MAX_GROUP: usize = 10;

/// Bytes per chunk of [`Values`] (a power-of-two number of values fits).
const CHUNK_BYTES: usize = 1 << 20;

/// Where a value of a variable-width store lies: its chunk, its first
/// word there and its length in bytes.
#[derive(Clone, Copy)]
struct Span {
    chunk: u32,
    at: u32,
    bytes: u32,
}

/// Values (stored bytes, 8-aligned), appended in fixed-size chunks: all of
/// one width ([`Values::new`]) or each of its own ([`Values::variable`]).
pub struct Values {
    width: usize,
    words: usize,
    shift: u32,
    chunks: Vec<Vec<u64>>,
    len: usize,
    /// Variable width: each value's place (None: fixed width).
    spans: Option<Vec<Span>>,
}

impl Values {
    /// An empty store for values of `width` bytes.
    pub fn new(width: usize) -> Self {
        let width = width.max(1);
        let words = width.div_ceil(8);
        let per = (CHUNK_BYTES / (8 * words)).max(1);
        let shift = usize::BITS - 1 - per.leading_zeros();
        Values { width, words, shift, chunks: Vec::new(), len: 0, spans: None }
    }

    /// An empty store for values of any size (each kept at its own length,
    /// rounded up to 8 bytes; a value bigger than a chunk gets a chunk of
    /// its own).
    pub fn variable() -> Self {
        Values { width: 0, words: 0, shift: 0, chunks: Vec::new(), len: 0, spans: Some(Vec::new()) }
    }

    /// True when values may differ in size.
    pub fn is_variable(&self) -> bool {
        self.spans.is_some()
    }

    /// A store holding rows of float4 (`flat.len() % dim == 0`).
    pub fn from_f32(dim: usize, flat: &[f32]) -> Self {
        let mut v = Values::new(4 * dim.max(1));
        for row in flat.chunks_exact(dim.max(1)) {
            v.push(f32_bytes(row));
        }
        v
    }

    /// Bytes per value (a variable-width store: the biggest value so far).
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

    /// Appends a value (`x.len()` must equal the width of a fixed-width
    /// store; below 4 GB in a variable-width one).
    pub fn push(&mut self, x: &[u8]) {
        if self.spans.is_some() {
            self.push_variable(x);
            return;
        }
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

    fn push_variable(&mut self, x: &[u8]) {
        let bytes = u32::try_from(x.len()).expect("value size");
        let words = x.len().div_ceil(8);
        let room = self.chunks.last().is_some_and(|c| c.capacity() - c.len() >= words);
        if !room {
            self.chunks.push(Vec::with_capacity(words.max(CHUNK_BYTES / 8)));
        }
        let chunk = self.chunks.len() - 1;
        let c = &mut self.chunks[chunk];
        let at = c.len();
        // within the capacity checked above: never reallocates
        c.resize(at + words, 0);
        // SAFETY: the words just added are initialised and hold at least
        // `x.len()` bytes; u64 storage may be written as bytes.
        let dst = unsafe { std::slice::from_raw_parts_mut(c[at..].as_mut_ptr().cast::<u8>(), x.len()) };
        dst.copy_from_slice(x);
        let span = Span { chunk: chunk as u32, at: u32::try_from(at).expect("chunk size"), bytes };
        if let Some(spans) = self.spans.as_mut() {
            spans.push(span);
        }
        self.width = self.width.max(x.len());
        self.len += 1;
    }

    /// Asks the CPU to start loading where value `i` lies (a variable
    /// store's place of it; nothing for a fixed-width store).
    #[inline]
    pub fn prefetch_place(&self, i: usize) {
        if let Some(s) = self.spans.as_ref().and_then(|s| s.get(i)) {
            crate::distance::prefetch(std::slice::from_ref(s));
        }
    }

    /// Value `i`, 8-aligned.
    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        if let Some(spans) = &self.spans {
            let s = spans[i];
            let c = &self.chunks[s.chunk as usize];
            let at = s.at as usize;
            let words = (s.bytes as usize).div_ceil(8);
            // SAFETY: `at..at + words` lies within the chunk and holds
            // `bytes` initialised bytes; u64 storage may be read as bytes.
            return unsafe { std::slice::from_raw_parts(c[at..at + words].as_ptr().cast::<u8>(), s.bytes as usize) };
        }
        let c = &self.chunks[i >> self.shift];
        let at = (i & ((1 << self.shift) - 1)) * self.words;
        // SAFETY: `at..at + words` lies within the chunk and holds `width`
        // initialised bytes; u64 storage may be read as bytes.
        unsafe { std::slice::from_raw_parts(c[at..at + self.words].as_ptr().cast::<u8>(), self.width) }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        let spans = self.spans.as_ref().map_or(0, |s| s.capacity() * std::mem::size_of::<Span>());
        self.chunks.iter().map(|c| c.capacity() * 8).sum::<usize>() + spans
    }

    /// Bytes a value of `len` bytes takes in a variable-width store (the
    /// unused tail of its chunk aside).
    pub fn bytes_per_variable_value(len: usize) -> usize {
        8 * len.div_ceil(8) + std::mem::size_of::<Span>()
    }

    /// Bytes pushing a value of `len` bytes adds to a variable-width store:
    /// its words and place, plus the unused tail of the last chunk when the
    /// value needs a new one (that tail stays empty). The last chunk's
    /// unused tail is not counted until then (as [`Self::bytes_per_value`]
    /// amortises a fixed-width store's chunks).
    pub fn variable_push_bytes(&self, len: usize) -> usize {
        let words = len.div_ceil(8);
        let tail = match self.chunks.last() {
            Some(c) if c.capacity() - c.len() < words => 8 * (c.capacity() - c.len()),
            _ => 0,
        };
        tail + Self::bytes_per_variable_value(len)
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

    /// Values of `k`-dependent sizes 0..=23 bytes, filled with `k`'s bytes.
    fn tiny(k: usize) -> Vec<u8> {
        (0..k % 24).map(|j| (k * 31 + j) as u8).collect()
    }

    #[test]
    fn variable_values_keep_their_own_size() {
        let mut v = Values::variable();
        assert!(v.is_variable() && v.is_empty());
        v.push(&[]);
        v.push(&[7]);
        v.push(&[]);
        let big: Vec<u8> = (0..CHUNK_BYTES + 13).map(|j| (j % 251) as u8).collect();
        v.push(&big);
        v.push(&[1, 2, 3]);
        // many tiny values over several chunks, after and before big ones
        for k in 0..200_000 {
            v.push(&tiny(k));
        }
        v.push(&big[..CHUNK_BYTES]);
        v.push(&[]);
        assert_eq!(v.len(), 200_007);
        assert_eq!(v.get(0), &[] as &[u8]);
        assert_eq!(v.get(1), &[7]);
        assert_eq!(v.get(2), &[] as &[u8]);
        assert_eq!(v.get(3), &big[..]);
        assert_eq!(v.get(4), &[1, 2, 3]);
        for k in 0..200_000 {
            assert_eq!(v.get(5 + k), &tiny(k)[..], "tiny value {k}");
        }
        assert_eq!(v.get(200_005), &big[..CHUNK_BYTES]);
        assert_eq!(v.get(200_006), &[] as &[u8]);
        assert_eq!(v.width(), big.len());
        for i in 0..v.len() {
            assert_eq!(v.get(i).as_ptr() as usize % 8, 0, "value {i} is 8-aligned");
        }
        // held at their own size: the tiny values average 11.5 bytes (16
        // with rounding, 12 of place), not the biggest value's ~1 MB
        let real: usize = (0..v.len()).map(|i| Values::bytes_per_variable_value(v.get(i).len())).sum();
        assert!(v.bytes() >= real && v.bytes() < real + 4 * CHUNK_BYTES, "{} bytes for {real}", v.bytes());
        assert!(v.bytes() < 12 * CHUNK_BYTES, "{}", v.bytes());
    }

    #[test]
    fn variable_push_bytes_count_abandoned_chunk_tails() {
        // 116,568-byte values: 8 fill a chunk, leaving 116,008 bytes
        let size = 116_568;
        let x = vec![5u8; size];
        let mut v = Values::variable();
        let mut counted = 0;
        for _ in 0..20 {
            counted += v.variable_push_bytes(size);
            v.push(&x);
        }
        let last = v.chunks.last().map_or(0, |c| 8 * (c.capacity() - c.len()));
        let spans = v.spans.as_ref().map_or(0, |s| (s.capacity() - s.len()) * std::mem::size_of::<Span>());
        // all that is held, but the last chunk's free tail and span slack
        assert_eq!(counted + last + spans, v.bytes());
        assert_eq!(counted, 20 * (size + 12) + 2 * (CHUNK_BYTES - 8 * size));
        // small values fill a tail without being charged for it
        let mut w = Values::variable();
        w.push(&[1; 16]);
        assert_eq!(w.variable_push_bytes(24), 24 + 12);
    }

    #[test]
    fn float4_values_read_from_a_variable_store() {
        let mut v = Values::variable();
        for i in 0..100 {
            v.push(f32_bytes(&vec![i as f32; 1 + i % 7]));
        }
        for i in 0..100 {
            let row = crate::space::f32s(v.get(i)).expect("aligned");
            assert_eq!(row.len(), 1 + i % 7);
            assert!(row.iter().all(|&x| x == i as f32));
        }
    }

    #[test]
    fn duplicates_of_variable_width_are_grouped_by_their_bytes() {
        let mut v = Values::variable();
        // 0: [1,2] x12, [1,2,0] x3 (same prefix, longer), [] x4, [1] x1
        for _ in 0..12 {
            v.push(&[1, 2]);
        }
        for _ in 0..3 {
            v.push(&[1, 2, 0]);
        }
        for _ in 0..4 {
            v.push(&[]);
        }
        v.push(&[1]);
        let g = group_duplicates(&v);
        let mut sizes: Vec<(Vec<u8>, usize)> = g.iter().map(|grp| (v.get(grp[0] as usize).to_vec(), grp.len())).collect();
        sizes.sort();
        assert_eq!(sizes, [(vec![], 4), (vec![1], 1), (vec![1, 2], 2), (vec![1, 2], 10), (vec![1, 2, 0], 3)]);
        for grp in &g {
            assert!(grp.iter().all(|&r| v.get(r as usize) == v.get(grp[0] as usize)));
        }
        assert_eq!(g.iter().map(Vec::len).sum::<usize>(), 20);
    }

    #[test]
    fn sparse_distances_on_unpadded_values_match_padded() {
        use crate::distance::sparse::{encode, pad};
        use crate::distance::Metric;
        use crate::space::Space;
        let rows: Vec<Vec<f32>> = (0..40)
            .map(|k: i32| {
                let nnz = (k % 9) as usize;
                let idx: Vec<i32> = (0..nnz as i32).map(|j| (j * 7 + k) % 50 + j * 50).collect();
                let val: Vec<f32> = (0..nnz).map(|j| ((j as i32 * 13 + k) % 11) as f32 - 4.5).collect();
                encode(500, &idx, &val)
            })
            .collect();
        let cap = 12;
        for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1] {
            let space = Space::Sparse { metric, cap };
            let mut own = Values::variable();
            let mut padded = Values::new(space.value_bytes());
            for r in &rows {
                own.push(f32_bytes(r));
                padded.push(&space.encode(r));
            }
            for a in 0..rows.len() {
                for b in 0..rows.len() {
                    let (x, y) = (space.between(own.get(a), own.get(b)), space.between(padded.get(a), padded.get(b)));
                    assert_eq!(x.to_bits(), y.to_bits(), "{metric:?} {a} {b}");
                    let q = space.query(&rows[a]);
                    assert_eq!(space.distance(&q, own.get(b)).to_bits(), space.distance(&q, padded.get(b)).to_bits());
                }
            }
            assert_eq!(f32_bytes(&pad(&rows[3], cap)), padded.get(3));
        }
    }
}
