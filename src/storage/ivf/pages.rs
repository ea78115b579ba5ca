//! Typed access to ivfflat pages: format, chain, metapage, list and entry
//! tuples in place. Views check the page id, kinds and exact sizes; anything
//! else is `None`. Callers hold the buffer lock (or own a GenericXLog
//! working copy) while a view lives.

use super::layout::*;
use crate::storage::layout::{DiskTid, BLOCK_SIZE};
use crate::storage::pages::item;
use pgrx::pg_sys;

/// Formats `page` as an empty ivfflat page of `kind` with no next page.
pub fn init(page: pg_sys::Page, kind: IvfPageKind) {
    // SAFETY: `page` points at BLCKSZ writable bytes (a locked buffer or a
    // GenericXLog working copy); PageInit lays out header and special space.
    unsafe {
        pg_sys::PageInit(page, BLOCK_SIZE, std::mem::size_of::<IvfOpaque>());
        let o = pg_sys::PageGetSpecialPointer(page).cast::<IvfOpaque>();
        o.write(IvfOpaque { next: NO_BLOCK, page_id: IVF_PAGE_ID, kind: kind as u16 });
    }
}

/// The special area, if `page` is a formatted ivfflat page.
fn opaque<'a>(page: pg_sys::Page) -> Option<&'a mut IvfOpaque> {
    // SAFETY: a page header is readable; the special area is checked to be
    // exactly an IvfOpaque (4-aligned: pd_special is MAXALIGNed) first.
    unsafe {
        let h = page.cast::<pg_sys::PageHeaderData>();
        if pg_sys::PageIsNew(page) || (*h).pd_special as usize != BLOCK_SIZE - std::mem::size_of::<IvfOpaque>() {
            return None;
        }
        let o = &mut *pg_sys::PageGetSpecialPointer(page).cast::<IvfOpaque>();
        (o.page_id == IVF_PAGE_ID).then_some(o)
    }
}

/// The page's kind, if it is an ivfflat page.
pub fn kind(page: pg_sys::Page) -> Option<IvfPageKind> {
    match opaque(page)?.kind {
        1 => Some(IvfPageKind::Meta),
        2 => Some(IvfPageKind::List),
        3 => Some(IvfPageKind::Entry),
        _ => None,
    }
}

/// The next page of the chain ([`NO_BLOCK`] at the end or on a foreign page).
pub fn next(page: pg_sys::Page) -> u32 {
    opaque(page).map_or(NO_BLOCK, |o| o.next)
}

/// Links `page` to `next`.
pub fn set_next(page: pg_sys::Page, next: u32) {
    if let Some(o) = opaque(page) {
        o.next = next;
    }
}

/// Formats `page` as the metapage holding `m`.
pub fn write_meta(page: pg_sys::Page, m: &IvfMeta) {
    init(page, IvfPageKind::Meta);
    // SAFETY: the contents area of a fresh page has room for an IvfMeta;
    // pd_lower then marks its end so images skip the hole after it.
    unsafe {
        let contents = pg_sys::PageGetContents(page);
        contents.cast::<IvfMeta>().write(*m);
        let h = page.cast::<pg_sys::PageHeaderData>();
        let end = contents.cast::<u8>().add(std::mem::size_of::<IvfMeta>());
        (*h).pd_lower = end.offset_from(page.cast::<u8>()) as u16;
    }
}

/// The metapage contents, if `page` is an ivfflat metapage of this format.
pub fn meta(page: pg_sys::Page) -> Option<IvfMeta> {
    if kind(page) != Some(IvfPageKind::Meta) {
        return None;
    }
    // SAFETY: formatted by `write_meta`: contents start MAXALIGNed.
    let m = unsafe { *pg_sys::PageGetContents(page).cast::<IvfMeta>() };
    (m.magic == IVF_MAGIC && m.version == IVF_VERSION).then_some(m)
}

/// Reinterprets the front of `bytes` as a `T` (a `#[repr(C)]` header).
fn header<T>(bytes: &mut [u8]) -> Option<&mut T> {
    if bytes.len() < std::mem::size_of::<T>() || !(bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<T>()) {
        return None;
    }
    // SAFETY: length and alignment checked; T is plain old data.
    Some(unsafe { &mut *bytes.as_mut_ptr().cast::<T>() })
}

/// The bytes of a padding-free `#[repr(C)]` header.
fn raw<T>(h: &T) -> &[u8] {
    // SAFETY: the headers here have no padding (sizes asserted in layout).
    unsafe { std::slice::from_raw_parts((h as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

/// List tuple `off` of a list page: its header and center.
pub fn list<'a>(page: pg_sys::Page, off: u16, value_bytes: usize) -> Option<(&'a mut ListHeader, &'a [u8])> {
    let bytes = item(page, off)?;
    if bytes.len() != LIST_HEADER + value_bytes || bytes[0] != IvfTuple::List as u8 {
        return None;
    }
    let (head, rest) = bytes.split_at_mut(LIST_HEADER);
    Some((header::<ListHeader>(head)?, rest))
}

/// Entry tuple `off` of an entry page: the heap row and its value.
pub fn entry<'a>(page: pg_sys::Page, off: u16, value_bytes: usize) -> Option<(DiskTid, &'a [u8])> {
    let bytes = item(page, off)?;
    if bytes.len() != ENTRY_HEADER + value_bytes || bytes[0] != IvfTuple::Entry as u8 {
        return None;
    }
    let (head, rest) = bytes.split_at_mut(ENTRY_HEADER);
    Some((header::<EntryHeader>(head)?.tid, rest))
}

/// Bytes of a new list tuple.
pub fn list_bytes(start: u32, insert: u32, center: &[u8]) -> Vec<u8> {
    let h = ListHeader { kind: IvfTuple::List as u8, reserved: [0; 3], start, insert, reserved2: 0 };
    let mut out = raw(&h).to_vec();
    out.extend_from_slice(center);
    out
}

/// Bytes of a new entry tuple.
pub fn entry_bytes(tid: DiskTid, value: &[u8]) -> Vec<u8> {
    let h = EntryHeader { kind: IvfTuple::Entry as u8, reserved: 0, tid };
    let mut out = Vec::with_capacity(ENTRY_HEADER + value.len());
    out.extend_from_slice(raw(&h));
    out.extend_from_slice(value);
    out
}
