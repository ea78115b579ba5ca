//! Byte layout of index pages and tuples (format version 2). Pure: no
//! Postgres calls; sizes are checked at compile time. Changing anything
//! here means bumping [`FORMAT_VERSION`], or, for a change to how one kind
//! of value is stored, a new [`ValueKind`] (the old one then no longer
//! read: sparse values at their own size are kind 6, kind 5 was padded).
//!
//! Every tuple starts with a kind byte ([`TupleKind`]), and every view
//! checks kind and exact size before trusting a tuple: tuples are never
//! told apart by length alone.

use crate::distance::Metric;
use crate::hnsw::{NodeId, MAX_LEVEL};

/// Identifies a vecstore HNSW metapage.
pub const META_MAGIC: u32 = 0x5653_484E; // "VSHN"
/// On-disk format version (1: vecstore 0.1, tuples told apart by size).
pub const FORMAT_VERSION: u32 = 2;
/// Page id stored in every page's special area.
pub const PAGE_ID: u16 = 0x5653;

/// Kinds of page, in [`PageOpaque::kind`].
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    /// Block 0.
    Meta = 1,
    /// Element, neighbour and chunk tuples.
    Graph = 2,
}

/// Kinds of tuple: the first byte of every item.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TupleKind {
    /// [`ElementHeader`] + the inline part of the value.
    Element = 0xE1,
    /// [`NeighborHeader`] + neighbour slots.
    Neighbors = 0xB2,
    /// [`ChunkHeader`] + the next part of a value too big for one tuple.
    Chunk = 0xC3,
}

/// Element states.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElementState {
    /// Has heap rows; linked.
    Live = 1,
    /// Heap rows gone; still linked and traversed while VACUUM repairs.
    Deleted = 2,
    /// Unlinked by VACUUM; the slot may be overwritten by a new element.
    Reusable = 3,
}

impl ElementState {
    /// The state a byte encodes, if any.
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => ElementState::Live,
            2 => ElementState::Deleted,
            3 => ElementState::Reusable,
            _ => return None,
        })
    }
}

/// How an element's value is stored.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// `dims` float4 (for cosine: normalised).
    F32 = 1,
    /// 8-bit scalar codes with a 16-byte header (`vecstore_quantize = sq8`).
    Sq8 = 2,
    /// `dims` IEEE half-precision values (halfvec opclasses; for cosine:
    /// normalised), native byte order.
    F16 = 3,
    /// A bit string of `dims` bits, packed as PostgreSQL's `bit(n)`
    /// (bit opclasses).
    Bit = 4,
    /// A sparse vector stored at the size of its own non-zeros (the layout
    /// of `vecstore_core::distance::sparse::encode`, unpadded: u32 nnz,
    /// i32 dim, nnz indices, nnz values); the metapage's `dims` holds the
    /// index's room for non-zeros, the upper bound (the column's dimensions
    /// come from its typmod). Element tuples of this kind vary in size
    /// (see [`Shape::variable`]). Kind 5, values padded to the room, was
    /// vecstore 0.2's first sparse layout and is no longer read (REINDEX).
    Sparse = 6,
}

impl ValueKind {
    /// The kind a byte encodes, if any.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(ValueKind::F32),
            2 => Some(ValueKind::Sq8),
            3 => Some(ValueKind::F16),
            4 => Some(ValueKind::Bit),
            6 => Some(ValueKind::Sparse),
            _ => None,
        }
    }
    /// Most dimensions an index of this kind holds (values span chunks,
    /// so the limit is the type's, not the page's).
    pub fn max_dims(self) -> usize {
        match self {
            ValueKind::F32 | ValueKind::Sq8 | ValueKind::F16 => MAX_DIMS,
            ValueKind::Bit => MAX_BIT_DIMS,
            ValueKind::Sparse => MAX_SPARSE_NNZ,
        }
    }
    /// Whether `metric` is one this kind is compared with (bits: Hamming
    /// and Jaccard only; the rest: the float metrics).
    pub fn pairs_with(self, metric: Metric) -> bool {
        let bit_metric = matches!(metric, Metric::Hamming | Metric::Jaccard);
        bit_metric == (self == ValueKind::Bit)
    }
    /// Whether values of this kind vary in size (`value_bytes` is then the
    /// most a value takes).
    pub fn is_variable(self) -> bool {
        self == ValueKind::Sparse
    }
    /// Bytes of a value of `dims` dimensions (sparse: the most a value with
    /// room for `dims` non-zeros takes).
    pub fn value_bytes(self, dims: usize) -> usize {
        match self {
            ValueKind::F32 => 4 * dims,
            ValueKind::Sq8 => crate::quant::HEADER + dims,
            ValueKind::F16 => 2 * dims,
            ValueKind::Bit => dims.div_ceil(8),
            ValueKind::Sparse => crate::distance::sparse::encoded_bytes(dims),
        }
    }
}

