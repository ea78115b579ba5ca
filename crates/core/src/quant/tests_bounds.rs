//! Adversarial checks of the sq8 L2 bounds (the cheap one from the fused
//! kernel's distance and the full one) against the operator's own float4
//! sum and float8, and of the kernels' same bits at every tail length.

use super::kernels::*;
use super::*;
use crate::rng::Rng;

/// Dimensions with every tail shape (n mod 8, n mod 32) and long sums.
const DIMS: [usize; 25] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 31, 33, 100, 383, 384, 385, 1000, 2000, 16000];

/// The operator's values: the distance module's float4 kernel, and a
/// sequential float4 sum (pgvector's scalar loop), square-rooted.
fn operators(q: &[f32], x: &[f32]) -> [f64; 2] {
    let mut seq = 0f32;
    for (a, b) in q.iter().zip(x) {
        seq += (a - b) * (a - b);
    }
    [crate::distance::l2_squared(q, x).sqrt(), (seq as f64).sqrt()]
}

/// A pair of the `kind`th adversarial shape.
fn pair(kind: usize, dims: usize, rng: &mut Rng) -> (Vec<f32>, Vec<f32>) {
    // a scale from 1e-30 to 1e30 (tiny: subnormal squares and steps)
    let scale = 10f64.powf(rng.uniform() * 60.0 - 30.0);
    let normal = |rng: &mut Rng, s: f64| -> Vec<f32> { (0..dims).map(|_| (s * rng.normal()) as f32).collect() };
    match kind {
        // unrelated vectors at one scale
        0 => (normal(rng, scale), normal(rng, scale)),
        // the query is the vector
        1 => {
            let x = normal(rng, scale);
            (x.clone(), x)
        }
        // a near neighbour, possibly far from the origin
        2 => {
            let off = if rng.below(2) == 0 { 0.0 } else { 1e3 * scale };
            let x: Vec<f32> = normal(rng, scale).iter().map(|v| (*v as f64 + off) as f32).collect();
            let q = x.iter().map(|&v| (v as f64 + 1e-3 * scale * rng.normal()) as f32).collect();
            (q, x)
        }
        // a vector on (or near) its code grid, the query at offsets whose
        // squares are just below half the least subnormal (the operator's
        // float4 squares round to 0, the code's offsets may round up)
        3 => {
            let tiny = (f32::from_bits(1) as f64).sqrt(); // √(2^-149)
            let step = tiny * (0.01 + 1.5 * rng.uniform());
            let lo = if rng.below(2) == 0 { 0.0 } else { 1e-20 * rng.normal() };
            let s = step * 0.45 * rng.uniform();
            let off = tiny * (0.6 + 0.3 * rng.uniform());
            let grid: Vec<f64> = (0..dims).map(|i| lo + step * [0, 255, rng.below(256)][(i % 3).min(2)] as f64).collect();
            let x = grid.iter().enumerate().map(|(i, g)| (g + if i % 3 < 2 { 0.0 } else { s }) as f32).collect();
            let q = grid.iter().map(|g| (g + off) as f32).collect();
            (q, x)
        }
        // the query far outside the codes' range
        4 => {
            let x = normal(rng, scale);
            let q = normal(rng, scale).iter().map(|v| (*v as f64 + 1e4 * scale) as f32).collect();
            (q, x)
        }
        // a constant vector (step 0)
        5 => {
            let c = (scale * rng.normal()) as f32;
            (normal(rng, scale), vec![c; dims])
        }
        // ±3e38 ranges
        _ => {
            let x: Vec<f32> = (0..dims).map(|_| (3e38 * (2.0 * rng.uniform() - 1.0)) as f32).collect();
            (normal(rng, 1e37), x)
        }
    }
}

