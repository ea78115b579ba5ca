//! The metapage as a struct: read with magic, version and field checks
//! (an index of another format gets a clear "REINDEX" error, never a
//! guess), written in one WAL record.

use super::buffer::{Lock, PageGuard, WalGuard};
use super::layout::*;
use super::pages;
use crate::hnsw::Params;
use crate::space::Space;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// Block of the metapage.
pub const META_BLOCK: u32 = 0;
/// Heavyweight lock tag (a page lock on this number) held by inserts in
/// share mode; exclusive when an insert may move the entry point, and as a
/// barrier by VACUUM.
pub const UPDATE_LOCK: u32 = 0;
/// Heavyweight lock tag serialising inserts that reuse slots of values
/// stored in chunks (their chunks are rewritten before the element).
pub const REUSE_LOCK: u32 = 1;

fn not_this_format(index: pg_sys::Relation) -> ! {
    ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
        format!("index \"{}\" is not a vecstore hnsw index of format version {FORMAT_VERSION}", index_name(index)),
        "REINDEX the index with this version of vecstore."
    );
}

/// The index's fixed parameters and entry point.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    /// Vector dimensions.
    pub dims: usize,
    /// Graph parameters.
    pub params: Params,
    /// How values are stored.
    pub value_kind: ValueKind,
    /// Tuple sizes.
    pub shape: Shape,
    /// Entry element and its level.
    pub entry: Option<(u64, usize)>,
    /// Where inserts start looking for room.
    pub insert_block: u32,
}

fn index_name(index: pg_sys::Relation) -> String {
    // SAFETY: an open relation has a valid rd_rel and name.
    unsafe { pgrx::name_data_to_str(&(*(*index).rd_rel).relname) }.to_string()
}

impl Meta {
    /// Values for a new index.
    pub fn new(dims: usize, params: Params, value_kind: ValueKind) -> Meta {
        let shape = Shape::for_kind(params.m, value_kind, dims);
        Meta { dims, params, value_kind, shape, entry: None, insert_block: 1 }
    }

    /// Reads the metapage, checking magic, version and every field.
    pub fn read(index: pg_sys::Relation) -> Meta {
        let g = PageGuard::lock(index, META_BLOCK, Lock::Share);
        let m = pages::meta(g.page()).copied();
        drop(g);
        match m.and_then(|m| Self::from_page(&m)) {
            Some(meta) => meta,
            None => not_this_format(index),
        }
    }

    fn from_page(m: &MetaPage) -> Option<Meta> {
        if m.magic != META_MAGIC || m.version != FORMAT_VERSION {
            return None;
        }
        let metric = metric_from_code(m.metric)?;
        let value_kind = ValueKind::from_byte(m.value_kind)?;
        let (dims, mm) = (m.dims as usize, m.m as usize);
        if dims == 0 || dims > value_kind.max_dims() || !value_kind.pairs_with(metric) || !(2..=100).contains(&mm) {
            return None;
        }
        let params = Params { m: mm, ef_construction: m.ef_construction as usize, metric, max_level: max_level(mm) };
        let shape = Shape::for_kind(mm, value_kind, dims);
        if shape.inline_bytes != m.inline_bytes as usize {
            return None;
        }
        let entry = m.entry.is_valid().then(|| (m.entry.node(), (m.entry_level as usize).min(params.max_level)));
        Some(Meta { dims, params, value_kind, shape, entry, insert_block: m.insert_block.max(1) })
    }

    /// The element type and metric the graph compares values with.
    pub fn space(&self) -> Space {
        match self.value_kind {
            ValueKind::F32 => Space::F32 { metric: self.params.metric, dims: self.dims },
            ValueKind::Sq8 => Space::Sq8 { metric: self.params.metric, dims: self.dims },
            ValueKind::F16 => Space::F16 { metric: self.params.metric, dims: self.dims },
            ValueKind::Bit => Space::Bit { metric: self.params.metric, dims: self.dims },
            ValueKind::Sparse => Space::Sparse { metric: self.params.metric, cap: self.dims },
        }
    }

    /// The metapage struct for these values.
    pub fn to_page(&self) -> MetaPage {
        let (entry, entry_level) = match self.entry {
            Some((id, l)) => (DiskTid::from_node(id), l as u8),
            None => (DiskTid::NONE, 0),
        };
        MetaPage {
            magic: META_MAGIC,
            version: FORMAT_VERSION,
            dims: self.dims as u32,
            m: self.params.m as u16,
            ef_construction: self.params.ef_construction as u16,
            metric: metric_code(self.params.metric),
            value_kind: self.value_kind as u8,
            entry_level,
            reserved: 0,
            entry,
            reserved2: 0,
            insert_block: self.insert_block,
            inline_bytes: self.shape.inline_bytes as u32,
        }
    }
}

/// Applies `f` to the metapage in one WAL record.
pub fn update_meta(index: pg_sys::Relation, f: impl FnOnce(&mut MetaPage)) {
    let g = PageGuard::lock(index, META_BLOCK, Lock::Exclusive);
    let mut wal = WalGuard::start(index);
    let page = wal.register(&g, false);
    match pages::meta(page) {
        Some(m) => f(m),
        None => error!("vecstore: block 0 of index \"{}\" is not a metapage", index_name(index)),
    }
    wal.finish();
}

/// Takes the update lock (see [`UPDATE_LOCK`]) until dropped.
pub struct UpdateLock {
    index: pg_sys::Relation,
    mode: i32,
}

impl UpdateLock {
    /// Shared: concurrent inserts.
    pub fn share(index: pg_sys::Relation) -> Self {
        Self::take(index, pg_sys::ShareLock as i32)
    }
    /// Exclusive: an insert that may move the entry point, or a barrier.
    pub fn exclusive(index: pg_sys::Relation) -> Self {
        Self::take(index, pg_sys::ExclusiveLock as i32)
    }
    fn take(index: pg_sys::Relation, mode: i32) -> Self {
        // SAFETY: a heavyweight page lock on an open relation; released on
        // drop, or by the transaction's abort on ERROR.
        unsafe { pg_sys::LockPage(index, UPDATE_LOCK, mode) };
        UpdateLock { index, mode }
    }
    /// Waits until every insert that was running has finished.
    pub fn barrier(index: pg_sys::Relation) {
        drop(Self::exclusive(index));
    }
}

impl Drop for UpdateLock {
    fn drop(&mut self) {
        // While unwinding from an ERROR, leave the lock to the transaction
        // abort, which releases every heavyweight lock anyway.
        if !std::thread::panicking() {
            // SAFETY: releases the lock taken in `take`, still held.
            unsafe { pg_sys::UnlockPage(self.index, UPDATE_LOCK, self.mode) };
        }
    }
}
