//! Half and bit kernels: SIMD against the scalar float4 loops and against
//! f64 truth over the exactly widened halves; bit kernels against a naive
//! bit-by-bit count. Seeds are printed.

use super::{bits, half, scalar};
use crate::half::{from_f32, to_f32_vec};
use crate::rng::Rng;

fn bound(n: usize) -> f64 {
    4.0 * n as f64 * f32::EPSILON as f64
}

#[test]
fn half_kernels_match_references() {
    let seed = 0x4841_4c46_0001;
    println!("half kernels seed {seed}");
    let mut rng = Rng::new(seed);
    for n in (1..=64).chain((65..=2048).step_by(41)).chain([384, 1536, 4000]) {
        let a: Vec<u16> = (0..n).map(|_| from_f32(rng.normal() as f32)).collect();
        let b: Vec<u16> = (0..n).map(|_| from_f32(rng.normal() as f32)).collect();
        let (fa, fb) = (to_f32_vec(&a), to_f32_vec(&b));
        let l2 = scalar::exact::l2_squared(&fa, &fb);
        let ip = scalar::exact::inner_product(&fa, &fb);
        let l1 = scalar::exact::l1_distance(&fa, &fb);
        let cos = scalar::exact::cosine_distance(&fa, &fb);
        let abs_dot: f64 = fa.iter().zip(&fb).map(|(x, y)| (*x as f64 * *y as f64).abs()).sum();
        let close = |name: &str, got: f64, want: f64, scale: f64| {
            let err = (got - want).abs();
            assert!(err <= bound(n) * scale + 1e-30, "{name}: dim {n} seed {seed}: got {got}, want {want}");
        };
        for (kind, l2k, ipk, l1k, cosk) in [
            ("dispatched", half::l2_squared(&a, &b), half::inner_product(&a, &b), half::l1_distance(&a, &b), half::cosine_distance(&a, &b)),
            (
                "scalar",
                half::scalar::l2_squared(&a, &b),
                half::scalar::inner_product(&a, &b),
                half::scalar::l1_distance(&a, &b),
                half::scalar::cosine_distance(&a, &b),
            ),
        ] {
            close(&format!("{kind} l2sq"), l2k, l2, l2);
            close(&format!("{kind} dot"), ipk, ip, abs_dot);
            close(&format!("{kind} l1"), l1k, l1, l1);
            close(&format!("{kind} cos"), cosk, cos, 1.0);
        }
        // the scalar half loops are the float4 loops over widened values
        assert_eq!(half::scalar::l2_squared(&a, &b), scalar::l2_squared(&fa, &fb));
        assert_eq!(half::scalar::inner_product(&a, &b), scalar::inner_product(&fa, &fb));
        let lanes = half::reference::l2_squared(&a, &b) as f64;
        assert!((lanes - l2).abs() <= bound(n) * l2 + 1e-30, "reference l2sq dim {n}");
        let want = ip.abs().max(scalar::exact::inner_product(&fa, &fa)).sqrt();
        assert!((half::norm(&a) - scalar::exact::inner_product(&fa, &fa).sqrt()).abs() <= 1e-12 * want.max(1.0));
    }
}

/// The dispatched kernels are pgvector's algorithm on this CPU, bit for bit:
/// the portable lane reference where pgvector takes its F16C path, else
/// the sequential loop.
#[test]
fn half_kernels_are_pgvectors_bit_for_bit() {
    let seed = 0x4841_4c46_0002;
    let mut rng = Rng::new(seed);
    println!("half exactness seed {seed}, path {:?}", half::path());
    for n in (1..=80).chain([127, 384, 385, 1536, 4000]) {
        for scale in [1.0, 1e-3, 300.0] {
            let a: Vec<u16> = (0..n).map(|_| from_f32((rng.normal() * scale) as f32)).collect();
            let b: Vec<u16> = (0..n).map(|_| from_f32((rng.normal() * scale) as f32)).collect();
            let want = match half::path() {
                half::Path::Lanes => (
                    half::reference::l2_squared(&a, &b),
                    half::reference::inner_product(&a, &b),
                    half::reference::l1_distance(&a, &b),
                ),
                half::Path::Sequential if cfg!(target_arch = "aarch64") => {
                    let (fa, fb) = (to_f32_vec(&a), to_f32_vec(&b));
                    let l2 = fa.iter().zip(&fb).fold(0f32, |s, (x, y)| (x - y).mul_add(x - y, s));
                    let ip = fa.iter().zip(&fb).fold(0f32, |s, (x, y)| x.mul_add(*y, s));
                    (l2, ip, half::scalar::l1_distance(&a, &b) as f32)
                }
                half::Path::Sequential => (
                    half::scalar::l2_squared(&a, &b) as f32,
                    half::scalar::inner_product(&a, &b) as f32,
                    half::scalar::l1_distance(&a, &b) as f32,
                ),
            };
            let got = (half::l2_squared(&a, &b), half::inner_product(&a, &b), half::l1_distance(&a, &b));
            assert_eq!(got.0.to_bits(), (want.0 as f64).to_bits(), "l2sq dim {n} seed {seed}");
            assert_eq!(got.1.to_bits(), (want.1 as f64).to_bits(), "dot dim {n} seed {seed}");
            assert_eq!(got.2.to_bits(), (want.2 as f64).to_bits(), "l1 dim {n} seed {seed}");
        }
    }
}

#[test]
fn half_kernels_at_the_edges() {
    let big = [from_f32(65504.0); 2];
    let neg = [from_f32(-65504.0); 2];
    // (2 * 65504)^2 * 2 fits float4; the exact value comes back
    assert_eq!(half::l2_squared(&big, &neg), 2.0 * (131008.0f32 * 131008.0) as f64);
    assert_eq!(half::inner_product(&big, &big), (2.0 * 65504.0f32 * 65504.0) as f64);
    let zero = [0u16; 3];
    assert!(half::cosine_distance(&zero, &zero).is_nan());
    assert_eq!(half::l1_distance(&big, &neg), 262016.0);
}

fn naive_bits(a: &[u8], b: &[u8]) -> (u64, u64, u64) {
    let (mut diff, mut both, mut any) = (0, 0, 0);
    for (x, y) in a.iter().zip(b) {
        for i in 0..8 {
            let (p, q) = ((x >> i) & 1, (y >> i) & 1);
            diff += (p ^ q) as u64;
            both += (p & q) as u64;
            any += (p | q) as u64;
        }
    }
    (diff, both, any)
}

#[test]
fn bit_kernels_match_naive_counts() {
    let seed = 0xb175_0001;
    println!("bit kernels seed {seed}");
    let mut rng = Rng::new(seed);
    for n in (0..=70).chain([125, 128, 1000, 8000]) {
        let a: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
        let b: Vec<u8> = (0..n).map(|_| (rng.next_u64() & rng.next_u64()) as u8).collect();
        let (diff, both, any) = naive_bits(&a, &b);
        assert_eq!(bits::hamming(&a, &b), diff as f64, "n {n}");
        let want = if both == 0 { 1.0 } else { 1.0 - both as f64 / any as f64 };
        assert_eq!(bits::jaccard(&a, &b), want, "n {n}");
    }
    assert_eq!(bits::jaccard(&[], &[]), 1.0);
    assert_eq!(bits::jaccard(&[0b1100_0000], &[0b1000_0000]), 0.5);
    assert_eq!(bits::hamming(&[], &[]), 0.0);
}
