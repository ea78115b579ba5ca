//! The HNSW index on Postgres pages.
//!
//! # Layout (format version 2, see [`layout`])
//! - Block 0, the metapage: [`layout::MetaPage`] (magic, version,
//!   dimensions, m, ef_construction, metric, value kind, entry point,
//!   insert hint).
//! - Blocks 1..: graph pages holding three kinds of tuple, each starting
//!   with its kind byte: element tuples ([`layout::ElementHeader`]: state,
//!   level, up to 10 heap TIDs, the TID of its neighbour tuple and of its
//!   first value chunk, then the value inline), neighbour tuples
//!   ([`layout::NeighborHeader`], then `2m + level*m` slots, layer 0
//!   first) and value chunks ([`layout::ChunkHeader`]) for values too big
//!   for one tuple (vectors above 2,018 dimensions). An element and its
//!   neighbour tuple share a page when they fit; they need not.
//! - Every page ends in [`layout::PageOpaque`] (page id `0x5653`, kind).
//!
//! # Locking
//! - Buffer content locks: readers hold one at a time; a writer holds at
//!   most two, exclusive, in block order (a page just added by relation
//!   extension, which no one else can reach yet, may come second).
//! - Heavyweight page locks on pseudo block numbers ([`meta::UPDATE_LOCK`]):
//!   inserts hold the update lock shared, exclusive when the index is empty
//!   or the new element's level is above the entry point's; VACUUM takes it
//!   exclusive only as a barrier (waiting for inserts that may have seen an
//!   element before it was marked deleted) and to move the entry point.
//!   [`meta::REUSE_LOCK`] serialises reuse of slots whose values span
//!   chunks.
//! - Neighbour lists are updated by compare-and-set: read the list, compute
//!   the new one without locks, then take the page exclusive and write only
//!   if the list is unchanged (else retry). No lost updates, no deadlocks.
//!
//! # WAL
//! - CREATE INDEX writes pages through the buffer manager and then WAL-logs
//!   them all with `log_newpage_range` (full page images), only when the
//!   index needs WAL (`RelationNeedsWAL`: not for unlogged indexes, nor
//!   under wal_level = minimal for a relfilenode created in the same
//!   transaction, which is synced at commit instead). A build that
//!   outgrows maintenance_work_mem logs its pages before inserting the
//!   rest, so later records never refer to unlogged pages.
//! - Every later change is one GenericXLog record per logical step,
//!   covering the pages it touches, through [`buffer::WalGuard`], which
//!   aborts the record if dropped unfinished (errors and panics included).

pub mod buffer;
pub mod graph;
pub mod insert;
pub mod layout;
pub mod meta;
pub mod pages;
pub mod place;
pub mod ivf;
