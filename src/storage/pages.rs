//! Typed access to index pages: initialise, add items, and view the
//! metapage, element, neighbour and chunk tuples in place. Every view
//! checks the tuple's kind byte and exact size (and decodes its enums)
//! before handing out references; anything else is `None`, never a guess.
//! Callers hold the page's buffer lock (or own a private copy) for as long
//! as a view lives.

use super::layout::*;
use crate::hnsw::MAX_LEVEL;
use pgrx::pg_sys;

/// Formats `page` as an empty page of `kind`.
pub fn init_page(page: pg_sys::Page, kind: PageKind) {
    // SAFETY: `page` points at BLCKSZ writable bytes (a locked buffer or a
    // GenericXLog working copy); PageInit lays out header and special space.
    unsafe {
        pg_sys::PageInit(page, BLOCK_SIZE, std::mem::size_of::<PageOpaque>());
        let opaque = pg_sys::PageGetSpecialPointer(page).cast::<PageOpaque>();
        opaque.write(PageOpaque { page_id: PAGE_ID, kind: kind as u16, reserved: 0 });
    }
}

/// The page's kind, if it is one of this index's formatted pages.
pub fn page_kind(page: pg_sys::Page) -> Option<PageKind> {
    // SAFETY: a page's header is readable; the special area is checked to
    // be exactly a PageOpaque before it is read.
    unsafe {
        let h = page.cast::<pg_sys::PageHeaderData>();
        if pg_sys::PageIsNew(page) || (*h).pd_special as usize != BLOCK_SIZE - std::mem::size_of::<PageOpaque>() {
            return None;
        }
        let o = *pg_sys::PageGetSpecialPointer(page).cast::<PageOpaque>();
        if o.page_id != PAGE_ID {
            return None;
        }
        match o.kind {
            1 => Some(PageKind::Meta),
            2 => Some(PageKind::Graph),
            _ => None,
        }
    }
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

/// A hint to the CPU to start fetching the cache line at `p` (never
/// faults, whatever the address).
#[inline]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing architecturally and cannot fault.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0)
    };
}

/// Whether item `off`'s 4-byte line pointer lies inside a page (offsets
/// up to MaxOffsetNumber, 2048, are valid TIDs; from 2043 on the line
/// pointer would lie past the page's end).
fn line_pointer_fits(off: u16) -> bool {
    off != 0 && PAGE_HEADER + 4 * off as usize <= BLOCK_SIZE
}

/// Hints the CPU at item `off`'s line pointer on a pinned page or a hint
/// page (no lock or pin needed: nothing is read).
pub fn prefetch_line_pointer(page: pg_sys::Page, off: u16) {
    if !line_pointer_fits(off) {
        return;
    }
    prefetch(page.cast::<u8>().wrapping_add(PAGE_HEADER + 4 * (off as usize - 1)));
}

/// Hints the CPU at the first `len` bytes of item `off` (at most the
/// item's length) on a pinned page, or on the memory of a shared buffer
/// found through a hint ([`super::buffer::Pin::hint_page`]: not pinned, it
/// may hold any page by now).
/// The line pointer is read without the page lock (and through a hint,
/// without a pin), so the address may be stale or garbage: it only steers
/// prefetches, kept inside the page; the item is read under the lock.
pub fn prefetch_item(page: pg_sys::Page, off: u16, len: usize) {
    if !line_pointer_fits(off) {
        return;
    }
    // SAFETY: the line pointer lies inside `page`'s BLCKSZ bytes
    // (`line_pointer_fits`): a pinned buffer's page, or a shared buffer's
    // through a hint, memory of the buffer pool, mapped for the backend's
    // life whatever page the buffer holds; 4-aligned (buffers are
    // aligned). Another backend may be writing it, so it is read as an
    // atomic word: some value, only used as a hint.
    let lp = unsafe {
        let at = page.cast::<u8>().add(PAGE_HEADER + 4 * (off as usize - 1)).cast::<u32>();
        std::sync::atomic::AtomicU32::from_ptr(at).load(std::sync::atomic::Ordering::Relaxed)
    };
    // lp_off is bits 0..15, lp_len bits 17..32: no more than the item's
    // own length (elements of variable size are often far below `len`)
    let (start, own) = ((lp & 0x7fff) as usize, (lp >> 17) as usize);
    let end = (start + len.min(own)).min(BLOCK_SIZE);
    let mut at = start;
    while at < end {
        prefetch(page.cast::<u8>().wrapping_add(at));
        at += 64;
    }
}

