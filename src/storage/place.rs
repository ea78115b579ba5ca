//! Where a new element goes on disk: into a slot VACUUM freed (whose
//! neighbour tuple has room for the element's level), else on the first
//! page from the metapage's insert hint with room for the element and its
//! neighbour tuple together, else on a new page. An element too big to
//! share its page with its neighbour tuple gets them on separate pages;
//! values too big for one tuple go in a chain of chunks written before the
//! element (a crash in between leaves only unreferenced chunks). Also the
//! merge of an exact duplicate into an existing element's heap rows.
//!
//! Locks: two pages at most, exclusive, taken in block order (a page just
//! added by relation extension is the exception: nobody else can reach it
//! yet, so it is locked after lower pages without risk).

use super::buffer::{nblocks, Lock, PageGuard, WalGuard};
use super::layout::*;
use super::meta::{update_meta, Meta, REUSE_LOCK};
use super::pages;
use crate::hnsw::NodeId;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// A new element to write.
pub struct NewElement<'a> {
    /// Its first heap row.
    pub heap: DiskTid,
    /// Its value's bytes.
    pub value: &'a [u8],
    /// Its level.
    pub level: usize,
    /// Its neighbour lists, layer 0 first.
    pub lists: &'a [Vec<DiskTid>],
}

fn extend(index: pg_sys::Relation) -> PageGuard {
    PageGuard::extend(index, pg_sys::ForkNumber::MAIN_FORKNUM)
}

/// Writes `e` (its value in the space's form; stored as
/// [`stored_value`] makes it) and returns its id. Scans from the insert
/// hint for a reusable slot or room for the element with its neighbour
/// tuple; a level-0 element (the smallest) that passes over a page proves
/// the page useless for every later insert, so only those move the hint.
/// With values of varying size the proof is for elements of this size: the
/// hint passes a page only when its free space is also below
/// [`HINT_SLACK`], so what later smaller values could have used of it is
/// bounded, and a big value never makes the hint skip roomy pages, nor
/// pages keeping a reusable slot that could hold more than that slack.
pub fn place(index: pg_sys::Relation, meta: &Meta, e: &NewElement) -> NodeId {
    let stored = stored_value(meta.value_kind, e.value);
    let e = &NewElement { value: &stored, ..*e };
    let shape = meta.shape;
    let vb = e.value.len();
    let chunked = shape.chunks_of(vb) > 0;
    let reuse_lock = chunked.then(|| ReuseLock::take(index));
    let pair = shape.pair_space_of(vb, e.level);
    let useless = match shape.variable {
        true => shape.pair_space_of(vb, 0).min(HINT_SLACK),
        false => shape.pair_space(0),
    };
    let total = nblocks(index);
    // pages from the hint on that no later insert can use
    let mut hint = meta.insert_block.max(1);
    let mut placed = None;
    for block in meta.insert_block.max(1)..total {
        let (candidates, reusable, free) = {
            let g = PageGuard::lock(index, block, Lock::Share);
            if pages::page_kind(g.page()) != Some(PageKind::Graph) {
                continue;
            }
            let c: Vec<Slot> = (1..=pages::max_offset(g.page()))
                .filter_map(|off| {
                    let room = pages::item(g.page(), off)?.len();
                    let v = pages::element(g.page(), off, &shape)?;
                    let slot =
                        Slot { off, ntid: v.header.neighbors, next: v.header.next, value_bytes: v.header.value_bytes as usize, room };
                    (v.state() == ElementState::Reusable).then_some(slot)
                })
                .collect();
            let free = pages::free_space(g.page());
            // room a later value could get here: the biggest reusable slot
            // grown into the free space (fixed shapes: any slot at all)
            let reusable = match shape.variable {
                true => c.iter().map(|slot| maxalign(slot.room) + free).max().unwrap_or(0),
                false => c.len() * PAGE_FREE,
            };
            let c: Vec<Slot> = c.into_iter().filter(|slot| slot_fits(&shape, slot, vb, free)).collect();
            (c, reusable, free)
        };
        placed = candidates.iter().find_map(|&slot| try_reuse(index, meta, e, block, slot));
        if placed.is_none() && !chunked && pair <= PAGE_FREE && free >= pair {
            placed = try_add_pair(index, block, e, &shape);
        }
        if placed.is_some() {
            break;
        }
        // a page keeping a reusable slot too small for this value may still
        // take a smaller one: the hint passes it only when that slot, grown
        // into the free space, is as useless as the free space alone
        if e.level == 0 && candidates.is_empty() && free.max(reusable) < useless && hint == block {
            hint = block + 1;
        }
    }
    set_insert_block(index, meta, hint);
    if let Some(id) = placed {
        return id;
    }
    drop(reuse_lock);
    let next = write_chunks(index, meta, e.value);
    place_new(index, meta, e, next)
}

