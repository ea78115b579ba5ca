//! Neighbour lists of an in-memory graph. Layer 0, which every element has
//! and every search step reads, is one flat array: each element owns a
//! fixed run of 64-byte lines holding a header word (a lock bit and the
//! list's length) and `capacity` link slots, so reading a list costs the
//! misses on its own lines and nothing else (no mutex, no pointer to
//! follow). Readers take no lock: they read the length, then the slots, and
//! a list being rewritten meanwhile may read as a mix of its old and new
//! links (every slot always holds some element's id, so a search only sees
//! a slightly stale list; writers compare-and-set under the lock, so no
//! update is lost). The few upper-layer lists stay behind a mutex each.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Lock bit of a layer-0 header word; the low bits are the length.
const LOCKED: u32 = 1 << 31;
/// Words in one 64-byte line.
const WORDS: usize = 16;

/// One cache line of layer-0 words.
#[repr(align(64))]
struct Line([AtomicU32; WORDS]);

impl Line {
    fn new() -> Self {
        Line(std::array::from_fn(|_| AtomicU32::new(0)))
    }
}

fn lock_upper<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking worker poisons nothing we rely on: lists stay valid.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every element's neighbour lists.
pub(super) struct Lists {
    /// Link slots per layer-0 list.
    cap0: usize,
    /// Lines per element on layer 0.
    lines: usize,
    layer0: Vec<Line>,
    /// Layers `1..=level` of each element (empty for level 0).
    upper: Vec<Mutex<Vec<Vec<u32>>>>,
}

/// Holds one layer-0 list's lock; released on drop.
pub(super) struct Locked<'a> {
    lists: &'a Lists,
    i: usize,
    len: usize,
}

impl Lists {
    /// Lists for elements of `levels`, with room for `cap0` links on layer
    /// 0 and `cap_upper` (initial capacity) above.
    pub fn new(levels: &[u8], cap0: usize, cap_upper: usize) -> Self {
        let lines = (1 + cap0).div_ceil(WORDS);
        let n = levels.len();
        let layer0 = (0..n * lines).map(|_| Line::new()).collect();
        let upper = levels
            .iter()
            .map(|&l| Mutex::new((0..l as usize).map(|_| Vec::with_capacity(cap_upper)).collect()))
            .collect();
        Lists { cap0, lines, layer0, upper }
    }

    /// Layer-0 slots of a list that needs at least `min`: as many as fill
    /// its cache lines.
    pub fn slots(min: usize) -> usize {
        (1 + min).div_ceil(WORDS) * WORDS - 1
    }

    /// Heap bytes per element of a graph with `cap0` layer-0 slots, apart
    /// from the upper layers' lists themselves.
    pub fn bytes_per_element(cap0: usize) -> usize {
        (1 + cap0).div_ceil(WORDS) * 64 + std::mem::size_of::<Mutex<Vec<Vec<u32>>>>()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.upper.len()
    }

    #[inline]
    fn word(&self, i: usize, w: usize) -> &AtomicU32 {
        &self.layer0[i * self.lines + w / WORDS].0[w % WORDS]
    }

    /// Asks the CPU to start loading element `i`'s layer-0 list.
    #[inline]
    pub fn prefetch(&self, i: usize) {
        if let Some(lines) = self.layer0.get(i * self.lines..(i + 1) * self.lines) {
            crate::distance::prefetch(lines);
        }
    }

    /// Appends element `i`'s links on `layer` to `out` (nothing if it has
    /// no such layer); false if it has none.
    #[inline]
    pub fn read_into<T: From<u32>>(&self, i: usize, layer: usize, out: &mut Vec<T>) -> bool {
        if i >= self.len() {
            return false;
        }
        if layer == 0 {
            let len = ((self.word(i, 0).load(Ordering::Acquire) & !LOCKED) as usize).min(self.cap0);
            out.reserve(len);
            for w in 1..=len {
                out.push(T::from(self.word(i, w).load(Ordering::Relaxed)));
            }
            return true;
        }
        match lock_upper(&self.upper[i]).get(layer - 1) {
            Some(list) => {
                out.extend(list.iter().map(|&x| T::from(x)));
                true
            }
            None => false,
        }
    }