/// Postgres page size this layout is computed for.
pub const BLOCK_SIZE: usize = 8192;
/// `MAXALIGN(SizeOfPageHeaderData)`.
pub const PAGE_HEADER: usize = 24;
/// Line pointer size.
pub const ITEM_ID: usize = 4;
/// Bytes available for items (with their line pointers) on an empty page.
pub const PAGE_FREE: usize = BLOCK_SIZE - PAGE_HEADER - std::mem::size_of::<PageOpaque>();
/// Most heap rows one element stands for (identical vectors share one).
pub const MAX_HEAP_TIDS: usize = 10;
/// Most dimensions an indexed vector or halfvec may have.
pub const MAX_DIMS: usize = 16_000;
/// Most bits an indexed bit string may have (pgvector's limit).
pub const MAX_BIT_DIMS: usize = 64_000;
/// Most non-zeros an indexed sparsevec may have (the type's own limit;
/// values span chunks). The default is pgvector's 1,000.
pub const MAX_SPARSE_NNZ: usize = 16_000;

/// `MAXALIGN` (8 on every platform Postgres 15 supports here).
pub const fn maxalign(n: usize) -> usize {
    (n + 7) & !7
}

/// Page space an item of `size` bytes takes (aligned data + line pointer).
pub const fn item_space(size: usize) -> usize {
    maxalign(size) + ITEM_ID
}

/// Special area at the end of every page.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PageOpaque {
    /// Always [`PAGE_ID`].
    pub page_id: u16,
    /// A [`PageKind`].
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
    /// A [`ValueKind`].
    pub value_kind: u8,
    /// Level of the entry element, valid when `entry` is.
    pub entry_level: u8,
    /// Reserved, zero.
    pub reserved: u8,
    /// Entry element (`DiskTid::NONE` for an empty index).
    pub entry: DiskTid,
    /// Reserved, zero.
    pub reserved2: u16,
    /// First block that may have room or a reusable slot.
    pub insert_block: u32,
    /// Bytes of the value kept in the element tuple itself.
    pub inline_bytes: u32,
}

/// Element tuple header; the inline part of the value follows.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ElementHeader {
    /// [`TupleKind::Element`].
    pub kind: u8,
    /// An [`ElementState`].
    pub state: u8,
    /// Top layer of this element.
    pub level: u8,
    /// Valid entries of `heap` (1..=10 while live).
    pub ntids: u8,
    /// Bytes of the whole value (inline part and chunks).
    pub value_bytes: u32,
    /// The neighbour tuple.
    pub neighbors: DiskTid,
    /// First chunk of the rest of the value (`NONE` when all inline).
    pub next: DiskTid,
    /// The heap rows this element stands for.
    pub heap: [DiskTid; MAX_HEAP_TIDS],
}

/// Neighbour tuple header; `2m + level*m` item-pointer slots follow,
/// layer 0 first, empty slots invalid.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NeighborHeader {
    /// [`TupleKind::Neighbors`].
    pub kind: u8,
    /// Layers this tuple has room for, minus one.
    pub capacity_level: u8,
    /// Reserved, zero.
    pub reserved: u16,
}

/// Chunk tuple header; `len` bytes of value follow.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ChunkHeader {
    /// [`TupleKind::Chunk`].
    pub kind: u8,
    /// Reserved, zero.
    pub reserved: u8,
    /// Next chunk (`NONE` for the last).
    pub next: DiskTid,
    /// Bytes of value in this chunk.
    pub len: u32,
}

