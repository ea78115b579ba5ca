//! Open-addressing hash set and map for node ids, the hot structures of a
//! graph search over sparse ids (packed item pointers on disk): linear
//! probing over a power-of-two table, no per-entry allocation, cleared in
//! place so a scan reuses its memory across rescans. Id 0 marks an empty
//! slot; ids are stored as `id + 1` so 0 itself remains a valid id.

/// Spreads the bits of an id (MurmurHash3's 64-bit finaliser): disk ids
/// differ mostly in their middle bits (block << 16 | offset).
#[inline]
pub fn mix(v: u64) -> u64 {
    let mut z = v;
    z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    z = (z ^ (z >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    z ^ (z >> 33)
}

/// A map from node ids to `V`, insertion only (plus clear).
#[derive(Clone, Debug)]
pub struct NodeMap<V: Copy> {
    keys: Vec<u64>,
    values: Vec<V>,
    len: usize,
    fill: V,
}

impl<V: Copy> NodeMap<V> {
    /// An empty map; `fill` is the placeholder value of empty slots.
    pub fn new(fill: V) -> Self {
        NodeMap { keys: vec![0; 16], values: vec![fill; 16], len: 0, fill }
    }

    /// An empty map with room for `n` entries without growing.
    pub fn with_capacity(n: usize, fill: V) -> Self {
        let size = (2 * n).next_power_of_two().max(16);
        NodeMap { keys: vec![0; size], values: vec![fill; size], len: 0, fill }
    }

    /// Heap bytes of a map made [`NodeMap::with_capacity`] `n`.
    pub fn bytes_with_capacity(n: usize) -> usize {
        (2 * n).next_power_of_two().max(16) * (8 + std::mem::size_of::<V>())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held (for memory budgets).
    pub fn heap_bytes(&self) -> usize {
        self.keys.capacity() * 8 + self.values.capacity() * std::mem::size_of::<V>()
    }

    /// Bytes a map holding only the present entries would have grown to
    /// (a memory budget's view of a map that kept a bigger one's table).
    pub fn fresh_bytes(&self) -> usize {
        Self::bytes_with_capacity(self.len)
    }

    /// Removes every entry, keeping (up to a bound) the table's memory.
    pub fn clear(&mut self) {
        if self.keys.len() > (1 << 16) && self.len < self.keys.len() / 16 {
            *self = Self::new(self.fill);
            return;
        }
        self.keys.iter_mut().for_each(|k| *k = 0);
        self.len = 0;
    }

    #[inline]
    fn slot(&self, id: u64) -> (usize, bool) {
        let mask = self.keys.len() - 1;
        let key = id.wrapping_add(1);
        let mut i = mix(id) as usize & mask;
        loop {
            let k = self.keys[i];
            if k == key {
                return (i, true);
            }
            if k == 0 {
                return (i, false);
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let size = self.keys.len() * 2;
        let old_keys = std::mem::replace(&mut self.keys, vec![0; size]);
        let old_values = std::mem::replace(&mut self.values, vec![self.fill; size]);
        self.len = 0;
        for (k, v) in old_keys.into_iter().zip(old_values) {
            if k != 0 {
                self.insert(k - 1, v);
            }
        }
    }

    /// Inserts or overwrites; true if `id` was new.
    #[inline]
    pub fn insert(&mut self, id: u64, value: V) -> bool {
        if (self.len + 1) * 2 > self.keys.len() {
            self.grow();
        }
        let (i, found) = self.slot(id);
        self.values[i] = value;
        if !found {
            self.keys[i] = id.wrapping_add(1);
            self.len += 1;
        }
        !found
    }

    /// The value of `id`.
    #[inline]
    pub fn get(&self, id: u64) -> Option<&V> {
        let (i, found) = self.slot(id);
        found.then(|| &self.values[i])
    }

    /// The value of `id`, writable.
    #[inline]
    pub fn get_mut(&mut self, id: u64) -> Option<&mut V> {
        let (i, found) = self.slot(id);
        if found {
            Some(&mut self.values[i])
        } else {
            None
        }
    }

    /// True if `id` is present.
    #[inline]
    pub fn contains(&self, id: u64) -> bool {
        self.slot(id).1
    }

    /// Every (id, value), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &V)> + '_ {
        self.keys.iter().zip(&self.values).filter(|(k, _)| **k != 0).map(|(k, v)| (k - 1, v))
    }
}

/// A set of node ids.
#[derive(Clone, Debug)]
pub struct NodeSet(NodeMap<()>);

impl Default for NodeSet {
    fn default() -> Self {
        NodeSet(NodeMap::new(()))
    }
}

impl NodeSet {
    /// Adds `id`; true if it was not there.
    #[inline]
    pub fn insert(&mut self, id: u64) -> bool {
        self.0.insert(id, ())
    }
    /// True if `id` is in the set.
    #[inline]
    pub fn contains(&self, id: u64) -> bool {
        self.0.contains(id)
    }
    /// Number of ids.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Removes every id.
    pub fn clear(&mut self) {
        self.0.clear()
    }
    /// Bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
    }

    /// Bytes a set holding only the present ids would have grown to.
    pub fn fresh_bytes(&self) -> usize {
        self.0.fresh_bytes()
    }
    /// Every id.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().map(|(k, _)| k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use std::collections::HashMap;

    #[test]
    fn map_agrees_with_std_hashmap() {
        let mut rng = Rng::new(7);
        let mut ours = NodeMap::new(0u32);
        let mut std = HashMap::new();
        for round in 0..3 {
            for i in 0..20_000u32 {
                // disk-like ids: block << 16 | offset, plus 0 and u64::MAX - 1
                let id = match i % 97 {
                    0 => 0,
                    1 => u64::MAX - 1,
                    _ => ((rng.next_u64() % 5000) << 16) | (rng.next_u64() % 300),
                };
                assert_eq!(ours.insert(id, i), std.insert(id, i).is_none(), "round {round} id {id}");
            }
            assert_eq!(ours.len(), std.len());
            for (k, v) in &std {
                assert_eq!(ours.get(*k), Some(v));
            }
            assert!(ours.get(12345 << 16 | 999).is_none());
            ours.clear();
            std.clear();
            assert!(ours.is_empty());
        }
    }

    #[test]
    fn set_insert_reports_novelty() {
        let mut s = NodeSet::default();
        assert!(s.insert(5));
        assert!(!s.insert(5));
        assert!(s.insert(0));
        assert!(s.contains(0) && s.contains(5) && !s.contains(6));
        assert_eq!(s.iter().count(), 2);
    }
}
