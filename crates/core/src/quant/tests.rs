//! Tests of sq8: codes, distances, bounds, and the kernels (AVX2 against
//! the plain loops).

use super::kernels::*;
use super::*;
use crate::distance::scalar::exact;
use crate::rng::Rng;

fn random(n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n).map(|_| rng.normal() as f32).collect()
}

#[test]
fn wide_kernels_give_the_same_bits() {
    let mut rng = Rng::new(9);
    for dims in [1, 7, 8, 9, 31, 32, 33, 40, 63, 64, 65, 384, 1536] {
        let sq = Sq8 { dims };
        let x = random(dims, &mut rng);
        let code = sq.encode(&random(dims, &mut rng));
        let c = sq.code(&code).unwrap();
        let q: Vec<f32> = x.iter().map(|v| v * 0.5).collect();
        let scalar = (l2_to_code_body(&q, c.lo, c.step, c.codes), dot_u8_body(&q, c.codes));
        assert_eq!((l2_to_code(&q, &c) as f32, dot_u8(&q, c.codes) as f32), scalar, "dims {dims}");
    }
}

/// The lane sums of the bounds (and their AVX2 build) equal the plain
/// sequential float8 sums up to float8 rounding; the L2 and L1 sq8
/// kernels give the scalar loops' bits on many random vectors.
#[test]
fn lane_sums_match_the_sequential_ones() {
    let mut rng = Rng::new(11);
    for dims in [1, 3, 4, 5, 8, 16, 23, 384, 1000] {
        let sq = Sq8 { dims };
        for _ in 0..20 {
            let code = sq.encode(&random(dims, &mut rng));
            let c = sq.code(&code).unwrap();
            let q = random(dims, &mut rng);
            let (lo, step) = (c.lo as f64, c.step as f64);
            let half = step / 2.0;
            for square in [true, false] {
                let (mut near, mut far) = (0f64, 0f64);
                for (&v, &k) in q.iter().zip(c.codes) {
                    let off = (v as f64 - (lo + step * k as f64)).abs();
                    let (gap, reach) = ((off - half).max(0.0), off + half);
                    near += if square { gap * gap } else { gap };
                    far += if square { reach * reach } else { reach };
                }
                let got = if square {
                    gap_sums::<true>(&q, c.codes, lo, step, half)
                } else {
                    gap_sums::<false>(&q, c.codes, lo, step, half)
                };
                let body = if square {
                    gap_sums_body::<true>(&q, c.codes, lo, step, half)
                } else {
                    gap_sums_body::<false>(&q, c.codes, lo, step, half)
                };
                assert_eq!(got, body, "dims {dims}");
                assert!((got.0 - near).abs() <= 1e-12 * near.abs().max(1e-300), "dims {dims}: {} vs {near}", got.0);
                assert!((got.1 - far).abs() <= 1e-12 * far.abs(), "dims {dims}: {} vs {far}", got.1);
            }
            assert_eq!(l2_to_code(&q, &c) as f32, l2_to_code_body(&q, c.lo, c.step, c.codes), "dims {dims}");
            assert_eq!(dot_u8(&q, c.codes) as f32, dot_u8_body(&q, c.codes), "dims {dims}");
        }
    }
}

#[test]
fn codes_are_within_half_a_step() {
    let mut rng = Rng::new(1);
    for dims in [1, 3, 8, 17, 384, 1536] {
        let q = Sq8 { dims };
        let x = random(dims, &mut rng);
        let code = q.encode(&x);
        assert_eq!(code.len(), q.value_bytes());
        let step = header(&code).unwrap()[1];
        for (a, b) in x.iter().zip(q.decode(&code).unwrap()) {
            assert!((a - b).abs() <= step / 2.0 * 1.0001 + 1e-7, "dims {dims}: {a} vs {b}");
        }
    }
    // constant vectors decode exactly
    let q = Sq8 { dims: 4 };
    assert_eq!(q.decode(&q.encode(&[2.5; 4])).unwrap(), vec![2.5; 4]);
}

