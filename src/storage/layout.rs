//! Byte layout of index pages and tuples. Pure: no Postgres calls; sizes are
//! asserted in tests. Changing anything here means bumping [`FORMAT_VERSION`].

use crate::distance::Metric;
use crate::hnsw::{NodeId, MAX_LEVEL};

/// Identifies a vecstore HNSW metapage.
pub const META_MAGIC: u32 = 0x5653_484E; // "VSHN"
/// On-disk format version.
pub const FORMAT_VERSION: u32 = 1;
/// Page id stored in every page's special area.
pub const PAGE_ID: u16 = 0x5653;
/// Page kinds in [`PageOpaque::kind`].
pub const KIND_META: u16 = 1;
/// An element page.
pub const KIND_ELEMENT: u16 = 2;

/// Postgres page size this layout is computed for.
pub const BLOCK_SIZE: usize = 8192;
/// `MAXALIGN(SizeOfPageHeaderData)`.
pub const PAGE_HEADER: usize = 24;
/// Line pointer size.
pub const ITEM_ID: usize = 4;
/// Bytes available for items (with their line pointers) on an empty page.
pub const PAGE_FREE: usize = BLOCK_SIZE - PAGE_HEADER - std::mem::size_of::<PageOpaque>();
/// Most dimensions an indexed vector may have (an element must fit a page).
pub const MAX_DIMS: usize = 2000;

/// Element states.
pub const LIVE: u8 = 0;
/// Heap row gone; still linked, skipped in results, being unlinked.
pub const DELETED: u8 = 1;
/// Unlinked by VACUUM; its slot may be overwritten by a new element.
pub const REUSABLE: u8 = 2;

/// `MAXALIGN` (8 on every platform Postgres 15 supports here).
pub const fn maxalign(n: usize) -> usize {
    (n + 7) & !7
}

/// Special area at the end of every page.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PageOpaque {
    /// Always [`PAGE_ID`].
    pub page_id: u16,
    /// [`KIND_META`] or [`KIND_ELEMENT`].
    pub kind: u16,
    /// Reserved, zero.
    pub reserved: u32,
}

/// A heap or index item pointer as Postgres lays it out (6 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct DiskTid {
    /// Block number, high 16 bits.
    pub hi: u16,
    /// Block number, low 16 bits.
    pub lo: u16,
    /// Line pointer number (1-based); 0 means "none".
    pub offset: u16,
}

impl DiskTid {
    /// The invalid pointer (empty slot).
    pub const NONE: DiskTid = DiskTid { hi: 0xffff, lo: 0xffff, offset: 0 };

    /// Pointer to `offset` on `block`.
    pub fn new(block: u32, offset: u16) -> Self {
        DiskTid { hi: (block >> 16) as u16, lo: block as u16, offset }
    }
    /// Block number.
    pub fn block(self) -> u32 {
        ((self.hi as u32) << 16) | self.lo as u32
    }
    /// True unless this is an empty slot.
    pub fn is_valid(self) -> bool {
        self.offset != 0
    }
    /// As a graph node id.
    pub fn node(self) -> NodeId {
        ((self.block() as u64) << 16) | self.offset as u64
    }
    /// From a graph node id.
    pub fn from_node(id: NodeId) -> Self {
        DiskTid::new((id >> 16) as u32, id as u16)
    }
}

/// The metapage contents (block 0).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MetaPage {
    /// [`META_MAGIC`].
    pub magic: u32,
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// Vector dimensions.
    pub dims: u32,
    /// `m` option.
    pub m: u16,
    /// `ef_construction` option.
    pub ef_construction: u16,
    /// [`metric_code`] of the opclass.
    pub metric: u8,
    /// Level of the entry element, valid when `entry` is.
    pub entry_level: u8,
    /// Reserved, zero.
    pub reserved: u16,
    /// Entry element (`DiskTid::NONE` for an empty index).
    pub entry: DiskTid,
    /// Reserved, zero.
    pub reserved2: u16,
    /// First block that may have room or a reusable slot.
    pub insert_block: u32,
}

/// Element tuple header; `dims` float4 follow.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ElementHeader {
    /// [`LIVE`], [`DELETED`] or [`REUSABLE`].
    pub state: u8,
    /// Top layer of this element.
    pub level: u8,
    /// Reserved, zero.
    pub reserved: u16,
    /// The heap row.
    pub heap_tid: DiskTid,
    /// The neighbour tuple.
    pub neighbors: DiskTid,
}

/// Neighbour tuple header; item-pointer slots follow.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NeighborHeader {
    /// Layers this tuple has room for, minus one.
    pub capacity_level: u8,
    /// Reserved, zero.
    pub reserved: [u8; 3],
}

/// Metric codes stored in the metapage.
pub fn metric_code(m: Metric) -> u8 {
    match m {
        Metric::L2 => 1,
        Metric::InnerProduct => 2,
        Metric::Cosine => 3,
        Metric::L1 => 4,
    }
}

/// Inverse of [`metric_code`].
pub fn metric_from_code(c: u8) -> Option<Metric> {
    Some(match c {
        1 => Metric::L2,
        2 => Metric::InnerProduct,
        3 => Metric::Cosine,
        4 => Metric::L1,
        _ => return None,
    })
}

/// Size of an element tuple.
pub const fn element_size(dims: usize) -> usize {
    std::mem::size_of::<ElementHeader>() + 4 * dims
}

/// Neighbour slots for an element of `level`.
pub const fn slot_count(m: usize, level: usize) -> usize {
    2 * m + level * m
}

/// Size of a neighbour tuple for an element of `level`.
pub const fn neighbor_size(m: usize, level: usize) -> usize {
    std::mem::size_of::<NeighborHeader>() + 6 * slot_count(m, level)
}

/// Page space an item of `size` bytes takes (aligned data + line pointer).
pub const fn item_space(size: usize) -> usize {
    maxalign(size) + ITEM_ID
}

/// Highest level whose neighbour tuple still fits a page for this `m`.
pub fn max_level(m: usize) -> usize {
    let mut level = MAX_LEVEL;
    while level > 0 && item_space(neighbor_size(m, level)) > PAGE_FREE {
        level -= 1;
    }
    level
}

/// Index of the first slot of `layer` within a neighbour tuple.
pub fn layer_start(m: usize, layer: usize) -> usize {
    if layer == 0 {
        0
    } else {
        2 * m + (layer - 1) * m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_sizes_are_the_documented_ones() {
        assert_eq!(std::mem::size_of::<PageOpaque>(), 8);
        assert_eq!(std::mem::size_of::<DiskTid>(), 6);
        assert_eq!(std::mem::size_of::<MetaPage>(), 32);
        assert_eq!(std::mem::size_of::<ElementHeader>(), 16);
        assert_eq!(std::mem::size_of::<NeighborHeader>(), 4);
        assert_eq!(PAGE_FREE, 8160);
    }

    #[test]
    fn largest_element_fits_a_page() {
        assert!(item_space(element_size(MAX_DIMS)) <= PAGE_FREE);
        for m in 2..=100 {
            let l = max_level(m);
            assert!(item_space(neighbor_size(m, l)) <= PAGE_FREE);
            assert!(l >= 10, "m={m} allows only level {l}");
        }
    }

    #[test]
    fn tids_round_trip_through_node_ids() {
        for (b, o) in [(0u32, 1u16), (1, 7), (70000, 291), (u32::MAX - 1, 2)] {
            let t = DiskTid::new(b, o);
            assert_eq!(DiskTid::from_node(t.node()), t);
            assert_eq!(t.block(), b);
        }
        assert!(!DiskTid::NONE.is_valid());
    }
}