/// Free space below which a page is passed for good by level-0 inserts of
/// variable-size values it cannot hold (an eighth of a page).
const HINT_SLACK: usize = PAGE_FREE / 8;

/// Adds the element and its neighbour tuple to `block` if it has room.
fn try_add_pair(index: pg_sys::Relation, block: u32, e: &NewElement, shape: &Shape) -> Option<NodeId> {
    let g = PageGuard::lock(index, block, Lock::Exclusive);
    if pages::free_space(g.page()) < shape.pair_space_of(e.value.len(), e.level) {
        return None;
    }
    let nbytes = pages::neighbor_bytes(shape.m, e.level, e.lists);
    let mut wal = WalGuard::start(index);
    let page = wal.register(&g, false);
    let id = add_pair(page, block, e, &e.value[..shape.inline_of(e.value.len())], &nbytes, DiskTid::NONE);
    wal.finish();
    Some(id)
}

/// Serialises inserts that reuse chunked slots (their chunks are rewritten
/// before the element is claimed).
struct ReuseLock(pg_sys::Relation);

impl ReuseLock {
    fn take(index: pg_sys::Relation) -> Self {
        // SAFETY: a heavyweight page lock tag on an open relation; released
        // on drop or by the transaction's abort.
        unsafe { pg_sys::LockPage(index, REUSE_LOCK, pg_sys::ExclusiveLock as i32) };
        ReuseLock(index)
    }
}

impl Drop for ReuseLock {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            // SAFETY: releases the lock taken in `take`.
            unsafe { pg_sys::UnlockPage(self.0, REUSE_LOCK, pg_sys::ExclusiveLock as i32) };
        }
    }
}

/// Writes the value's chunks (last first, so each knows its successor);
/// returns the first chunk, or NONE when the value is all inline.
fn write_chunks(index: pg_sys::Relation, meta: &Meta, value: &[u8]) -> DiskTid {
    let mut next = DiskTid::NONE;
    let rest = &value[meta.shape.inline_of(value.len())..];
    let parts: Vec<&[u8]> = rest.chunks(MAX_CHUNK).collect();
    for part in parts.iter().rev() {
        let bytes = pages::chunk_bytes(next, part);
        next = add_anywhere(index, &bytes);
    }
    next
}

/// Adds one tuple on the last page if it has room, else on a new page.
fn add_anywhere(index: pg_sys::Relation, bytes: &[u8]) -> DiskTid {
    let last = nblocks(index) - 1;
    if last >= 1 {
        let g = PageGuard::lock(index, last, Lock::Exclusive);
        if pages::page_kind(g.page()) == Some(PageKind::Graph) && pages::free_space(g.page()) >= item_space(bytes.len()) {
            let mut wal = WalGuard::start(index);
            let page = wal.register(&g, false);
            if let Some(off) = pages::add_item(page, bytes) {
                wal.finish();
                return DiskTid::new(last, off);
            }
        }
    }
    let g = extend(index);
    let mut wal = WalGuard::start(index);
    let page = wal.register(&g, true);
    pages::init_page(page, PageKind::Graph);
    let off = pages::add_item(page, bytes).unwrap_or_else(|| error!("vecstore: a {}-byte tuple does not fit an empty page", bytes.len()));
    wal.finish();
    DiskTid::new(g.block(), off)
}