    /// Locks element `i`'s layer-0 list (spinning while another thread
    /// holds it: holders only copy a few words).
    pub fn lock0(&self, i: usize) -> Locked<'_> {
        let head = self.word(i, 0);
        let mut spins = 0u32;
        loop {
            let cur = head.load(Ordering::Relaxed);
            if cur & LOCKED == 0 && head.compare_exchange_weak(cur, cur | LOCKED, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                return Locked { lists: self, i, len: cur as usize };
            }
            spins += 1;
            if spins % 64 == 0 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// Runs `f` on element `i`'s list on `layer` (layer 0 copied out and
    /// written back when `f` returns true); None if it has no such layer.
    pub fn with_list<R>(&self, i: usize, layer: usize, f: impl FnOnce(&mut Vec<u32>) -> (bool, R)) -> Option<R> {
        if i >= self.len() {
            return None;
        }
        if layer == 0 {
            let mut held = self.lock0(i);
            let mut list = held.links();
            let (write, r) = f(&mut list);
            if write {
                held.set(&list);
            }
            return Some(r);
        }
        let mut upper = lock_upper(&self.upper[i]);
        let list = upper.get_mut(layer - 1)?;
        Some(f(list).1)
    }

    /// Replaces element `i`'s list on `layer` (ignored if it has none).
    pub fn set(&self, i: usize, layer: usize, new: &[u32]) {
        self.with_list(i, layer, |list| {
            list.clear();
            list.extend_from_slice(new);
            (true, ())
        });
    }

    /// Number of layers element `i` has lists on.
    pub fn layers(&self, i: usize) -> usize {
        lock_upper(&self.upper[i]).len() + 1
    }
}

impl Locked<'_> {
    /// The locked list's links.
    pub fn links(&self) -> Vec<u32> {
        (1..=self.len).map(|w| self.lists.word(self.i, w).load(Ordering::Relaxed)).collect()
    }