/// The bytes of item `off` (1-based), if it exists and is in use.
pub fn item<'a>(page: pg_sys::Page, off: u16) -> Option<&'a mut [u8]> {
    if off == 0 || off > max_offset(page) {
        return None;
    }
    // SAFETY: `off` is within the line pointer array; a used line pointer's
    // offset and length are checked to lie inside the page, which the
    // caller keeps locked.
    unsafe {
        let id = pg_sys::PageGetItemId(page, off);
        let (start, len) = ((*id).lp_off() as usize, (*id).lp_len() as usize);
        if (*id).lp_flags() != pg_sys::LP_NORMAL || len == 0 || start < PAGE_HEADER || start + len > BLOCK_SIZE {
            return None;
        }
        Some(std::slice::from_raw_parts_mut(page.cast::<u8>().add(start), len))
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

/// The bytes of a plain-old-data header, for building tuples.
fn raw<T>(h: &T) -> &[u8] {
    // SAFETY: T is a repr(C) header without padding bytes (checked by the
    // size asserts in layout), so every byte is initialised.
    unsafe { std::slice::from_raw_parts((h as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

/// The metapage contents, if `page` is this index's metapage.
pub fn meta<'a>(page: pg_sys::Page) -> Option<&'a mut MetaPage> {
    if page_kind(page) != Some(PageKind::Meta) {
        return None;
    }
    // SAFETY: block 0 is formatted by `write_meta`; the contents start at a
    // MAXALIGNed offset and hold a MetaPage.
    Some(unsafe { &mut *pg_sys::PageGetContents(page).cast::<MetaPage>() })
}

/// Formats `page` as the metapage holding `m`.
pub fn write_meta(page: pg_sys::Page, m: &MetaPage) {
    init_page(page, PageKind::Meta);
    // SAFETY: the contents area of a fresh page has room for a MetaPage;
    // pd_lower then marks its end so full-page images and generic WAL skip
    // the hole after it.
    unsafe {
        let contents = pg_sys::PageGetContents(page);
        contents.cast::<MetaPage>().write(*m);
        let h = page.cast::<pg_sys::PageHeaderData>();
        let end = contents.cast::<u8>().add(std::mem::size_of::<MetaPage>());
        (*h).pd_lower = end.offset_from(page.cast::<u8>()) as u16;
    }
}

/// An element tuple in place.
pub struct ElementView<'a> {
    /// Header fields.
    pub header: &'a mut ElementHeader,
    /// The inline part of the value.
    pub inline: &'a mut [u8],
}

impl ElementView<'_> {
    /// The element's state (checked when the view was made).
    pub fn state(&self) -> ElementState {
        ElementState::from_byte(self.header.state).unwrap_or(ElementState::Reusable)
    }

    /// The heap rows it stands for.
    pub fn heap_tids(&self) -> &[DiskTid] {
        &self.header.heap[..(self.header.ntids as usize).min(MAX_HEAP_TIDS)]
    }

    /// The inline part of an f32 value.
    pub fn inline_f32(&self) -> &[f32] {
        // SAFETY: the inline part starts 80 bytes into a MAXALIGNed item,
        // so it is 4-aligned; any bit pattern is an f32.
        unsafe { std::slice::from_raw_parts(self.inline.as_ptr().cast::<f32>(), self.inline.len() / 4) }
    }
}

/// Views item `off` of `page` as an element tuple of this index's shape.
/// Fixed shapes: the tuple has exactly the shape's size. Variable shapes:
/// the header's `value_bytes` is one the shape holds and agrees with the
/// value's own length word, and the tuple has room for its inline part and
/// at most the shape's (a slot VACUUM freed keeps its size when a smaller
/// value reuses it); `inline` is then the value's inline part only.
pub fn element<'a>(page: pg_sys::Page, off: u16, shape: &Shape) -> Option<ElementView<'a>> {
    element_view(item(page, off)?, shape)
}

/// [`element`] on the tuple's bytes.
fn element_view<'a>(bytes: &'a mut [u8], shape: &Shape) -> Option<ElementView<'a>> {
    let fits = match shape.variable {
        true => (ELEMENT_HEADER..=shape.element_size()).contains(&bytes.len()),
        false => bytes.len() == shape.element_size(),
    };
    if !fits || bytes[0] != TupleKind::Element as u8 {
        return None;
    }
    let (head, rest) = bytes.split_at_mut(ELEMENT_HEADER);
    let header = header::<ElementHeader>(head)?;
    let vb = header.value_bytes as usize;
    let inline = shape.inline_of(vb);
    let sane = ElementState::from_byte(header.state).is_some()
        && header.level as usize <= MAX_LEVEL
        && header.ntids as usize <= MAX_HEAP_TIDS
        && shape.holds(vb)
        && inline <= rest.len()
        && shape.stored_len(rest) == vb
        && (shape.chunks_of(vb) == 0) == !header.next.is_valid();
    // `then`, not `then_some`: the slice is taken only once `inline` is
    // known to fit (a header claiming more is refused, not a panic)
    sane.then(|| ElementView { header, inline: &mut rest[..inline] })
}

/// The whole of element `off`'s tuple bytes (header, value and any room a
/// reused slot has beyond it), for rewriting a reused slot in place.
pub fn element_room<'a>(page: pg_sys::Page, off: u16) -> Option<&'a mut [u8]> {
    item(page, off).filter(|b| b.len() >= ELEMENT_HEADER && b[0] == TupleKind::Element as u8)
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

/// Views item `off` of `page` as a neighbour tuple for this `m`.
pub fn neighbors<'a>(page: pg_sys::Page, off: u16, m: usize) -> Option<NeighborView<'a>> {
    let bytes = item(page, off)?;
    if bytes.len() < std::mem::size_of::<NeighborHeader>() || bytes[0] != TupleKind::Neighbors as u8 {
        return None;
    }
    let cap = bytes[1] as usize;
    if cap > MAX_LEVEL || bytes.len() != neighbor_size(m, cap) {
        return None;
    }
    let (head, rest) = bytes.split_at_mut(std::mem::size_of::<NeighborHeader>());
    let header = header::<NeighborHeader>(head)?;
    // SAFETY: `rest` holds exactly slot_count(m, cap) 6-byte DiskTids
    // (length checked above) at a 2-aligned address.
    let slots = unsafe { std::slice::from_raw_parts_mut(rest.as_mut_ptr().cast::<DiskTid>(), slot_count(m, cap)) };
    Some(NeighborView { header, slots })
}

/// A chunk tuple in place.
pub struct ChunkView<'a> {
    /// Header fields.
    pub header: &'a mut ChunkHeader,
    /// Its part of the value.
    pub data: &'a mut [u8],
}

/// Views item `off` of `page` as a chunk tuple.
pub fn chunk<'a>(page: pg_sys::Page, off: u16) -> Option<ChunkView<'a>> {
    let bytes = item(page, off)?;
    if bytes.len() < CHUNK_HEADER || bytes[0] != TupleKind::Chunk as u8 {
        return None;
    }
    let (head, rest) = bytes.split_at_mut(CHUNK_HEADER);
    let header = header::<ChunkHeader>(head)?;
    (header.len as usize == rest.len() && rest.len() <= MAX_CHUNK).then_some(ChunkView { header, data: rest })
}

/// Bytes of a new element tuple.
pub fn element_bytes(level: usize, tids: &[DiskTid], neighbors: DiskTid, next: DiskTid, value_bytes: usize, inline: &[u8]) -> Vec<u8> {
    let mut heap = [DiskTid::NONE; MAX_HEAP_TIDS];
    heap[..tids.len()].copy_from_slice(tids);
    let h = ElementHeader {
        kind: TupleKind::Element as u8,
        state: ElementState::Live as u8,
        level: level as u8,
        ntids: tids.len() as u8,
        value_bytes: value_bytes as u32,
        neighbors,
        next,
        heap,
    };
    let mut out = Vec::with_capacity(ELEMENT_HEADER + inline.len());
    out.extend_from_slice(raw(&h));
    out.extend_from_slice(inline);
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
    let h = NeighborHeader { kind: TupleKind::Neighbors as u8, capacity_level: level as u8, reserved: 0 };
    let mut out = Vec::with_capacity(neighbor_size(m, level));
    out.extend_from_slice(raw(&h));
    for t in slots {
        out.extend_from_slice(raw(&t));
    }
    out
}

/// Bytes of a new chunk tuple.
pub fn chunk_bytes(next: DiskTid, data: &[u8]) -> Vec<u8> {
    let h = ChunkHeader { kind: TupleKind::Chunk as u8, reserved: 0, next, len: data.len() as u32 };
    let mut out = Vec::with_capacity(CHUNK_HEADER + data.len());
    out.extend_from_slice(raw(&h));
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_pointers_past_the_page_are_not_read() {
        assert!(!line_pointer_fits(0));
        assert!(line_pointer_fits(1));
        assert!(line_pointer_fits(2042));
        // the 2043rd line pointer would start at byte 8192
        assert!(!line_pointer_fits(2043));
        assert!(!line_pointer_fits(2048));
        assert!(!line_pointer_fits(u16::MAX));
    }

    /// A variable-size element whose length words claim more than its
    /// tuple holds is refused (None), not sliced past its end (a panic).
    #[test]
    fn element_claiming_more_than_its_tuple_is_refused() {
        let shape = Shape::for_kind(16, ValueKind::Sparse, 1100);
        let value = |nnz: u32| -> Vec<u8> {
            let mut v = vec![0u8; 8 + 8 * nnz as usize];
            v[..4].copy_from_slice(&nnz.to_ne_bytes());
            v
        };
        let tuple = |vb: usize, inline: &[u8]| {
            let next = if shape.chunks_of(vb) > 0 { DiskTid::new(3, 1) } else { DiskTid::NONE };
            element_bytes(0, &[DiskTid::new(1, 1)], DiskTid::new(1, 2), next, vb, inline)
        };
        // aligned backing for the header
        let view = |t: &[u8]| -> bool {
            let mut words = vec![0u64; t.len().div_ceil(8)];
            // SAFETY: `words` has at least t.len() bytes.
            let bytes = unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), t.len()) };
            bytes.copy_from_slice(t);
            element_view(bytes, &shape).is_some()
        };
        assert!(view(&tuple(32, &value(3))));
        // one more non-zero claimed (header and value agree) than the tuple holds
        let mut longer = value(591);
        longer.truncate(8 + 8 * 590);
        assert!(!view(&tuple(8 + 8 * 591, &longer)));
        // the room's biggest claimed (chunked: inline part beyond the tuple)
        let mut big = value(1100);
        big.truncate(8 + 8 * 869);
        assert!(!view(&tuple(8 + 8 * 1100, &big)));
        // the header alone lies
        assert!(!view(&tuple(40, &value(3))));
    }
}
