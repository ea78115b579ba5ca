//! Byte layout of ivfflat pages (format version 1). Pure: no Postgres
//! calls; sizes are checked at compile time. Every tuple starts with a kind
//! byte, every page carries [`IvfOpaque`] with its kind and the next page
//! of its chain.

use crate::storage::layout::{item_space, DiskTid, BLOCK_SIZE, PAGE_HEADER};

/// Identifies a vecstore ivfflat metapage ("VSIV").
pub const IVF_MAGIC: u32 = 0x5653_4956;
/// On-disk format version.
pub const IVF_VERSION: u32 = 1;
/// Page id in every ivfflat page's special area (hnsw pages use 0x5653).
pub const IVF_PAGE_ID: u16 = 0x5649;
/// No next page.
pub const NO_BLOCK: u32 = u32::MAX;

/// Kinds of page, in [`IvfOpaque::kind`].
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IvfPageKind {
    /// Block 0: [`IvfMeta`].
    Meta = 1,
    /// Blocks 1..: list tuples, in list order.
    List = 2,
    /// Entry tuples of one list, chained by [`IvfOpaque::next`].
    Entry = 3,
}

/// Kinds of tuple: the first byte of every item.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IvfTuple {
    /// [`ListHeader`] + the center's stored value.
    List = 0x4C,
    /// [`EntryHeader`] + the row's stored value.
    Entry = 0x45,
}

/// Special area at the end of every page (8 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct IvfOpaque {
    /// Next page of the chain (list pages, or one list's entry pages), or [`NO_BLOCK`].
    pub next: u32,
    /// Always [`IVF_PAGE_ID`].
    pub page_id: u16,
    /// An [`IvfPageKind`].
    pub kind: u16,
}

/// The metapage contents (24 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IvfMeta {
    /// [`IVF_MAGIC`].
    pub magic: u32,
    /// [`IVF_VERSION`].
    pub version: u32,
    /// Dimensions (bits for bit).
    pub dims: u32,
    /// Number of lists.
    pub lists: u32,
    /// Bytes of each stored value (centers and entries).
    pub value_bytes: u32,
    /// [`crate::storage::layout::metric_code`].
    pub metric: u8,
    /// [`crate::storage::layout::ValueKind`] as a byte.
    pub value_kind: u8,
    /// Zero.
    pub reserved: u16,
}

/// A list tuple's header (16 bytes); the center follows.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListHeader {
    /// [`IvfTuple::List`].
    pub kind: u8,
    /// Zero.
    pub reserved: [u8; 3],
    /// First entry page of the list.
    pub start: u32,
    /// Entry page where inserts start looking for room.
    pub insert: u32,
    /// Zero.
    pub reserved2: u32,
}

/// An entry tuple's header (8 bytes); the value follows.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryHeader {
    /// [`IvfTuple::Entry`].
    pub kind: u8,
    /// Zero.
    pub reserved: u8,
    /// The heap row.
    pub tid: DiskTid,
}

/// Bytes for items (with line pointers) on an empty ivfflat page.
pub const IVF_PAGE_FREE: usize = BLOCK_SIZE - PAGE_HEADER - std::mem::size_of::<IvfOpaque>();
/// Size of a list header.
pub const LIST_HEADER: usize = std::mem::size_of::<ListHeader>();
/// Size of an entry header.
pub const ENTRY_HEADER: usize = std::mem::size_of::<EntryHeader>();
/// Largest stored value a page holds (2,000 float4, 4,000 halves and
/// 64,000 bits all take 8,000 bytes).
pub const MAX_VALUE_BYTES: usize = IVF_PAGE_FREE - 4 - LIST_HEADER - 8;

const _: () = assert!(std::mem::size_of::<IvfOpaque>() == 8);
const _: () = assert!(std::mem::size_of::<IvfMeta>() == 24);
const _: () = assert!(LIST_HEADER == 16);
const _: () = assert!(ENTRY_HEADER == 8);
const _: () = assert!(item_space(LIST_HEADER + 8000) <= IVF_PAGE_FREE);
const _: () = assert!(item_space(LIST_HEADER + MAX_VALUE_BYTES) <= IVF_PAGE_FREE);