    /// Writes `new` (cut to the capacity) as the list; stays locked.
    pub fn set(&mut self, new: &[u32]) {
        debug_assert!(new.len() <= self.lists.cap0, "list of {} over {} slots", new.len(), self.lists.cap0);
        let new = &new[..new.len().min(self.lists.cap0)];
        for (w, &x) in new.iter().enumerate() {
            self.lists.word(self.i, w + 1).store(x, Ordering::Relaxed);
        }
        self.len = new.len();
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // publishes the slots written before it with the new length
        self.lists.word(self.i, 0).store(self.len as u32, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(l: &Lists, i: usize, layer: usize) -> Option<Vec<u32>> {
        let mut out = Vec::new();
        l.read_into(i, layer, &mut out).then_some(out)
    }

    /// Lists of every layer read back what was written, exist only up to
    /// an element's level, and a layer-0 list holds its full capacity
    /// without touching its neighbour's lines.
    #[test]
    fn lists_keep_what_was_written_up_to_capacity() {
        let levels = [0u8, 2, 0, 1];
        let l = Lists::new(&levels, 40, 24);
        for i in 0..4 {
            assert_eq!(read(&l, i, 0), Some(vec![]));
            assert_eq!(l.layers(i), levels[i] as usize + 1);
            assert_eq!(read(&l, i, levels[i] as usize + 1), None);
        }
        assert_eq!(read(&l, 4, 0), None);
        let full: Vec<u32> = (100..140).collect();
        l.set(1, 0, &full);
        l.set(2, 0, &[7, 8, 9]);
        l.set(1, 2, &[3, 0]);
        l.set(0, 1, &[5]); // no layer 1: ignored
        assert_eq!(read(&l, 1, 0), Some(full.clone()));
        assert_eq!(read(&l, 2, 0), Some(vec![7, 8, 9]));
        assert_eq!(read(&l, 0, 0), Some(vec![]));
        assert_eq!(read(&l, 1, 1), Some(vec![]));
        assert_eq!(read(&l, 1, 2), Some(vec![3, 0]));
        assert_eq!(read(&l, 0, 1), None);
        l.set(1, 0, &[1]);
        assert_eq!(read(&l, 1, 0), Some(vec![1]));
        assert!(Lists::bytes_per_element(40) >= 41 * 4);
        assert_eq!(Lists::slots(40), 47);
        assert_eq!(Lists::slots(47), 47);
        assert_eq!(Lists::slots(48), 63);
    }

    /// Writers that compare and set under the lock never lose each
    /// other's links, and lock-free readers only ever see written ids.
    #[test]
    fn concurrent_writers_lose_nothing() {
        const THREADS: u32 = 4;
        const EACH: u32 = 10;
        let l = Lists::new(&[0, 0], THREADS as usize * EACH as usize, 8);
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let l = &l;
                s.spawn(move || {
                    for k in 0..EACH {
                        l.with_list(0, 0, |list| {
                            list.push(t * 100 + k);
                            (true, ())
                        });
                        let seen = read(l, 0, 0).expect("layer 0");
                        assert!(seen.iter().all(|&x| x % 100 < EACH && x / 100 < THREADS), "{seen:?}");
                    }
                });
            }
        });
        let mut got = read(&l, 0, 0).expect("layer 0");
        got.sort();
        let want: Vec<u32> = (0..THREADS).flat_map(|t| (0..EACH).map(move |k| t * 100 + k)).collect();
        assert_eq!(got, want);
        assert_eq!(read(&l, 1, 0), Some(vec![]));
    }

    /// Writers that shrink and regrow a list (each under the lock) while
    /// lock-free readers read it: a reader never sees more links than the
    /// capacity, nor an id no writer ever put in that list (slots past a
    /// shorter list's end keep older links, which are still ids of it).
    #[test]
    fn readers_of_shrinking_lists_see_only_written_ids() {
        const CAP: usize = 31;
        let l = Lists::new(&[0, 0, 0], CAP, 8);
        let done = AtomicU32::new(0);
        std::thread::scope(|s| {
            for t in 0..2u32 {
                let (l, done) = (&l, &done);
                s.spawn(move || {
                    let mut rng = crate::rng::Rng::new(t as u64 + 7);
                    for _ in 0..20_000 {
                        let n = rng.below(CAP as u64 + 1) as usize;
                        // ids 1000.. only; slot 0's initial 0 is never a link
                        let new: Vec<u32> = (0..n).map(|k| 1000 + 100 * t + k as u32).collect();
                        l.set(1, 0, &new);
                    }
                    done.fetch_add(1, Ordering::Release);
                });
            }
            let (l, done) = (&l, &done);
            s.spawn(move || {
                let mut out: Vec<u32> = Vec::new();
                let mut reads = 0u64;
                while done.load(Ordering::Acquire) < 2 || reads < 1000 {
                    out.clear();
                    assert!(l.read_into(1, 0, &mut out));
                    assert!(out.len() <= CAP, "{} links", out.len());
                    assert!(out.iter().all(|&x| (1000..1000 + CAP as u32).contains(&x) || (1100..1100 + CAP as u32).contains(&x)), "{out:?}");
                    reads += 1;
                }
            });
        });
        let mut out: Vec<u32> = Vec::new();
        assert!(l.read_into(1, 0, &mut out));
        assert!(out.len() <= CAP);
        // the neighbours' lines were never written
        assert_eq!(read(&l, 0, 0), Some(vec![]));
        assert_eq!(read(&l, 2, 0), Some(vec![]));
    }
}
