//! The ivfflat index on Postgres pages.
//!
//! # Layout (format version 1, see [`layout`])
//! - Block 0, the metapage: [`layout::IvfMeta`] (magic, version, dims,
//!   lists, value size, metric, value kind).
//! - Blocks 1..: list pages, chained, holding one list tuple per list in
//!   list order (center, first entry page, insert page).
//! - Then entry pages: each list is a chain of pages of entry tuples (heap
//!   TID + stored value). CREATE INDEX gives every list at least one page.
//! - Every page ends in [`layout::IvfOpaque`] (next page, page id, kind).
//!
//! # Locking
//! Readers hold one buffer lock at a time and copy what they need. An
//! insert locks its list's insert page exclusive; when the page is full
//! and has a successor it moves on, else it extends the relation and links
//! the new page while still holding the old one (the new page is reachable
//! by no one before that), then updates the list tuple's insert page on its
//! own. VACUUM locks one entry page at a time exclusive; the list page last.
//!
//! # WAL
//! CREATE INDEX writes pages through the buffer manager and logs them all
//! with `log_newpage_range` when the index needs WAL; the init fork of an
//! unlogged index logs each page. Every later change is one GenericXLog
//! record through [`WalGuard`] (aborted if dropped unfinished).

pub mod layout;
pub mod pages;

use crate::distance::Metric;
use crate::space::{Bytes, Space};
use crate::storage::buffer::{nblocks, needs_wal, Lock, PageGuard, WalGuard};
use crate::storage::layout::{item_space, metric_from_code, DiskTid, ValueKind};
use crate::storage::pages::{add_item, free_space, max_offset};
use layout::*;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// The metapage, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IvfInfo {
    /// Dimensions.
    pub dims: usize,
    /// Number of lists.
    pub lists: usize,
    /// The opclass's metric.
    pub metric: Metric,
    /// How values are stored.
    pub value_kind: ValueKind,
}

impl IvfInfo {
    /// Bytes of a stored value.
    pub fn value_bytes(&self) -> usize {
        self.value_kind.value_bytes(self.dims)
    }

    /// The element type with its metric.
    pub fn space(&self) -> Space {
        let (metric, dims) = (self.metric, self.dims);
        match self.value_kind {
            ValueKind::F16 => Space::F16 { metric, dims },
            ValueKind::Bit => Space::Bit { metric, dims },
            _ => Space::F32 { metric, dims },
        }
    }

    fn to_page(self) -> IvfMeta {
        IvfMeta {
            magic: IVF_MAGIC,
            version: IVF_VERSION,
            dims: self.dims as u32,
            lists: self.lists as u32,
            value_bytes: self.value_bytes() as u32,
            metric: crate::storage::layout::metric_code(self.metric),
            value_kind: self.value_kind as u8,
            reserved: 0,
        }
    }
}

/// Reads the metapage (an ERROR if block 0 is not an ivfflat metapage of
/// this format).
pub fn read_info(index: pg_sys::Relation) -> IvfInfo {
    let g = PageGuard::lock(index, 0, Lock::Share);
    let decoded = pages::meta(g.page()).and_then(|m| {
        let info = IvfInfo {
            dims: m.dims as usize,
            lists: m.lists as usize,
            metric: metric_from_code(m.metric)?,
            value_kind: ValueKind::from_byte(m.value_kind)?,
        };
        (info.value_bytes() == m.value_bytes as usize).then_some(info)
    });
    match decoded {
        Some(info) => info,
        None => error!("ivfflat index \"{}\" has no valid metapage", index_name(index)),
    }
}

/// Counts the pages a walk along one chain visits: a walk that has seen
/// more pages than the relation has loops (a corrupted next link), which is
/// an ERROR rather than an endless walk. The relation's size is read only
/// when the count passes the size read last (pages are never removed, so a
/// chain that grows during the walk is not mistaken for a loop).
struct Hops {
    index: pg_sys::Relation,
    visited: u32,
    limit: u32,
}

impl Hops {
    fn new(index: pg_sys::Relation) -> Self {
        Hops { index, visited: 0, limit: 64 }
    }

    /// Called before visiting `block`.
    fn step(&mut self, block: u32) {
        self.visited += 1;
        if self.visited <= self.limit {
            return;
        }
        self.limit = nblocks(self.index);
        if self.visited > self.limit {
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
                format!("ivfflat index \"{}\": the page chain through block {block} loops", index_name(self.index)),
                "REINDEX the index."
            );
        }
    }
}

fn index_name(index: pg_sys::Relation) -> String {
    // SAFETY: rd_rel of an open relation holds its NUL-terminated name.
    unsafe { std::ffi::CStr::from_ptr((*(*index).rd_rel).relname.data.as_ptr()) }.to_string_lossy().into_owned()
}

