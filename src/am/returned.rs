//! What the executor may already have returned, for a `strict_order` scan
//! of a quantised index.
//!
//! The scan reports a lower bound of each row's distance; the executor
//! re-checks the exact one, queues the row and returns queued rows nearest
//! first once their exact distance is at most the value last reported.
//! So every row it has returned is at most the largest value reported
//! (`reported` below). A later row whose exact distance is below that
//! value still comes out in order if it is not below any row the executor
//! actually returned: in a cursor fetched a few rows at a time, or after a
//! loose bound was reported, those are far fewer than the rows handed out.
//! The rows the executor may have returned are the rows handed out whose
//! exact distance is at most `reported` (an over-estimate: a row it has not
//! returned yet only makes the answer larger, so a row is dropped rather
//! than returned out of order). Exact distances of rows handed out on the
//! ordinary path are computed only when a row needs the answer.

use super::exact::Exact;
use crate::storage::layout::DiskTid;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Rows handed out with unknown exact distances kept at most; beyond, the
/// answer is `reported` (every row handed out counts as returned).
const MAX_UNKNOWN: usize = 1 << 17;

/// A float8 distance ordered as a number (NaN never enters).
#[derive(Clone, Copy, PartialEq, PartialOrd)]
struct Dist(f64);
impl Eq for Dist {}
impl Ord for Dist {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// See the module comment.
pub(super) struct Returned {
    /// Rows handed out whose exact distance was not computed.
    unknown: Vec<DiskTid>,
    /// Exact distances of rows handed out, above every value reported when
    /// last looked at.
    waiting: BinaryHeap<Reverse<Dist>>,
    /// The largest exact distance of a row the executor may have returned.
    max: f64,
    /// Too many unknown rows were handed out: `reported` is the answer.
    overflow: bool,
}

impl Default for Returned {
    fn default() -> Self {
        Returned { unknown: Vec::new(), waiting: BinaryHeap::new(), max: f64::NEG_INFINITY, overflow: false }
    }
}

impl Returned {
    pub(super) fn clear(&mut self) {
        self.unknown.clear();
        self.waiting.clear();
        self.max = f64::NEG_INFINITY;
        self.overflow = false;
    }

    /// Row `tid` was handed out; its exact distance is not known.
    pub(super) fn handed(&mut self, tid: DiskTid) {
        if self.overflow {
            return;
        }
        if self.unknown.len() >= MAX_UNKNOWN {
            self.untracked();
            return;
        }
        self.unknown.push(tid);
    }

    /// A row was handed out and not recorded (under another
    /// `hnsw.iterative_scan` setting: the setting is read on every call, a
    /// cursor may switch mid-scan): every row handed out counts as
    /// returned from now on, as past the cap.
    pub(super) fn untracked(&mut self) {
        if !self.overflow {
            self.overflow = true;
            self.unknown = Vec::new();
            self.waiting.clear();
        }
    }

    /// A row whose exact distance is `d` was handed out (NaN, and NULL,
    /// sort after every number: such a row is returned last, never before
    /// a later row).
    pub(super) fn handed_exact(&mut self, d: f64) {
        if !self.overflow && !d.is_nan() {
            self.waiting.push(Reverse(Dist(d)));
        }
    }

    /// The largest exact distance of a row the executor may have returned
    /// when `reported` is the largest value reported; `exact` computes the
    /// rows' exact distances (invisible rows are not returned).
    pub(super) fn max_returned(&mut self, reported: f64, exact: &mut dyn FnMut(DiskTid) -> Exact) -> f64 {
        if self.overflow {
            return reported;
        }
        for tid in std::mem::take(&mut self.unknown) {
            if let Exact::Value(d) = exact(tid) {
                self.handed_exact(d);
            }
        }
        while let Some(&Reverse(Dist(d))) = self.waiting.peek() {
            if d > reported {
                break;
            }
            self.max = self.max.max(d);
            self.waiting.pop();
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tid(n: u16) -> DiskTid {
        DiskTid { hi: 0, lo: 1, offset: n }
    }

    #[test]
    fn only_rows_at_most_the_reported_value_count() {
        let mut r = Returned::default();
        // exact distances 1.0, 3.0, invisible, 2.0 handed out
        for n in 1..=4 {
            r.handed(tid(n));
        }
        let mut calls = 0;
        let mut exact = |t: DiskTid| {
            calls += 1;
            match t.offset {
                1 => Exact::Value(1.0),
                2 => Exact::Value(3.0),
                3 => Exact::Invisible,
                _ => Exact::Value(2.0),
            }
        };
        assert_eq!(r.max_returned(2.5, &mut exact), 2.0);
        // computed once each; 3.0 waits until the reported value reaches it
        assert_eq!(r.max_returned(2.9, &mut exact), 2.0);
        assert_eq!(r.max_returned(3.0, &mut exact), 3.0);
        assert_eq!(calls, 4);
    }

    #[test]
    fn nothing_returned_yet_and_nan_rows() {
        let mut r = Returned::default();
        r.handed_exact(f64::NAN);
        r.handed_exact(5.0);
        assert_eq!(r.max_returned(4.0, &mut |_| Exact::Invisible), f64::NEG_INFINITY);
        assert_eq!(r.max_returned(f64::INFINITY, &mut |_| Exact::Invisible), 5.0);
    }

    #[test]
    fn an_untracked_row_counts_every_row_handed_out_as_returned() {
        let mut r = Returned::default();
        r.handed_exact(1.0);
        r.untracked();
        r.handed(tid(1));
        assert_eq!(r.max_returned(7.0, &mut |_| Exact::Value(0.0)), 7.0);
        r.clear();
        assert_eq!(r.max_returned(7.0, &mut |_| Exact::Value(0.0)), f64::NEG_INFINITY);
    }

    #[test]
    fn overflow_counts_every_row_handed_out_as_returned() {
        let mut r = Returned::default();
        for _ in 0..=MAX_UNKNOWN {
            r.handed(tid(1));
        }
        assert_eq!(r.max_returned(7.0, &mut |_| Exact::Value(0.0)), 7.0);
        r.clear();
        assert_eq!(r.max_returned(7.0, &mut |_| Exact::Value(0.0)), f64::NEG_INFINITY);
    }
}