const _: () = assert!(std::mem::size_of::<PageOpaque>() == 8);
const _: () = assert!(std::mem::size_of::<DiskTid>() == 6);
const _: () = assert!(std::mem::size_of::<MetaPage>() == 36);
const _: () = assert!(std::mem::size_of::<ElementHeader>() == 80);
const _: () = assert!(std::mem::size_of::<NeighborHeader>() == 4);
const _: () = assert!(std::mem::size_of::<ChunkHeader>() == 12);
const _: () = assert!(PAGE_FREE == 8160);

/// Bytes of an element tuple header.
pub const ELEMENT_HEADER: usize = std::mem::size_of::<ElementHeader>();
/// Bytes of a chunk tuple header.
pub const CHUNK_HEADER: usize = std::mem::size_of::<ChunkHeader>();
/// Most bytes of one item that fits an empty page (MAXALIGNed, with its
/// line pointer).
pub const MAX_ITEM: usize = (PAGE_FREE - ITEM_ID) & !7;
/// Most value bytes an element tuple holds inline (the tuple fills a page;
/// 8,072 bytes: 2,018 float4).
pub const MAX_INLINE: usize = MAX_ITEM - ELEMENT_HEADER;
/// Most value bytes one chunk tuple holds (a multiple of 4: chunks split
/// values between float4 elements).
pub const MAX_CHUNK: usize = MAX_ITEM - CHUNK_HEADER;
const _: () = assert!(MAX_INLINE % 4 == 0 && MAX_CHUNK % 4 == 0);

/// Metric codes stored in the metapage.
pub fn metric_code(m: Metric) -> u8 {
    match m {
        Metric::L2 => 1,
        Metric::InnerProduct => 2,
        Metric::Cosine => 3,
        Metric::L1 => 4,
        Metric::Hamming => 5,
        Metric::Jaccard => 6,
    }
}

/// Inverse of [`metric_code`].
pub fn metric_from_code(c: u8) -> Option<Metric> {
    Some(match c {
        1 => Metric::L2,
        2 => Metric::InnerProduct,
        3 => Metric::Cosine,
        4 => Metric::L1,
        5 => Metric::Hamming,
        6 => Metric::Jaccard,
        _ => return None,
    })
}

/// Neighbour slots for an element of `level`.
pub const fn slot_count(m: usize, level: usize) -> usize {
    2 * m + level * m
}

/// Size of a neighbour tuple for an element of `level`.
pub const fn neighbor_size(m: usize, level: usize) -> usize {
    std::mem::size_of::<NeighborHeader>() + 6 * slot_count(m, level)
}

/// Index of the first slot of `layer` within a neighbour tuple.
pub fn layer_start(m: usize, layer: usize) -> usize {
    if layer == 0 {
        0
    } else {
        2 * m + (layer - 1) * m
    }
}

/// Highest level whose neighbour tuple still fits a page for this `m`.
pub fn max_level(m: usize) -> usize {
    let mut level = MAX_LEVEL;
    while level > 0 && item_space(neighbor_size(m, level)) > PAGE_FREE {
        level -= 1;
    }
    level
}

/// The sizes of one index's tuples: fixed, or (for variable-size values)
/// their upper bounds, each element's own sizes following from the
/// `value_bytes` in its header (the `*_of` methods).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// `m`.
    pub m: usize,
    /// Bytes of a value (variable: the most a value takes).
    pub value_bytes: usize,
    /// Bytes of it stored in the element tuple (variable: the most).
    pub inline_bytes: usize,
    /// Whether values vary in size (sparse values at their own size).
    pub variable: bool,
}

impl Shape {
    /// The shape for values of `value_bytes` with neighbour lists for `m`.
    pub fn new(m: usize, value_bytes: usize) -> Self {
        Shape { m, value_bytes, inline_bytes: value_bytes.min(MAX_INLINE), variable: false }
    }

    /// The shape for values of at most `max_value_bytes`, each stored at
    /// its own size.
    pub fn variable(m: usize, max_value_bytes: usize) -> Self {
        Shape { variable: true, ..Shape::new(m, max_value_bytes) }
    }