/// One list as its list tuple says.
#[derive(Clone, Debug)]
pub struct ListInfo {
    /// Where the list tuple is.
    pub at: DiskTid,
    /// First entry page.
    pub start: u32,
    /// Entry page inserts start at.
    pub insert: u32,
    /// The center, stored form.
    pub center: Bytes,
}

/// Every list, in list order.
pub fn read_lists(index: pg_sys::Relation, info: &IvfInfo) -> Vec<ListInfo> {
    let mut out = Vec::with_capacity(info.lists);
    visit_lists(index, info, &mut |at, start, insert, center| {
        out.push(ListInfo { at, start, insert, center: Bytes::from_slice(center) })
    });
    out
}

/// Calls `f` with every list in list order: its tuple's place, its first
/// entry page, its insert page and its center as stored on the page (read
/// under the page's share lock, not copied), so a scan or an insert
/// measures the centers without copying them.
pub fn visit_lists(index: pg_sys::Relation, info: &IvfInfo, f: &mut dyn FnMut(DiskTid, u32, u32, &[u8])) {
    let vb = info.value_bytes();
    let mut found = 0usize;
    let mut block = 1;
    let mut hops = Hops::new(index);
    while block != NO_BLOCK && found < info.lists {
        hops.step(block);
        let g = PageGuard::lock(index, block, Lock::Share);
        if pages::kind(g.page()) != Some(IvfPageKind::List) {
            error!("ivfflat index \"{}\": block {block} is not a list page", index_name(index));
        }
        for off in 1..=max_offset(g.page()) {
            if let Some((h, center)) = pages::list(g.page(), off, vb) {
                found += 1;
                f(DiskTid::new(block, off), h.start, h.insert, center);
            }
        }
        block = pages::next(g.page());
    }
    if found != info.lists {
        error!("ivfflat index \"{}\": {} of {} lists found", index_name(index), found, info.lists);
    }
}

/// Adds an entry for heap row `tid` to `list` (one GenericXLog record, two
/// when a page is added: the link, then the list's new insert page).
pub fn append(index: pg_sys::Relation, list: &ListInfo, tid: DiskTid, value: &[u8]) {
    let bytes = pages::entry_bytes(tid, value);
    let need = item_space(bytes.len());
    let mut block = list.insert;
    let mut hops = Hops::new(index);
    loop {
        hops.step(block);
        let g = PageGuard::lock(index, block, Lock::Exclusive);
        if pages::kind(g.page()) != Some(IvfPageKind::Entry) {
            error!("ivfflat index \"{}\": block {block} is not an entry page", index_name(index));
        }
        if free_space(g.page()) >= need {
            let mut wal = WalGuard::start(index);
            let page = wal.register(&g, false);
            if add_item(page, &bytes).is_none() {
                error!("ivfflat insert: no room on block {block}");
            }
            wal.finish();
            return;
        }
        let next = pages::next(g.page());
        if next != NO_BLOCK {
            block = next;
            continue;
        }
        let fresh = PageGuard::extend(index, pg_sys::ForkNumber::MAIN_FORKNUM);
        let new_block = fresh.block();
        let mut wal = WalGuard::start(index);
        let old = wal.register(&g, false);
        let new = wal.register(&fresh, true);
        pages::init(new, IvfPageKind::Entry);
        if add_item(new, &bytes).is_none() {
            error!("ivfflat insert: no room on a new page");
        }
        pages::set_next(old, new_block);
        wal.finish();
        drop(fresh);
        drop(g);
        set_insert_page(index, list, new_block, |_| true);
        return;
    }
}

/// Points `list`'s insert page at `block` when `replace(current)` agrees.
fn set_insert_page(index: pg_sys::Relation, list: &ListInfo, block: u32, replace: impl Fn(u32) -> bool) {
    let g = PageGuard::lock(index, list.at.block(), Lock::Exclusive);
    let vb = list.center.len();
    let current = pages::list(g.page(), list.at.offset, vb).map(|(h, _)| h.insert);
    if current.is_some_and(|c| c != block && replace(c)) {
        let mut wal = WalGuard::start(index);
        let page = wal.register(&g, false);
        if let Some((h, _)) = pages::list(page, list.at.offset, vb) {
            h.insert = block;
        }
        wal.finish();
    }
}