/// Writes an element and its neighbour tuple on a new page (or pages).
fn place_new(index: pg_sys::Relation, meta: &Meta, e: &NewElement, next: DiskTid) -> NodeId {
    let shape = meta.shape;
    let inline = &e.value[..shape.inline_of(e.value.len())];
    let nbytes = pages::neighbor_bytes(shape.m, e.level, e.lists);
    if shape.pair_space_of(e.value.len(), e.level) <= PAGE_FREE {
        let g = extend(index);
        let mut wal = WalGuard::start(index);
        let page = wal.register(&g, true);
        pages::init_page(page, PageKind::Graph);
        let id = add_pair(page, g.block(), e, inline, &nbytes, next);
        wal.finish();
        return id;
    }
    // the element fills a page: its neighbour tuple goes elsewhere first
    let ntid = add_anywhere(index, &nbytes);
    let g = extend(index);
    let mut wal = WalGuard::start(index);
    let page = wal.register(&g, true);
    pages::init_page(page, PageKind::Graph);
    let ebytes = pages::element_bytes(e.level, &[e.heap], ntid, next, e.value.len(), inline);
    let off = pages::add_item(page, &ebytes).unwrap_or_else(|| error!("vecstore: an element tuple does not fit an empty page"));
    wal.finish();
    DiskTid::new(g.block(), off).node()
}

fn add_pair(page: pg_sys::Page, block: u32, e: &NewElement, inline: &[u8], nbytes: &[u8], next: DiskTid) -> NodeId {
    let noff = pages::add_item(page, nbytes).unwrap_or_else(|| error!("vecstore: page {block} had no room for a neighbour tuple it was checked to hold"));
    let ebytes = pages::element_bytes(e.level, &[e.heap], DiskTid::new(block, noff), next, e.value.len(), inline);
    let eoff = pages::add_item(page, &ebytes).unwrap_or_else(|| error!("vecstore: page {block} had no room for an element it was checked to hold"));
    DiskTid::new(block, eoff).node()
}

/// Moves the metapage's insert hint forward to `block`.
fn set_insert_block(index: pg_sys::Relation, meta: &Meta, block: u32) {
    if block <= meta.insert_block {
        return;
    }
    update_meta(index, |m| m.insert_block = m.insert_block.max(block));
}

/// A reusable slot: its offset, neighbour tuple, first chunk, and the
/// bytes of the value it held and of its tuple.
#[derive(Clone, Copy)]
struct Slot {
    off: u16,
    ntid: DiskTid,
    next: DiskTid,
    value_bytes: usize,
    room: usize,
}

/// Whether a value of `vb` bytes may take over `slot` on a page with `free`
/// bytes free: fixed shapes, any slot; variable shapes, a slot without
/// chunks whose tuple, grown into the page's free space if need be, has
/// room for the value (which then needs no chunks), or a chunked slot of a value
/// with as many chunks (all but the last are full in both; the last is
/// resized in place if its page has room, and the chain keeps its links).
fn slot_fits(shape: &Shape, slot: &Slot, vb: usize, free: usize) -> bool {
    if !shape.variable {
        return true;
    }
    match slot.next.is_valid() {
        true => shape.chunks_of(vb) == shape.chunks_of(slot.value_bytes),
        false => shape.chunks_of(vb) == 0 && maxalign(shape.element_size_of(vb)) <= maxalign(slot.room) + free,
    }
}

/// Replaces tuple `off` of `page` with `bytes` of another length: a
/// shorter tuple gives the rest of its space back to the page, so slots
/// taken over by smaller values do not strand it; a longer one takes what
/// it lacks from the page's free space (other tuples' data moves; their
/// line pointers, hence every TID, stay). False if the page lacks room.
fn resize_item(page: pg_sys::Page, off: u16, bytes: &[u8]) -> bool {
    // SAFETY: the caller holds the page exclusively locked and registered
    // for WAL, keeps no reference into its tuples across this call, and
    // `bytes` is a live slice of `bytes.len()` bytes that PostgreSQL copies.
    unsafe { pg_sys::PageIndexTupleOverwrite(page, off, bytes.as_ptr() as pg_sys::Item, bytes.len()) }
}