    /// The shape of an index of `kind` whose metapage holds `dims`.
    pub fn for_kind(m: usize, kind: ValueKind, dims: usize) -> Self {
        match kind.is_variable() {
            true => Shape::variable(m, kind.value_bytes(dims)),
            false => Shape::new(m, kind.value_bytes(dims)),
        }
    }

    /// Bytes of the stored value that starts with `head` (the inline part
    /// or more): fixed shapes, `value_bytes`; sparse values, 8 bytes plus
    /// 8 per non-zero, the count read from the value's first word (0 when
    /// `head` is too short to hold it).
    pub fn stored_len(&self, head: &[u8]) -> usize {
        if !self.variable {
            return self.value_bytes;
        }
        match head.get(..4) {
            Some(w) => crate::distance::sparse::encoded_bytes(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]) as usize),
            None => 0,
        }
    }

    /// Whether a value of `value_bytes` is one this shape stores.
    pub fn holds(&self, value_bytes: usize) -> bool {
        match self.variable {
            true => (8..=self.value_bytes).contains(&value_bytes) && value_bytes.is_multiple_of(8),
            false => value_bytes == self.value_bytes,
        }
    }

    /// Bytes of a value of `value_bytes` kept in its element tuple.
    pub fn inline_of(&self, value_bytes: usize) -> usize {
        match self.variable {
            true => value_bytes.min(MAX_INLINE),
            false => self.inline_bytes,
        }
    }

    /// Size of the element tuple of a value of `value_bytes`.
    pub fn element_size_of(&self, value_bytes: usize) -> usize {
        ELEMENT_HEADER + self.inline_of(value_bytes)
    }

    /// Sizes of the chunk tuples of a value of `value_bytes`, in chain order.
    pub fn chunk_sizes_of(&self, value_bytes: usize) -> Vec<usize> {
        let mut rest = value_bytes - self.inline_of(value_bytes).min(value_bytes);
        let mut out = Vec::new();
        while rest > 0 {
            let n = rest.min(MAX_CHUNK);
            out.push(CHUNK_HEADER + n);
            rest -= n;
        }
        out
    }

    /// Number of chunk tuples of a value of `value_bytes`.
    pub fn chunks_of(&self, value_bytes: usize) -> usize {
        (value_bytes - self.inline_of(value_bytes).min(value_bytes)).div_ceil(MAX_CHUNK)
    }

    /// Page space an element of a value of `value_bytes` and its neighbour
    /// tuple take on one page.
    pub fn pair_space_of(&self, value_bytes: usize, level: usize) -> usize {
        item_space(self.element_size_of(value_bytes)) + item_space(neighbor_size(self.m, level))
    }

    /// Size of every element tuple of this index (variable: the most).
    pub fn element_size(&self) -> usize {
        ELEMENT_HEADER + self.inline_bytes
    }

    /// Number of chunk tuples each value needs (variable: the biggest).
    pub fn chunks(&self) -> usize {
        self.chunks_of(self.value_bytes)
    }

    /// Sizes of an element's chunk tuples, in chain order (variable: the
    /// biggest value's).
    pub fn chunk_sizes(&self) -> Vec<usize> {
        self.chunk_sizes_of(self.value_bytes)
    }

    /// Page space an element and its neighbour tuple take on one page
    /// (variable: the biggest value's).
    pub fn pair_space(&self, level: usize) -> usize {
        self.pair_space_of(self.value_bytes, level)
    }
}

/// The stored form of a value in the space's form (`Space::encode_of`):
/// the same bytes, except that a sparse value padded to the room for
/// non-zeros is stored unpadded (its own non-zeros only). A malformed
/// sparse value is returned as it is (the element view then refuses it).
pub fn stored_value(kind: ValueKind, value: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    use std::borrow::Cow;
    if !kind.is_variable() || value.len() < 8 || !value.len().is_multiple_of(8) {
        return Cow::Borrowed(value);
    }
    let nnz = u32::from_ne_bytes([value[0], value[1], value[2], value[3]]) as usize;
    let room = (value.len() - 8) / 8;
    if nnz >= room || nnz > MAX_SPARSE_NNZ {
        return Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(8 + 8 * nnz);
    out.extend_from_slice(&value[..8 + 4 * nnz]);
    out.extend_from_slice(&value[8 + 4 * room..8 + 4 * room + 4 * nnz]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests;