/// Calls `f` for every entry of the list starting at `start` (one page
/// under a share lock at a time; `f` must not call Postgres).
pub fn for_each_entry(index: pg_sys::Relation, start: u32, value_bytes: usize, f: &mut dyn FnMut(DiskTid, &[u8])) {
    let mut block = start;
    let mut hops = Hops::new(index);
    while block != NO_BLOCK {
        hops.step(block);
        let g = PageGuard::lock(index, block, Lock::Share);
        if pages::kind(g.page()) != Some(IvfPageKind::Entry) {
            error!("ivfflat index \"{}\": block {block} is not an entry page", index_name(index));
        }
        for off in 1..=max_offset(g.page()) {
            if let Some((tid, v)) = pages::entry(g.page(), off, value_bytes) {
                f(tid, v);
            }
        }
        block = pages::next(g.page());
        drop(g);
        pgrx::check_for_interrupts!();
    }
}

/// Removes the entries of `list` whose heap row `dead` says is gone; the
/// list's insert page moves back to the first page with room. Returns
/// (removed, kept).
pub fn vacuum_list(
    index: pg_sys::Relation,
    list: &ListInfo,
    strategy: pg_sys::BufferAccessStrategy,
    dead: &mut dyn FnMut(DiskTid) -> bool,
    pause: &dyn Fn(),
) -> (usize, usize) {
    let vb = list.center.len();
    let (mut removed, mut kept) = (0, 0);
    let mut chain: Vec<u32> = Vec::new();
    let mut room: Option<u32> = None;
    let mut block = list.start;
    let mut hops = Hops::new(index);
    while block != NO_BLOCK {
        hops.step(block);
        pause();
        chain.push(block);
        let g = PageGuard::lock_with(index, block, Lock::Exclusive, strategy);
        if pages::kind(g.page()) != Some(IvfPageKind::Entry) {
            error!("ivfflat index \"{}\": block {block} is not an entry page", index_name(index));
        }
        let mut gone: Vec<u16> = Vec::new();
        for off in 1..=max_offset(g.page()) {
            if let Some((tid, _)) = pages::entry(g.page(), off, vb) {
                if dead(tid) {
                    gone.push(off);
                } else {
                    kept += 1;
                }
            }
        }
        if !gone.is_empty() {
            removed += gone.len();
            let mut wal = WalGuard::start(index);
            let page = wal.register(&g, false);
            // SAFETY: a formatted page (working copy) and ascending, valid
            // offsets of items on it.
            unsafe { pg_sys::PageIndexMultiDelete(page, gone.as_mut_ptr(), gone.len() as i32) };
            wal.finish();
        }
        if room.is_none() && free_space(g.page()) >= item_space(ENTRY_HEADER + vb) {
            room = Some(block);
        }
        block = pages::next(g.page());
    }
    if let Some(r) = room {
        let at = |b: u32| chain.iter().position(|&c| c == b);
        // only move it back along the chain: pages after the insert page
        // stay reachable from it
        set_insert_page(index, list, r, |current| at(current).is_none_or(|c| at(r).is_some_and(|p| p < c)));
    }
    (removed, kept)
}

/// Writes a new index: metapage and list pages first, then the entries
/// list by list (no WAL until [`Loader::finish`]).
pub struct Loader {
    index: pg_sys::Relation,
    info: IvfInfo,
    /// Where each list tuple is.
    at: Vec<DiskTid>,
    /// (first, last) entry page of each list written so far.
    pages: Vec<Option<(u32, u32)>>,
}

impl Loader {
    /// Writes the metapage and the list pages (CREATE INDEX; the relation
    /// is empty).
    pub fn create(index: pg_sys::Relation, info: IvfInfo, centers: &[Bytes]) -> Self {
        let mp = PageGuard::extend(index, pg_sys::ForkNumber::MAIN_FORKNUM);
        pages::write_meta(mp.page(), &info.to_page());
        mp.mark_dirty();
        drop(mp);
        let mut at = Vec::with_capacity(centers.len());
        let mut current: Option<PageGuard> = None;
        for c in centers {
            let bytes = pages::list_bytes(NO_BLOCK, NO_BLOCK, c);
            let off = current.as_ref().and_then(|g| add_item(g.page(), &bytes));
            let off = match off {
                Some(o) => o,
                None => {
                    let g = PageGuard::extend(index, pg_sys::ForkNumber::MAIN_FORKNUM);
                    pages::init(g.page(), IvfPageKind::List);
                    g.mark_dirty();
                    if let Some(prev) = current.take() {
                        pages::set_next(prev.page(), g.block());
                        prev.mark_dirty();
                    }
                    let o = add_item(g.page(), &bytes).unwrap_or_else(|| error!("ivfflat build: a list tuple does not fit a page"));
                    current = Some(g);
                    o
                }
            };
            let g = current.as_ref().expect("a list page is open");
            g.mark_dirty();
            at.push(DiskTid::new(g.block(), off));
        }
        drop(current);
        Loader { index, info, at, pages: vec![None; centers.len()] }
    }

