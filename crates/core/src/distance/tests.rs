//! Kernels against the f64 reference on random vectors of every length
//! 1..2048 (odd ones included). Seeds are printed so a failure can be replayed.

use super::*;
use crate::rng::Rng;

/// Relative error bound for f32 accumulation over `n` terms: a few ulps per
/// term in the worst case, far less on random data. Measured against the sum
/// of absolute terms so cancellation does not blow up the ratio.
fn bound(n: usize) -> f64 {
    4.0 * n as f64 * f32::EPSILON as f64
}

fn check(name: &str, got: f64, want: f64, scale: f64, n: usize, seed: u64) {
    let err = (got - want).abs();
    assert!(
        err <= bound(n) * scale + 1e-30,
        "{name}: dim {n} seed {seed}: got {got}, want {want}, err {err}, allowed {}",
        bound(n) * scale
    );
}

#[test]
fn kernels_match_f64_reference() {
    let seed = 0x5eed_0001;
    println!("distance kernels seed {seed}");
    let mut rng = Rng::new(seed);
    for n in (1..=64).chain((65..=2048).step_by(37)).chain([384, 1536, 2047, 2048]) {
        let a: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
        let b: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
        let abs_dot: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64 * *y as f64).abs()).sum();
        let l2 = scalar::exact::l2_squared(&a, &b);
        let ip = scalar::exact::inner_product(&a, &b);
        let l1 = scalar::exact::l1_distance(&a, &b);
        let cos = scalar::exact::cosine_distance(&a, &b);
        for (kind, l2k, ipk, l1k, cosk) in [
            ("simd", l2_squared(&a, &b), inner_product(&a, &b), l1_distance(&a, &b), cosine_distance(&a, &b)),
            (
                "scalar",
                scalar::l2_squared(&a, &b),
                scalar::inner_product(&a, &b),
                scalar::l1_distance(&a, &b),
                scalar::cosine_distance(&a, &b),
            ),
        ] {
            check(&format!("{kind} l2sq"), l2k, l2, l2, n, seed);
            check(&format!("{kind} dot"), ipk, ip, abs_dot, n, seed);
            check(&format!("{kind} l1"), l1k, l1, l1, n, seed);
            // cosine is a ratio: its absolute error is bounded by the relative
            // error of the dot product over the norms, itself at most 1.
            check(&format!("{kind} cos"), cosk, cos, 1.0, n, seed);
        }
    }
}

#[test]
fn worked_example() {
    let a = [2.0f32, 3.0, 4.0];
    let b = [1.0f32, 2.0, 3.0];
    assert_eq!(inner_product(&a, &b), 20.0);
    assert!((l2_squared(&a, &b).sqrt() - 3f64.sqrt()).abs() < 1e-12);
    let sim = 20.0 / (29f64.sqrt() * 14f64.sqrt());
    assert!((sim - 0.99258).abs() < 1e-5, "{sim}");
    assert!((cosine_distance(&a, &b) - (1.0 - sim)).abs() < 1e-7);
    assert_eq!(l1_distance(&a, &b), 3.0);
}

#[test]
fn zero_norm_cosine_is_nan() {
    assert!(cosine_distance(&[0.0, 0.0], &[1.0, 2.0]).is_nan());
    assert!(scalar::cosine_distance(&[0.0, 0.0], &[1.0, 2.0]).is_nan());
}

#[test]
fn cosine_is_clamped() {
    let a = [1e-3f32, 3e-3, 7e-3];
    let d = cosine_distance(&a, &a);
    assert!((0.0..1e-6).contains(&d), "{d}");
    let neg: Vec<f32> = a.iter().map(|x| -x).collect();
    assert!(cosine_distance(&a, &neg) <= 2.0);
}

#[test]
fn index_distance_orders_like_operator() {
    let mut rng = Rng::new(7);
    let q: Vec<f32> = (0..16).map(|_| rng.normal() as f32).collect();
    let xs: Vec<Vec<f32>> = (0..50).map(|_| (0..16).map(|_| rng.normal() as f32).collect()).collect();
    for metric in [Metric::L2, Metric::L1, Metric::InnerProduct] {
        let op = |x: &[f32]| match metric {
            Metric::L2 => l2_squared(&q, x).sqrt(),
            Metric::L1 => l1_distance(&q, x),
            _ => -inner_product(&q, x),
        };
        let mut by_op: Vec<usize> = (0..xs.len()).collect();
        by_op.sort_by(|&i, &j| op(&xs[i]).total_cmp(&op(&xs[j])));
        let mut by_idx = by_op.clone();
        by_idx.sort_by(|&i, &j| {
            index_distance(metric, &q, &xs[i]).total_cmp(&index_distance(metric, &q, &xs[j]))
        });
        assert_eq!(by_op, by_idx, "{metric:?}");
    }
}

#[test]
fn reports_a_backend() {
    assert!(!simd_capabilities().is_empty());
}
