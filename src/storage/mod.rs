//! The HNSW index on Postgres pages.
//!
//! # Layout (format version 1)
//! - Block 0, the metapage: [`layout::MetaPage`] right after the page
//!   header (magic, version, dimensions, m, ef_construction, metric, entry
//!   point, insert hint).
//! - Blocks 1..: element pages. Each element is two line items: an element
//!   tuple ([`layout::ElementHeader`]: level, state, heap TID, TID of its
//!   neighbour tuple, then `dims` float4) and a neighbour tuple
//!   ([`layout::NeighborHeader`], then `2m + level*m` item-pointer slots:
//!   layer 0 first, empty slots invalid). Both usually share a page.
//! - Every page ends in [`layout::PageOpaque`] (page id `0x5653`, kind).
//!
//! # Locking
//! - Buffer content locks are taken one at a time and never held while
//!   another is requested, except an insert that writes a new element and
//!   its neighbour tuple on two pages (both exclusive, in block order).
//! - A heavyweight page lock on the metapage's block number serves as the
//!   "update lock": inserts hold it in share mode for their whole run; the
//!   repair phase of VACUUM holds it exclusive, so no insert links to an
//!   element while VACUUM unlinks and recycles it.
//! - Neighbour lists are updated optimistically: read the list, compute the
//!   new one without locks, then take the page exclusive and write only if
//!   the list is unchanged (else retry). No lost updates, no deadlocks.
//! - Relation extension goes through `LockRelationForExtension`.
//!
//! # WAL
//! - CREATE INDEX writes pages through the buffer manager and then WAL-logs
//!   them all with `log_newpage_range` (full page images).
//! - Every later change (insert, neighbour update, VACUUM, metapage) is one
//!   GenericXLog record per logical step, covering all pages it touches,
//!   through [`buffer::WalGuard`], which aborts the record if dropped
//!   unfinished (errors and panics included).

pub mod buffer;
pub mod graph;
pub mod layout;
pub mod pages;