    /// Appends entries (heap row, stored value) to `list`; checks for
    /// interrupts between pages.
    pub fn append(&mut self, list: usize, rows: &mut dyn Iterator<Item = (DiskTid, &[u8])>) {
        let mut guard: Option<PageGuard> = self.pages[list].map(|(_, last)| PageGuard::lock(self.index, last, Lock::Exclusive));
        for (tid, value) in rows {
            let bytes = pages::entry_bytes(tid, value);
            let fits = guard.as_ref().is_some_and(|g| free_space(g.page()) >= item_space(bytes.len()));
            if !fits {
                let g = PageGuard::extend(self.index, pg_sys::ForkNumber::MAIN_FORKNUM);
                pages::init(g.page(), IvfPageKind::Entry);
                g.mark_dirty();
                if let Some(prev) = guard.take() {
                    pages::set_next(prev.page(), g.block());
                    prev.mark_dirty();
                    drop(prev);
                    pgrx::check_for_interrupts!();
                }
                let first = self.pages[list].map_or(g.block(), |(f, _)| f);
                self.pages[list] = Some((first, g.block()));
                guard = Some(g);
            }
            let g = guard.as_ref().expect("an entry page is open");
            if add_item(g.page(), &bytes).is_none() {
                error!("ivfflat build: an entry does not fit an empty page");
            }
            g.mark_dirty();
        }
    }

    /// Gives lists without entries an empty page, fills in every list
    /// tuple's pages and WAL-logs the whole index if it needs WAL.
    pub fn finish(mut self) {
        for list in 0..self.pages.len() {
            if self.pages[list].is_none() {
                let g = PageGuard::extend(self.index, pg_sys::ForkNumber::MAIN_FORKNUM);
                pages::init(g.page(), IvfPageKind::Entry);
                g.mark_dirty();
                self.pages[list] = Some((g.block(), g.block()));
            }
        }
        let vb = self.info.value_bytes();
        let mut open: Option<PageGuard> = None;
        for (at, pages_of) in self.at.iter().zip(&self.pages) {
            if open.as_ref().is_none_or(|g| g.block() != at.block()) {
                open = Some(PageGuard::lock(self.index, at.block(), Lock::Exclusive));
            }
            let g = open.as_ref().expect("list page open");
            let (first, last) = pages_of.expect("every list has a page");
            match pages::list(g.page(), at.offset, vb) {
                Some((h, _)) => {
                    h.start = first;
                    h.insert = last;
                }
                None => error!("ivfflat build: list tuple missing at block {}", at.block()),
            }
            g.mark_dirty();
        }
        drop(open);
        if needs_wal(self.index) {
            // SAFETY: every page of the new index was written above through
            // the buffer manager; log them all as full images.
            unsafe { pg_sys::log_newpage_range(self.index, pg_sys::ForkNumber::MAIN_FORKNUM, 0, nblocks(self.index), true) };
        }
    }
}

/// The init fork of an unlogged index: metapage, list pages and one empty
/// entry page per list, each page WAL-logged (the init fork always is).
pub fn write_empty(index: pg_sys::Relation, info: IvfInfo, centers: &[Bytes]) {
    let fork = pg_sys::ForkNumber::INIT_FORKNUM;
    let per_page = (IVF_PAGE_FREE / item_space(LIST_HEADER + info.value_bytes())).max(1);
    let list_pages = centers.len().div_ceil(per_page) as u32;
    let log = |g: &PageGuard| {
        g.mark_dirty();
        // SAFETY: a locked, fully written page of the init fork.
        unsafe { pg_sys::log_newpage_buffer(g.buffer(), true) };
    };
    let mp = PageGuard::extend(index, fork);
    pages::write_meta(mp.page(), &info.to_page());
    log(&mp);
    drop(mp);
    for (p, chunk) in centers.chunks(per_page).enumerate() {
        let g = PageGuard::extend(index, fork);
        pages::init(g.page(), IvfPageKind::List);
        if p + 1 < list_pages as usize {
            pages::set_next(g.page(), g.block() + 1);
        }
        for (i, c) in chunk.iter().enumerate() {
            let entry_block = 1 + list_pages + (p * per_page + i) as u32;
            if add_item(g.page(), &pages::list_bytes(entry_block, entry_block, c)).is_none() {
                error!("ivfflat build: list page overflow");
            }
        }
        log(&g);
    }
    for _ in centers {
        let g = PageGuard::extend(index, fork);
        pages::init(g.page(), IvfPageKind::Entry);
        log(&g);
    }
}