#[test]
fn distances_match_the_decoded_vectors_and_bounds_hold() {
    let mut rng = Rng::new(2);
    for dims in [5, 64, 384] {
        let sq = Sq8 { dims };
        for _ in 0..200 {
            let mut x = random(dims, &mut rng);
            let mut y = random(dims, &mut rng);
            for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1] {
                if metric == Metric::Cosine {
                    for v in [&mut x, &mut y] {
                        let n = v.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt() as f32;
                        v.iter_mut().for_each(|a| *a /= n);
                    }
                }
                let code = sq.encode(&y);
                let dec = sq.decode(&code).unwrap();
                let query = sq.query(&x);
                let want = match metric {
                    Metric::L2 => exact::l2_squared(&x, &dec),
                    Metric::InnerProduct => -exact::inner_product(&x, &dec),
                    Metric::Cosine => 1.0 - exact::inner_product(&x, &dec),
                    Metric::L1 => exact::l1_distance(&x, &dec),
                    Metric::Hamming | Metric::Jaccard => unreachable!(),
                };
                let got = sq.distance(metric, &query, &code);
                assert!((got - want).abs() <= 1e-4 * (1.0 + want.abs()), "{metric:?} dims {dims}: {got} vs {want}");
                // the bound never exceeds the exact distance to the original
                let truth = match metric {
                    Metric::L2 => exact::l2_squared(&x, &y).sqrt(),
                    Metric::InnerProduct => -exact::inner_product(&x, &y),
                    Metric::Cosine => 1.0 - exact::inner_product(&x, &y),
                    Metric::L1 => exact::l1_distance(&x, &y),
                    Metric::Hamming | Metric::Jaccard => unreachable!(),
                };
                let lb = sq.lower_bound(metric, &query, &code);
                assert!(lb <= truth + 1e-9 * (1.0 + truth.abs()), "{metric:?} dims {dims}: bound {lb} above {truth}");
                let bt = sq.between(metric, &sq.encode(&x), &code);
                assert!(bt.is_finite());
            }
        }
    }
}

/// The operators' float4 arithmetic, summed in one lane (pgvector's
/// scalar loop) or eight (a SIMD back-end).
fn op_f4(metric: Metric, a: &[f32], b: &[f32], lanes: usize) -> f64 {
    let sum = |f: &dyn Fn(f32, f32) -> f32| {
        let mut acc = vec![0f32; lanes];
        for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
            acc[i % lanes] += f(x, y);
        }
        acc.iter().sum::<f32>()
    };
    match metric {
        Metric::L2 => (sum(&|x, y| (x - y) * (x - y)) as f64).sqrt(),
        Metric::InnerProduct => -(sum(&|x, y| x * y) as f64),
        Metric::L1 => sum(&|x, y| (x - y).abs()) as f64,
        Metric::Cosine => {
            let (d, na, nb) = (sum(&|x, y| x * y) as f64, sum(&|x, _| x * x) as f64, sum(&|_, y| y * y) as f64);
            1.0 - (d / (na * nb).sqrt()).clamp(-1.0, 1.0)
        }
        Metric::Hamming | Metric::Jaccard => unreachable!("sq8 is float only"),
    }
}

#[test]
fn bounds_allow_for_the_operators_float4_sums() {
    let n = 16000;
    let mut big_then_ones = vec![1f32; n];
    big_then_ones[0] = 1e8;
    let cases: Vec<(Metric, Vec<f32>, Vec<f32>)> = vec![
        // cancellation: the float4 dot loses the small term
        (Metric::InnerProduct, vec![1e8, -1.0, -1e8], vec![1.0, 1.0, 1.0]),
        (Metric::InnerProduct, vec![1e8, -3.0, -1e8, 0.5], vec![1.0, 1.0, 1.0, 0.9]),
        // overflow: the float4 dot is +inf, the operator -inf
        (Metric::InnerProduct, vec![3e38, 3e38], vec![1.0, 1.0]),
        // 16,000 ones absorbed by a big first term
        (Metric::L1, big_then_ones.clone(), vec![0f32; n]),
        (Metric::L2, big_then_ones.iter().map(|v| v.sqrt()).collect(), vec![0f32; n]),
    ];
    for (metric, q, x) in cases {
        let sq = Sq8 { dims: q.len() };
        let lb = sq.lower_bound(metric, &sq.query(&q), &sq.encode(&x));
        for lanes in [1, 8] {
            let op = op_f4(metric, &q, &x, lanes);
            assert!(lb <= op, "{metric:?} dims {} lanes {lanes}: bound {lb} above the operator's {op}", q.len());
        }
    }
}