#[test]
fn l2_bounds_never_exceed_the_operator_on_adversarial_pairs() {
    let mut rng = Rng::new(1515);
    let mut checked = 0;
    for dims in DIMS {
        let sq = Sq8 { dims };
        let rounds = if dims >= 2000 { 7 } else { 70 };
        for round in 0..rounds {
            let (q, x) = pair(round % 7, dims, &mut rng);
            let (query, code) = (sq.query(&q), sq.encode(&x));
            let exact = q.iter().zip(&x).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum::<f64>().sqrt();
            let full = sq.lower_bound(Metric::L2, &query, &code);
            let cheap = sq.bound_from_distance(Metric::L2, &query, &code, sq.distance(Metric::L2, &query, &code));
            for (what, b) in [("full", full), ("cheap", cheap)] {
                assert!(!b.is_nan(), "{what} bound NaN, kind {} dims {dims}", round % 7);
                assert!(b <= exact, "{what} bound {b} above the float8 distance {exact}: kind {} dims {dims}", round % 7);
                for op in operators(&q, &x) {
                    assert!(b <= op || op.is_nan(), "{what} bound {b} above the operator's {op}: kind {} dims {dims}", round % 7);
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 1000);
}

/// The plain loop and the AVX2 kernel agree bit for bit at every tail
/// length, for ordinary and extreme magnitudes.
#[test]
fn l2_kernel_same_bits_at_every_tail() {
    let mut rng = Rng::new(77);
    for dims in DIMS {
        let sq = Sq8 { dims };
        for kind in 0..7 {
            let (q, x) = pair(kind, dims, &mut rng);
            let code = sq.encode(&x);
            let c = sq.code(&code).unwrap();
            let body = l2_to_code_body(&q, c.lo, c.step, c.codes);
            assert_eq!((l2_to_code(&q, &c) as f32).to_bits(), body.to_bits(), "dims {dims} kind {kind}");
        }
    }
}

/// Squares on either side of half the least subnormal (2^-149): a vector
/// `s` above its code grid point (within half a step), a query `off`
/// above the grid point, `off - s` from the vector: the operator's squares
/// ((off - s)² below half of 2^-149) round to 0, so it answers 0, while
/// the kernel's fused squares of `off` round up to 2^-149 each. Neither
/// bound may be above 0.
#[test]
fn l2_bounds_allow_for_subnormal_squares() {
    let tiny = (f32::from_bits(1) as f64).sqrt();
    for dims in [8, 33, 384, 2000] {
        let sq = Sq8 { dims };
        for (step, s, off) in [(0.12, 0.05, 0.72), (0.2, 0.07, 0.75), (1.0, 0.3, 0.9), (0.01, 0.0, 0.7)] {
            let (step, s, off) = (step * tiny, s * tiny, off * tiny);
            let grid: Vec<f64> = (0..dims).map(|i| step * [0, 255, 17, 100, 200][i % 5] as f64).collect();
            // the minimum and the maximum on the grid, the rest `s` above
            let x: Vec<f32> = grid.iter().enumerate().map(|(i, g)| (g + if i % 5 < 2 { 0.0 } else { s }) as f32).collect();
            let q: Vec<f32> = grid.iter().map(|g| (g + off) as f32).collect();
            let (query, code) = (sq.query(&q), sq.encode(&x));
            let [op, seq] = operators(&q, &x);
            let full = sq.lower_bound(Metric::L2, &query, &code);
            let cheap = sq.bound_from_distance(Metric::L2, &query, &code, sq.distance(Metric::L2, &query, &code));
            assert!(cheap <= op.min(seq), "cheap bound {cheap} above the operator's {op} / {seq} (dims {dims}, step {step:e})");
            assert!(full <= op.min(seq), "full bound {full} above the operator's {op} / {seq} (dims {dims}, step {step:e})");
        }
    }
}

/// Inner products of elements near √(2^-149) round up to 2^-149 each
/// in float4 (0.51 of it, exactly): the operator's -Σ is then about twice
/// as negative as the real one; the bound must be below it.
#[test]
fn ip_bound_allows_for_subnormal_products() {
    let tiny = (f32::from_bits(1) as f64).sqrt();
    for dims in [8, 384] {
        let sq = Sq8 { dims };
        let x = vec![(0.714 * tiny) as f32; dims];
        let mut seq = 0f32;
        for v in &x {
            seq += v * v;
        }
        let op = -(seq as f64);
        let lb = sq.lower_bound(Metric::InnerProduct, &sq.query(&x), &sq.encode(&x));
        assert!(lb <= op, "dims {dims}: bound {lb:e} above the operator's {op:e}");
        assert!(lb <= -crate::distance::inner_product(&x, &x), "dims {dims}: bound {lb:e}");
    }
}
