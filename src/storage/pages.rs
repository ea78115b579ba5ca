//! Typed access to index pages: initialise, add items, and view the
//! metapage, element and neighbour tuples in place. Callers hold the page's
//! buffer lock (or own a private copy) for as long as a view lives.

use super::layout::*;
use pgrx::pg_sys;

/// Formats `page` as an empty page of `kind`.
pub fn init_page(page: pg_sys::Page, kind: u16) {
    // SAFETY: `page` points at BLCKSZ writable bytes (a locked buffer or a
    // GenericXLog working copy); PageInit lays out header and special space.
    unsafe {
        pg_sys::PageInit(page, BLOCK_SIZE, std::mem::size_of::<PageOpaque>());
        let opaque = pg_sys::PageGetSpecialPointer(page).cast::<PageOpaque>();
        opaque.write(PageOpaque { page_id: PAGE_ID, kind, reserved: 0 });
    }
}

/// True if `page` carries this index's page id.
pub fn is_index_page(page: pg_sys::Page) -> bool {
    // SAFETY: every page of the index was formatted by `init_page`, so the
    // special area holds a PageOpaque.
    unsafe { (*pg_sys::PageGetSpecialPointer(page).cast::<PageOpaque>()).page_id == PAGE_ID }
}

/// Bytes free between line pointers and tuples.
pub fn free_space(page: pg_sys::Page) -> usize {
    // SAFETY: a formatted page starts with a PageHeaderData.
    unsafe {
        let h = page.cast::<pg_sys::PageHeaderData>();
        ((*h).pd_upper as usize).saturating_sub((*h).pd_lower as usize)
    }
}

/// Adds `data` as a new item; its offset, or None if it does not fit.
pub fn add_item(page: pg_sys::Page, data: &[u8]) -> Option<u16> {
    // SAFETY: `data` is a valid slice; PageAddItemExtended copies it and
    // returns InvalidOffsetNumber (0) when there is no room.
    let off = unsafe { pg_sys::PageAddItemExtended(page, data.as_ptr() as pg_sys::Item, data.len(), 0, 0) };
    (off != 0).then_some(off)
}

/// Number of line pointers on the page.
pub fn max_offset(page: pg_sys::Page) -> u16 {
    // SAFETY: a formatted page.
    unsafe { pg_sys::PageGetMaxOffsetNumber(page) }
}

/// The bytes of item `off` (1-based), if it exists and is in use.
pub fn item<'a>(page: pg_sys::Page, off: u16) -> Option<&'a mut [u8]> {
    if off == 0 || off > max_offset(page) {
        return None;
    }
    // SAFETY: `off` is within the line pointer array; a used line pointer's
    // offset and length lie inside the page, which the caller keeps locked.
    unsafe {
        let id = pg_sys::PageGetItemId(page, off);
        if (*id).lp_flags() != pg_sys::LP_NORMAL || (*id).lp_len() == 0 {
            return None;
        }
        let start = page.cast::<u8>().add((*id).lp_off() as usize);
        Some(std::slice::from_raw_parts_mut(start, (*id).lp_len() as usize))
    }
}

/// Reinterprets the front of `bytes` as a `T` (a `#[repr(C)]` header).
fn header<T>(bytes: &mut [u8]) -> Option<&mut T> {
    if bytes.len() < std::mem::size_of::<T>() || bytes.as_ptr() as usize % std::mem::align_of::<T>() != 0 {
        return None;
    }
    // SAFETY: length and alignment checked; T is plain old data.
    Some(unsafe { &mut *bytes.as_mut_ptr().cast::<T>() })
}

/// The metapage contents.
pub fn meta<'a>(page: pg_sys::Page) -> &'a mut MetaPage {
    // SAFETY: block 0 is formatted by `write_meta`; the contents start at a
    // MAXALIGNed offset and hold a MetaPage.
    unsafe { &mut *pg_sys::PageGetContents(page).cast::<MetaPage>() }
}

/// Formats `page` as the metapage holding `m`.
pub fn write_meta(page: pg_sys::Page, m: &MetaPage) {
    init_page(page, KIND_META);
    *meta(page) = *m;
    // SAFETY: pd_lower marks the end of used space so full-page images and
    // generic WAL skip the hole after the metapage struct.
    unsafe {
        let h = page.cast::<pg_sys::PageHeaderData>();
        let contents = pg_sys::PageGetContents(page).cast::<u8>();
        let end = contents.add(std::mem::size_of::<MetaPage>());
        (*h).pd_lower = end.offset_from(page.cast::<u8>()) as u16;
    }
}