#[test]
fn bounds_hold_against_float4_operators_on_random_data() {
    let mut rng = Rng::new(3);
    for dims in [3, 100, 1536] {
        let sq = Sq8 { dims };
        for round in 0..100 {
            // mixed scales and signs, some far from the origin
            let offset = if round % 3 == 0 { 1000.0 } else { 0.0 };
            let scale = [1e-3, 1.0, 1e4][round % 3];
            let x: Vec<f32> = (0..dims).map(|_| (offset + scale * rng.normal()) as f32).collect();
            let q: Vec<f32> = (0..dims).map(|_| (offset + scale * rng.normal()) as f32).collect();
            for metric in [Metric::L2, Metric::InnerProduct, Metric::L1] {
                let lb = sq.lower_bound(metric, &sq.query(&q), &sq.encode(&x));
                for lanes in [1, 8] {
                    let op = op_f4(metric, &q, &x, lanes);
                    assert!(lb <= op, "{metric:?} dims {dims} round {round}: bound {lb} above {op}");
                }
            }
        }
    }
}

#[test]
fn l2_is_precise_far_from_the_origin() {
    // every vector shares an offset of 1000: the distance between two
    // codes' vectors must still be close to the decoded vectors' own
    let mut rng = Rng::new(4);
    let dims = 384;
    let sq = Sq8 { dims };
    for _ in 0..50 {
        let x: Vec<f32> = (0..dims).map(|_| (1000.0 + 0.01 * rng.normal()) as f32).collect();
        let y: Vec<f32> = (0..dims).map(|_| (1000.0 + 0.01 * rng.normal()) as f32).collect();
        let code = sq.encode(&y);
        let dec = sq.decode(&code).unwrap();
        let want: f64 = x.iter().zip(&dec).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
        let got = sq.distance(Metric::L2, &sq.query(&x), &code);
        assert!((got - want).abs() <= 1e-2 * want, "query to code: {got} vs {want}");
        let dec_x = sq.decode(&sq.encode(&x)).unwrap();
        let want: f64 = dec_x.iter().zip(&dec).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
        let got = sq.between(Metric::L2, &sq.encode(&x), &code);
        assert!((got - want).abs() <= 1e-2 * want, "code to code: {got} vs {want}");
    }
}