fn try_reuse(index: pg_sys::Relation, meta: &Meta, e: &NewElement, block: u32, slot: Slot) -> Option<NodeId> {
    let shape = meta.shape;
    let Slot { off, ntid, next, .. } = slot;
    let vb = e.value.len();
    // the slot's kind again (a chunked value never takes a slot without a
    // chain); the room to grow is checked under the exclusive lock below
    if !slot_fits(&shape, &slot, vb, usize::MAX / 2) || !ntid.is_valid() || ntid.block() == 0 || ntid.block() >= nblocks(index) {
        return None;
    }
    let inline = shape.inline_of(vb);
    // chunks first (the reuse lock keeps other inserts off this slot; the
    // element stays reusable, so nobody reads them meanwhile)
    if next.is_valid() && !rewrite_chunks(index, meta, next, vb, &e.value[inline..]) {
        return None;
    }
    let (first, second) = if ntid.block() < block { (ntid.block(), block) } else { (block, ntid.block()) };
    let g1 = PageGuard::lock(index, first, Lock::Exclusive);
    let g2 = (second != first).then(|| PageGuard::lock(index, second, Lock::Exclusive));
    let mut wal = WalGuard::start(index);
    let p1 = wal.register(&g1, false);
    let p2 = g2.as_ref().map(|g| wal.register(g, false)).unwrap_or(p1);
    let (epage, npage) = if block == first { (p1, p2) } else { (p2, p1) };
    let v = pages::element(epage, off, &shape)?;
    if v.state() != ElementState::Reusable || v.header.neighbors != ntid || v.header.next != next {
        return None;
    }
    let mut n = pages::neighbors(npage, ntid.offset, shape.m)?;
    if (n.header.capacity_level as usize) < e.level {
        return None;
    }
    let new = pages::element_bytes(e.level, &[e.heap], ntid, next, vb, &e.value[..inline]);
    let room = pages::element_room(epage, off)?;
    let fits = match shape.variable {
        true => maxalign(new.len()) <= maxalign(room.len()) + pages::free_space(epage),
        false => new.len() == room.len(),
    };
    if !fits {
        return None;
    }
    n.fill(shape.m, e.lists);
    if new.len() == room.len() {
        room.copy_from_slice(&new);
    } else if !resize_item(epage, off, &new) {
        if new.len() > room.len() {
            return None; // nothing logged: the guard discards both pages' copies
        }
        // the whole tuple, the room a smaller value leaves zeroed
        room[..new.len()].copy_from_slice(&new);
        room[new.len()..].fill(0);
    }
    wal.finish();
    Some(DiskTid::new(block, off).node())
}

/// Overwrites an existing chunk chain with `rest`, the chunked part of a
/// value of `value_bytes` (a chunk of another length is resized to its new
/// part); false if the chain is not the expected one or a page lacks room.
fn rewrite_chunks(index: pg_sys::Relation, meta: &Meta, mut next: DiskTid, value_bytes: usize, rest: &[u8]) -> bool {
    let sizes = meta.shape.chunk_sizes_of(value_bytes);
    let mut at = 0;
    for size in sizes {
        let n = size - CHUNK_HEADER;
        if !next.is_valid() || next.block() == 0 || next.block() >= nblocks(index) {
            return false;
        }
        let g = PageGuard::lock(index, next.block(), Lock::Exclusive);
        let mut wal = WalGuard::start(index);
        let page = wal.register(&g, false);
        let Some(c) = pages::chunk(page, next.offset) else { return false };
        let following = c.header.next;
        let part = &rest[at..at + n];
        if c.data.len() == n {
            c.data.copy_from_slice(part);
        } else if !resize_item(page, next.offset, &pages::chunk_bytes(following, part)) {
            return false;
        }
        wal.finish();
        at += n;
        next = following;
    }
    !next.is_valid()
}

/// Adds `heap` to element `id` if it is live, has room, and holds exactly
/// `value` (an identical vector): the new row then shares the element.
pub fn add_duplicate(index: pg_sys::Relation, meta: &Meta, id: NodeId, heap: DiskTid, value: &[u8]) -> bool {
    let shape = meta.shape;
    let value = stored_value(meta.value_kind, value);
    let tid = DiskTid::from_node(id);
    if shape.chunks_of(value.len()) > 0 || !tid.is_valid() || tid.block() == 0 || tid.block() >= nblocks(index) {
        return false;
    }
    let g = PageGuard::lock(index, tid.block(), Lock::Exclusive);
    let mut wal = WalGuard::start(index);
    let page = wal.register(&g, false);
    let Some(v) = pages::element(page, tid.offset, &shape) else { return false };
    let n = v.header.ntids as usize;
    if v.state() != ElementState::Live || n >= MAX_HEAP_TIDS || n == 0 || v.inline[..] != value[..] {
        return false;
    }
    v.header.heap[n] = heap;
    v.header.ntids += 1;
    wal.finish();
    true
}
