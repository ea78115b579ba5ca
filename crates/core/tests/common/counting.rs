//! A global allocator that counts live heap bytes as glibc's malloc takes
//! them per block (the request plus an 8-byte header, in 16-byte steps, at
//! least 32), and their peak. A test file that measures memory declares
//! `#[path = "common/counting.rs"] mod counting;` (it installs the
//! allocator for that test binary).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// Live bytes.
pub static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Highest `LIVE` since a test last reset it.
pub static PEAK: AtomicIsize = AtomicIsize::new(0);

struct Counting;

fn block(size: usize) -> isize {
    ((size + 8).div_ceil(16) * 16).max(32) as isize
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let b = block(l.size());
        PEAK.fetch_max(LIVE.fetch_add(b, Ordering::Relaxed) + b, Ordering::Relaxed);
        // SAFETY: forwards the caller's layout to the system allocator
        // unchanged; only the count is added.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(block(l.size()), Ordering::Relaxed);
        // SAFETY: `p` came from `alloc`/`realloc` above (the system
        // allocator) with layout `l`, as the caller guarantees.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let d = block(new) - block(l.size());
        PEAK.fetch_max(LIVE.fetch_add(d, Ordering::Relaxed) + d, Ordering::Relaxed);
        // SAFETY: as in `dealloc`; `new` is the caller's valid new size.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;
