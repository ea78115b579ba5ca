//! Adversarial cases for the AVX2 kernels (review of d4492e3): masked tails
//! at the very end of a mapping, and float4 overflow that depends on the
//! order the terms are added in.

use super::*;

extern "C" {
    fn mmap(addr: *mut u8, len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> *mut u8;
    fn mprotect(addr: *mut u8, len: usize, prot: i32) -> i32;
    fn munmap(addr: *mut u8, len: usize) -> i32;
}

const PAGE: usize = 4096;

/// Two pages, the second made inaccessible: a read past the first faults.
struct Guarded(*mut u8);

impl Guarded {
    fn new() -> Guarded {
        // PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS
        // SAFETY: a fresh anonymous mapping, checked below.
        let p = unsafe { mmap(std::ptr::null_mut(), 2 * PAGE, 0x1 | 0x2, 0x02 | 0x20, -1, 0) };
        assert!(!p.is_null() && p as isize != -1, "mmap failed");
        // SAFETY: the second page of the mapping just made.
        assert_eq!(unsafe { mprotect(p.add(PAGE), PAGE, 0) }, 0, "mprotect failed");
        Guarded(p)
    }

    /// The last `n` floats of the readable page, set to 1, 2, ..., n.
    fn tail(&self, n: usize) -> &mut [f32] {
        // SAFETY: the first page is readable and writable, 4-byte aligned.
        let all = unsafe { std::slice::from_raw_parts_mut(self.0.cast::<f32>(), PAGE / 4) };
        let s = &mut all[PAGE / 4 - n..];
        for (i, x) in s.iter_mut().enumerate() {
            *x = (i + 1) as f32;
        }
        s
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`.
        unsafe { munmap(self.0, 2 * PAGE) };
    }
}

/// Slices whose last float is the last readable one before a PROT_NONE
/// page: the masked tail load must not touch the guard page (AMD's manual
/// leaves faults on masked-off VMASKMOV elements implementation dependent).
#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_tail_stops_at_a_guard_page() {
    if !wide::avx2::available() {
        return;
    }
    let g = Guarded::new();
    let h = Guarded::new();
    for n in 0..=40usize {
        let a = g.tail(n).to_vec();
        let (x, y) = (g.tail(n), h.tail(n));
        let ones = vec![1f32; n];
        let want_ip: f32 = (1..=n).map(|i| (i * i) as f32).sum();
        let want_sum: f32 = (1..=n).map(|i| i as f32).sum();
        // SAFETY: AVX2 and FMA checked above.
        unsafe {
            assert_eq!(wide::avx2::l2_squared(x, y), 0.0, "dim {n}");
            assert_eq!(wide::avx2::inner_product(x, y), want_ip, "dim {n}");
            assert_eq!(wide::avx2::inner_product(&ones, y), want_sum, "dim {n}");
            assert_eq!(wide::avx2::l2_squared(&a, x), 0.0, "dim {n}");
        }
        assert_eq!(l2_squared(x, y), 0.0, "dim {n}");
        assert_eq!(inner_product(x, y), want_ip as f64, "dim {n}");
        if n > 0 {
            assert!(cosine_distance(x, y).abs() < 1e-6, "dim {n}");
        }
    }
}

/// pgvector's inner-product loop adds terms 0, 8, 16, 24 in one lane (its
/// vectorised loop takes 8 at a time), as simsimd's single AVX2 accumulator
/// did: 2e38 - 1e38 + 3e38 overflows there and stays Infinity. The four
/// accumulators add (t0 + t8) + (t16 + t24) and must not return a finite
/// sum where pgvector (and the sequential reference) return Infinity.
#[test]
fn lane_order_overflow_as_pgvector() {
    for (n, terms) in [
        (32usize, &[(0usize, 2e38f32), (8, -1e38), (16, 3e38), (24, -3e38)][..]),
        (64, &[(0, 2e38), (8, -1e38), (16, 3e38), (24, -3e38), (32, -1e38)][..]),
        (40, &[(0, 2e38), (8, -1e38), (16, 3e38), (24, -3e38), (37, 1.0)][..]),
    ] {
        let mut a = vec![0f32; n];
        for &(i, v) in terms {
            a[i] = v;
        }
        let ones = vec![1f32; n];
        let want = scalar::inner_product(&a, &ones);
        assert_eq!(want, f64::INFINITY, "{terms:?}: the sequential loop overflows");
        let got = inner_product(&a, &ones);
        assert_eq!(got, want, "dim {n} {terms:?}: got {got}, pgvector's loop {want}");
        // (an index orders by `index_inner_product`, which checks only the
        // final sum: with running sums this close to float4's limit its
        // order may differ from the operator's values, by design)
    }
}

/// pgvector's inner-product loop rounds each product before adding it (no
/// fused multiply-add at x86-64's baseline), so a product beyond float4 is
/// Infinity whatever the running sum; a fused multiply-add into a negative
/// lane keeps it finite. (simsimd's AVX2 kernel fused too: not new in
/// d4492e3.)
#[test]
fn overflowing_product_is_infinity_as_pgvector() {
    let n = 16;
    let (mut a, mut b) = (vec![0f32; n], vec![1f32; n]);
    a[0] = -3e38;
    a[8] = 3e38;
    b[8] = 2.0;
    let want = scalar::inner_product(&a, &b);
    assert_eq!(want, f64::INFINITY);
    assert_eq!(inner_product(&a, &b), want, "product 6e38 overflows in pgvector");
}