/// An element tuple in place.
pub struct ElementView<'a> {
    /// Header fields.
    pub header: &'a mut ElementHeader,
    /// The stored (for cosine: normalised) vector.
    pub vector: &'a mut [f32],
}

/// Views item `off` of `page` as an element of `dims` dimensions.
pub fn element<'a>(page: pg_sys::Page, off: u16, dims: usize) -> Option<ElementView<'a>> {
    let bytes = item(page, off)?;
    if bytes.len() != element_size(dims) {
        return None;
    }
    let (head, rest) = bytes.split_at_mut(std::mem::size_of::<ElementHeader>());
    let header = header::<ElementHeader>(head)?;
    // SAFETY: `rest` is 4*dims bytes at a 4-aligned address (items are
    // MAXALIGNed, the header is 16 bytes), and any bit pattern is an f32.
    let vector = unsafe { std::slice::from_raw_parts_mut(rest.as_mut_ptr().cast::<f32>(), dims) };
    Some(ElementView { header, vector })
}

/// A neighbour tuple in place.
pub struct NeighborView<'a> {
    /// Header fields.
    pub header: &'a mut NeighborHeader,
    /// All slots, layer 0 first.
    pub slots: &'a mut [DiskTid],
}

impl NeighborView<'_> {
    /// The slots of `layer` (empty if beyond the tuple's capacity).
    pub fn layer(&mut self, m: usize, layer: usize) -> &mut [DiskTid] {
        if layer > self.header.capacity_level as usize {
            return &mut [];
        }
        let start = layer_start(m, layer);
        let len = if layer == 0 { 2 * m } else { m };
        &mut self.slots[start..start + len]
    }

    /// Replaces every layer's slots with `lists` (missing layers empty).
    pub fn fill(&mut self, m: usize, lists: &[Vec<DiskTid>]) {
        for layer in 0..=self.header.capacity_level as usize {
            let list = lists.get(layer).map(Vec::as_slice).unwrap_or(&[]);
            for (i, s) in self.layer(m, layer).iter_mut().enumerate() {
                *s = list.get(i).copied().unwrap_or(DiskTid::NONE);
            }
        }
    }
}

/// Views item `off` of `page` as a neighbour tuple.
pub fn neighbors<'a>(page: pg_sys::Page, off: u16) -> Option<NeighborView<'a>> {
    let bytes = item(page, off)?;
    let (head, rest) = bytes.split_at_mut(std::mem::size_of::<NeighborHeader>());
    let header = header::<NeighborHeader>(head)?;
    let n = rest.len() / std::mem::size_of::<DiskTid>();
    // SAFETY: `rest` holds n 6-byte DiskTids at a 2-aligned address.
    let slots = unsafe { std::slice::from_raw_parts_mut(rest.as_mut_ptr().cast::<DiskTid>(), n) };
    Some(NeighborView { header, slots })
}

/// Bytes of a new element tuple.
pub fn element_bytes(state: u8, level: usize, heap_tid: DiskTid, neighbors: DiskTid, vector: &[f32]) -> Vec<u8> {
    let h = ElementHeader { state, level: level as u8, reserved: 0, heap_tid, neighbors };
    let mut out = Vec::with_capacity(element_size(vector.len()));
    // SAFETY: ElementHeader is repr(C) plain data without padding bytes.
    out.extend_from_slice(unsafe {
        std::slice::from_raw_parts((&h as *const ElementHeader).cast::<u8>(), std::mem::size_of::<ElementHeader>())
    });
    for v in vector {
        out.extend_from_slice(&v.to_ne_bytes());
    }
    out
}

/// Bytes of a new neighbour tuple with room for `level`, filled from `lists`
/// (one list per layer; missing layers and unused slots are empty).
pub fn neighbor_bytes(m: usize, level: usize, lists: &[Vec<DiskTid>]) -> Vec<u8> {
    let mut slots = vec![DiskTid::NONE; slot_count(m, level)];
    for (layer, list) in lists.iter().enumerate().take(level + 1) {
        let start = layer_start(m, layer);
        let cap = if layer == 0 { 2 * m } else { m };
        for (i, t) in list.iter().take(cap).enumerate() {
            slots[start + i] = *t;
        }
    }
    let mut out = Vec::with_capacity(neighbor_size(m, level));
    out.extend_from_slice(&[level as u8, 0, 0, 0]);
    for t in slots {
        out.extend_from_slice(&t.hi.to_ne_bytes());
        out.extend_from_slice(&t.lo.to_ne_bytes());
        out.extend_from_slice(&t.offset.to_ne_bytes());
    }
    out
}
