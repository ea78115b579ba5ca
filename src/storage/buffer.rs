//! RAII guards for Postgres buffers and GenericXLog records. A `PageGuard`
//! releases its lock and pin on drop; a `WalGuard` aborts its record on drop
//! unless `finish` ran, so an ERROR or panic mid-change leaves pages as they
//! were.

use pgrx::pg_sys;

/// Buffer content lock modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    /// Readers.
    Share,
    /// The one writer.
    Exclusive,
}

/// A pinned, content-locked buffer of an index.
pub struct PageGuard {
    buffer: pg_sys::Buffer,
}

impl PageGuard {
    /// Locks a buffer this guard takes the pin of.
    pub fn lock_pinned(pin: Pin, mode: Lock) -> Self {
        let buffer = pin.buffer;
        std::mem::forget(pin);
        let mode = match mode {
            Lock::Exclusive => pg_sys::BUFFER_LOCK_EXCLUSIVE,
            Lock::Share => pg_sys::BUFFER_LOCK_SHARE,
        };
        // SAFETY: the pin is ours (moved in) and the buffer is not locked.
        unsafe { pg_sys::LockBuffer(buffer, mode as i32) };
        PageGuard { buffer }
    }

    /// Pins `block` of `index` and locks it.
    pub fn lock(index: pg_sys::Relation, block: u32, mode: Lock) -> Self {
        Self::lock_with(index, block, mode, std::ptr::null_mut())
    }

    /// Pins `block` of `index` through a buffer access strategy (VACUUM's
    /// ring, so a pass over the index does not flush shared buffers).
    pub fn lock_with(index: pg_sys::Relation, block: u32, mode: Lock, strategy: pg_sys::BufferAccessStrategy) -> Self {
        // SAFETY: `index` is an open relation; ReadBufferExtended raises an
        // ERROR for a block past the end, it never returns an invalid buffer;
        // a null strategy is the default one.
        unsafe {
            let buffer = pg_sys::ReadBufferExtended(
                index,
                pg_sys::ForkNumber::MAIN_FORKNUM,
                block,
                pg_sys::ReadBufferMode::RBM_NORMAL,
                strategy,
            );
            let mode = match mode {
                Lock::Exclusive => pg_sys::BUFFER_LOCK_EXCLUSIVE,
                Lock::Share => pg_sys::BUFFER_LOCK_SHARE,
            };
            pg_sys::LockBuffer(buffer, mode as i32);
            PageGuard { buffer }
        }
    }

    /// Appends a new block to `fork` of `index`, returned locked exclusive
    /// (its contents are garbage until initialised).
    pub fn extend(index: pg_sys::Relation, fork: pg_sys::ForkNumber::Type) -> Self {
        // SAFETY: the extension lock serialises concurrent extenders, as the
        // buffer manager requires for P_NEW in Postgres 15.
        unsafe {
            pg_sys::LockRelationForExtension(index, pg_sys::ExclusiveLock as i32);
            let buffer = pg_sys::ReadBufferExtended(
                index,
                fork,
                pg_sys::InvalidBlockNumber, // P_NEW
                pg_sys::ReadBufferMode::RBM_NORMAL,
                std::ptr::null_mut(),
            );
            pg_sys::LockBuffer(buffer, pg_sys::BUFFER_LOCK_EXCLUSIVE as i32);
            pg_sys::UnlockRelationForExtension(index, pg_sys::ExclusiveLock as i32);
            PageGuard { buffer }
        }
    }

    /// The block number.
    pub fn block(&self) -> u32 {
        // SAFETY: the buffer is pinned.
        unsafe { pg_sys::BufferGetBlockNumber(self.buffer) }
    }

    /// The buffer.
    pub fn buffer(&self) -> pg_sys::Buffer {
        self.buffer
    }

    /// The page image in shared memory (read it under this guard's lock).
    pub fn page(&self) -> pg_sys::Page {
        // SAFETY: the buffer is pinned, so its page address is stable.
        unsafe { pg_sys::BufferGetPage(self.buffer) }
    }

    /// Marks the buffer dirty (for writes made without GenericXLog, i.e.
    /// during CREATE INDEX, which logs whole pages at the end).
    pub fn mark_dirty(&self) {
        // SAFETY: we hold an exclusive lock when writing without WAL.
        unsafe { pg_sys::MarkBufferDirty(self.buffer) }
    }
}

impl Drop for PageGuard {
    fn drop(&mut self) {
        // SAFETY: we own one pin and one content lock on this buffer.
        unsafe { pg_sys::UnlockReleaseBuffer(self.buffer) }
    }
}