/// The AVX2 kernels against the plain loops on adversarial codes (all 0,
/// all 255, alternating, random) with extreme headers (tiny and huge `lo`
/// and steps, negative `lo`), queries of mixed magnitudes, at odd lengths
/// and from unaligned starts: the same bits (NaN for NaN).
#[test]
fn wide_kernels_give_the_same_bits_on_adversarial_codes() {
    let mut rng = Rng::new(17);
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    for dims in [1, 3, 7, 8, 9, 15, 17, 63, 64, 65, 383, 385, 2000, 16000] {
        for shift in [0, 1, 5] {
            let n = dims + shift;
            let patterns: [Vec<u8>; 4] = [
                vec![0; n],
                vec![255; n],
                (0..n).map(|i| if i % 2 == 0 { 0 } else { 255 }).collect(),
                (0..n).map(|_| rng.below(256) as u8).collect(),
            ];
            let qs: [Vec<f32>; 3] = [
                random(n, &mut rng),
                (0..n).map(|i| if i % 3 == 0 { 1e30 } else { -1e-30 }).collect(),
                (0..n).map(|_| (rng.normal() * 1e6) as f32).collect(),
            ];
            for codes in &patterns {
                for q in &qs {
                    for (lo, step) in [(0f32, 1f32), (-1e30, 1e28), (1e-38, 1e-40), (-3.5, 0.0), (f32::MAX / 2.0, f32::MAX / 512.0)] {
                        let (q, k) = (&q[shift..], &codes[shift..]);
                        let c = Code { lo, step, wide: false, codes: k };
                        assert!(same(l2_to_code(q, &c), l2_to_code_body(q, lo, step, k) as f64), "l2 {dims}+{shift} {lo} {step}");
                        assert!(same(dot_u8(q, k), dot_u8_body(q, k) as f64), "dot {dims}+{shift}");
                        let half = step as f64 / 2.0;
                        let a = gap_sums::<true>(q, k, lo as f64, step as f64, half);
                        let b = gap_sums_body::<true>(q, k, lo as f64, step as f64, half);
                        assert!(same(a.0, b.0) && same(a.1, b.1), "gaps {dims}+{shift}");
                    }
                }
            }
        }
    }
}

/// The bound from the code distance alone (what a scan computes for every
/// candidate of a batch before it needs the full bound of a few): never
/// above the operator's float4 result, and for spread-out vectors within a
/// few steps of the exact distance.
#[test]
fn distance_bounds_hold_and_are_close() {
    let mut rng = Rng::new(11);
    for dims in [3, 100, 384, 1536] {
        let sq = Sq8 { dims };
        for round in 0..120 {
            let offset = if round % 4 == 0 { 1000.0 } else { 0.0 };
            let scale = [1e-3, 1.0, 1e4, 0.05][round % 4];
            let x: Vec<f32> = (0..dims).map(|_| (offset + scale * rng.normal()) as f32).collect();
            let q: Vec<f32> = (0..dims).map(|_| (offset + scale * rng.normal()) as f32).collect();
            let (query, code) = (sq.query(&q), sq.encode(&x));
            let d = sq.distance(Metric::L2, &query, &code);
            let cheap = sq.bound_from_distance(Metric::L2, &query, &code, d);
            for lanes in [1, 8] {
                let op = op_f4(Metric::L2, &q, &x, lanes);
                assert!(cheap <= op, "dims {dims} round {round}: bound {cheap} above {op}");
            }
            // near the origin: within half a step per element (and a little
            // rounding) of the truth (far from it, float4 resolution rules)
            if offset != 0.0 {
                continue;
            }
            let truth = exact::l2_squared(&q, &x).sqrt();
            let slack = (x.iter().fold(f64::NEG_INFINITY, |m, a| m.max(*a as f64))
                - x.iter().fold(f64::INFINITY, |m, a| m.min(*a as f64)))
                / 255.0
                * (dims as f64).sqrt();
            assert!(cheap >= truth - slack - 1e-3 * truth, "dims {dims} round {round}: bound {cheap} far below {truth}");
        }
    }
    // the absorbed-ones case: the operator says 1e4, the truth is 10000.8
    let n = 16000;
    let mut q = vec![1f32; n];
    q[0] = 1e4;
    let sq = Sq8 { dims: n };
    let (query, code) = (sq.query(&q), sq.encode(&vec![0f32; n]));
    let cheap = sq.bound_from_distance(Metric::L2, &query, &code, sq.distance(Metric::L2, &query, &code));
    assert!(cheap <= op_f4(Metric::L2, &q, &vec![0f32; n], 1) && cheap > 9990.0, "{cheap}");
    // metrics without a cheap bound say so, and an unusable distance gives none
    assert_eq!(sq.bound_from_distance(Metric::InnerProduct, &query, &code, 1.0), f64::NEG_INFINITY);
    assert_eq!(sq.bound_from_distance(Metric::L2, &query, &code, f64::NAN), f64::NEG_INFINITY);
}