/// A pinned buffer, not locked: a scan pins the pages of a hop's
/// neighbours first, lets the CPU prefetch their tuples, then locks each
/// page in turn ([`Pin::share`]).
pub struct Pin {
    buffer: pg_sys::Buffer,
}

impl Pin {
    /// Pins `block` of `index` (through `strategy`, if not null).
    pub fn new(index: pg_sys::Relation, block: u32, strategy: pg_sys::BufferAccessStrategy) -> Self {
        // SAFETY: as in `PageGuard::lock_with`: an open relation, a block
        // below its size (else ReadBufferExtended raises an ERROR).
        let buffer = unsafe {
            pg_sys::ReadBufferExtended(index, pg_sys::ForkNumber::MAIN_FORKNUM, block, pg_sys::ReadBufferMode::RBM_NORMAL, strategy)
        };
        Pin { buffer }
    }

    /// Pins `block` of `index` if `hint` (a buffer that held it before, 0:
    /// none) still holds it, skipping the buffer mapping lookup (PostgreSQL's
    /// `ReadRecentBuffer`); the hit is counted in the index's statistics as
    /// ReadBuffer would.
    pub fn recent(index: pg_sys::Relation, block: u32, hint: pg_sys::Buffer) -> Option<Self> {
        // SAFETY: reading NBuffers, a global fixed at postmaster start.
        if hint <= 0 || hint > unsafe { pg_sys::NBuffers } {
            return None;
        }
        // SAFETY: an open relation; ReadRecentBuffer checks under the buffer
        // header lock that `hint` still holds this block before pinning it.
        unsafe {
            let rel = &*index;
            // A buffer tag names a relfilenode without its backend: a
            // temporary index (local buffers) may share its relfilenode
            // with a permanent relation's file, whose shared buffers would
            // match the tag.
            if (*rel.rd_rel).relpersistence == pg_sys::RELPERSISTENCE_TEMP as std::ffi::c_char {
                return None;
            }
            if !pg_sys::ReadRecentBuffer(rel.rd_node, pg_sys::ForkNumber::MAIN_FORKNUM, block, hint) {
                return None;
            }
            bump_usage(hint);
            if !rel.pgstat_info.is_null() {
                (*rel.pgstat_info).t_counts.t_blocks_fetched += 1;
                (*rel.pgstat_info).t_counts.t_blocks_hit += 1;
            }
        }
        Some(Pin { buffer: hint })
    }

    /// The buffer.
    pub fn buffer(&self) -> pg_sys::Buffer {
        self.buffer
    }

    /// Hints the CPU at the buffer header of `buffer` (a shared buffer
    /// number, or anything: nothing is read).
    pub fn prefetch_header(buffer: pg_sys::Buffer) {
        if buffer <= 0 {
            return;
        }
        // SAFETY: only the address of the descriptor array entry is formed
        // (wrapping arithmetic), never dereferenced.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            let base = pg_sys::BufferDescriptors;
            if base.is_null() || buffer > pg_sys::NBuffers {
                return;
            }
            let p = base.wrapping_add(buffer as usize - 1);
            std::arch::x86_64::_mm_prefetch(p.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0);
        }
    }

    /// The memory of shared buffer `buffer` (a hint: 0 or a local buffer
    /// give None), for prefetches only: the buffer is not pinned, so it may
    /// hold another page by now, or change while it is looked at.
    pub fn hint_page(buffer: pg_sys::Buffer) -> Option<pg_sys::Page> {
        // SAFETY: reading NBuffers and BufferBlocks, globals fixed at
        // postmaster start; the address is formed with wrapping arithmetic
        // and lies inside the shared buffer pool, which stays mapped.
        unsafe {
            if buffer <= 0 || buffer > pg_sys::NBuffers || pg_sys::BufferBlocks.is_null() {
                return None;
            }
            Some(pg_sys::BufferBlocks.wrapping_add((buffer as usize - 1) * pg_sys::BLCKSZ as usize).cast())
        }
    }

    /// The page image; its contents may only be read under [`Pin::share`]
    /// (before that, addresses in it serve as prefetch hints only).
    pub fn page(&self) -> pg_sys::Page {
        // SAFETY: the buffer is pinned, so its page address is stable.
        unsafe { pg_sys::BufferGetPage(self.buffer) }
    }

    /// Share-locks the page until the returned guard is dropped.
    pub fn share(&self) -> Shared<'_> {
        // SAFETY: we hold a pin and no lock on this buffer.
        unsafe { pg_sys::LockBuffer(self.buffer, pg_sys::BUFFER_LOCK_SHARE as i32) };
        Shared { pin: self }
    }
}

/// Raises the clock-sweep usage count of shared buffer `buffer` by one (up
/// to the maximum), as ReadBuffer's PinBuffer does on every hit:
/// ReadRecentBuffer pins through PinBuffer_Locked, which leaves the count
/// alone, so pages a backend always finds through its hints would stay at
/// usage count 1 and be evicted before colder pages. Best effort: skipped
/// while another backend holds the buffer header lock.
fn bump_usage(buffer: pg_sys::Buffer) {
    use std::sync::atomic::{AtomicU32, Ordering};
    // SAFETY: `buffer` is a shared buffer (1..=NBuffers) this backend has
    // just pinned, so its descriptor is in use; its state word is a
    // pg_atomic_uint32 (an aligned u32), which PostgreSQL itself updates by
    // compare-and-swap whenever BM_LOCKED is clear (PinBuffer, UnpinBuffer).
    unsafe {
        let desc = pg_sys::BufferDescriptors.add(buffer as usize - 1);
        let state = AtomicU32::from_ptr(&raw mut (*desc).bufferdesc.state.value);
        let mut old = state.load(Ordering::Relaxed);
        loop {
            let usage = (old & pg_sys::BUF_USAGECOUNT_MASK) >> pg_sys::BUF_USAGECOUNT_SHIFT;
            if old & pg_sys::BM_LOCKED != 0 || usage >= pg_sys::BM_MAX_USAGE_COUNT {
                return;
            }
            match state.compare_exchange_weak(old, old + pg_sys::BUF_USAGECOUNT_ONE, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => return,
                Err(now) => old = now,
            }
        }
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        // SAFETY: we own one pin (and, once Shared is dropped, no lock).
        unsafe { pg_sys::ReleaseBuffer(self.buffer) }
    }
}

/// A share lock on a pinned page.
pub struct Shared<'a> {
    pin: &'a Pin,
}

impl Shared<'_> {
    /// The page image, readable while this guard lives.
    pub fn page(&self) -> pg_sys::Page {
        self.pin.page()
    }
}

impl Drop for Shared<'_> {
    fn drop(&mut self) {
        // SAFETY: we hold the share lock taken in `Pin::share`.
        unsafe { pg_sys::LockBuffer(self.pin.buffer, pg_sys::BUFFER_LOCK_UNLOCK as i32) };
    }
}

/// Blocks in the main fork of `index`.
pub fn nblocks(index: pg_sys::Relation) -> u32 {
    // SAFETY: counting blocks of an open relation.
    unsafe { pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::MAIN_FORKNUM) }
}

/// Whether changes to `index` must be WAL-logged: PostgreSQL's
/// `RelationNeedsWAL` (permanent, and either wal_level above minimal or
/// the relfilenode not created in this transaction).
pub fn needs_wal(index: pg_sys::Relation) -> bool {
    // SAFETY: reading fields of an open relation and a GUC global.
    unsafe {
        let rel = &*index;
        (*rel.rd_rel).relpersistence == pg_sys::RELPERSISTENCE_PERMANENT as std::ffi::c_char
            && (pg_sys::wal_level >= pg_sys::WalLevel::WAL_LEVEL_REPLICA as i32
                || (rel.rd_createSubid == 0
                    && rel.rd_firstRelfilenodeSubid == 0))
    }
}

/// One GenericXLog record over up to four locked buffers.
pub struct WalGuard {
    state: *mut pg_sys::GenericXLogState,
}

impl WalGuard {
    /// Starts a record for `index`.
    pub fn start(index: pg_sys::Relation) -> Self {
        // SAFETY: `index` is open; the state is palloc'd in the current context.
        WalGuard { state: unsafe { pg_sys::GenericXLogStart(index) } }
    }

    /// Registers an exclusively locked buffer; returns the working copy of
    /// its page, which is what must be modified. `full_image` for pages
    /// rewritten from scratch.
    pub fn register(&mut self, page: &PageGuard, full_image: bool) -> pg_sys::Page {
        let flags = if full_image { pg_sys::GENERIC_XLOG_FULL_IMAGE as i32 } else { 0 };
        // SAFETY: the state is live (not finished or aborted) and the buffer
        // is pinned and locked exclusive by `page`, which outlives the record.
        unsafe { pg_sys::GenericXLogRegisterBuffer(self.state, page.buffer(), flags) }
    }

    /// Applies the changes to the buffers and writes the WAL record.
    pub fn finish(mut self) {
        // SAFETY: the state is live; after this it is freed, so forget it.
        unsafe { pg_sys::GenericXLogFinish(self.state) };
        self.state = std::ptr::null_mut();
    }
}

impl Drop for WalGuard {
    fn drop(&mut self) {
        if !self.state.is_null() {
            // SAFETY: an unfinished record: discard the working copies.
            unsafe { pg_sys::GenericXLogAbort(self.state) }
        }
    }
}
