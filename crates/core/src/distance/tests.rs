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
        // the norm accumulates in f64: only rounding of the f64 sum remains
        let want = scalar::exact::inner_product(&a, &a).sqrt();
        let got = norm(&a);
        assert!((got - want).abs() <= 1e-12 * want, "norm: dim {n} seed {seed}: {got} vs {want}");
    }
}

/// pgvector returns its float4 sums widened to float8, so every distance
/// sum (not the norm) is a float4 value, whatever the SIMD back-end.
#[test]
fn sums_are_float4_values() {
    let seed = 0x5eed_0002;
    println!("float4 sums seed {seed}");
    let mut rng = Rng::new(seed);
    for n in (1..=70).chain([127, 128, 129, 1536]) {
        let a: Vec<f32> = (0..n).map(|_| rng.normal() as f32 * 1e3).collect();
        let b: Vec<f32> = (0..n).map(|_| rng.normal() as f32 * 1e-3).collect();
        for (name, v) in [
            ("l2sq", l2_squared(&a, &b)),
            ("dot", inner_product(&a, &b)),
            ("l1", l1_distance(&a, &b)),
        ] {
            assert_eq!(v as f32 as f64, v, "{name}: dim {n}: {v} is not a float4 value");
        }
    }
}

/// pgvector's arithmetic at the edges of float4 (sql-surface "Arithmetic"):
/// distance sums overflow to Infinity in float4, cosine becomes NaN; norms
/// are float8 sums and stay finite.
#[test]
fn float4_edges_match_pgvector() {
    for n in [1usize, 2, 3, 7, 8, 9, 15, 16, 17, 31, 37, 64, 100] {
        let big = vec![3e38f32; n];
        let neg = vec![-3e38f32; n];
        assert_eq!(l2_squared(&big, &neg), f64::INFINITY, "l2sq dim {n}");
        assert_eq!(inner_product(&big, &big), f64::INFINITY, "dot dim {n}");
        assert_eq!(l1_distance(&big, &neg), f64::INFINITY, "l1 dim {n}");
        assert!(cosine_distance(&big, &big).is_nan(), "cos dim {n}");
        // each product fits in float4 but their float4 sum does not
        let half = vec![2e38f32; n];
        let ones = vec![1f32; n];
        if n >= 2 {
            assert_eq!(inner_product(&half, &ones), f64::INFINITY, "dot sum dim {n}");
            assert_eq!(l1_distance(&half, &vec![0f32; n]), f64::INFINITY, "l1 sum dim {n}");
        }
        // squared norms overflow float4: NaN cosine; they underflow to 0: NaN too
        let e20 = vec![1e20f32; n];
        assert!(cosine_distance(&e20, &e20).is_nan(), "cos 1e20 dim {n}");
        let tiny = vec![1e-30f32; n];
        assert!(cosine_distance(&tiny, &tiny).is_nan(), "cos 1e-30 dim {n}");
        assert_eq!(inner_product(&tiny, &tiny), 0.0, "dot 1e-30 dim {n}");
        // norms: float8 sums
        let want = 3e38f32 as f64 * (n as f64).sqrt();
        assert!((norm(&big) - want).abs() <= 1e-12 * want, "norm dim {n}: {}", norm(&big));
        let want = 1e-30f32 as f64 * (n as f64).sqrt();
        assert!((norm(&tiny) - want).abs() <= 1e-12 * want, "tiny norm dim {n}: {}", norm(&tiny));
    }
    assert_eq!(norm(&[3e37, 4e37]) as f32, 5e37);
    assert_eq!(norm(&[3.0, 4.0]), 5.0);
    assert_eq!(norm(&[0.0, -0.0]), 0.0);
    assert_eq!(norm(&vec![3e38f32; 16000]) as f32, (3e38f32 as f64 * 16000f64.sqrt()) as f32);
    // finite where pgvector is finite
    assert_eq!(inner_product(&[1e19, 1.0], &[1e19, 1.0]), 1e38f32 as f64);
    assert_eq!(cosine_distance(&[1e19, 1.0], &[1e19, 1.0]), 0.0);
    assert_eq!(l2_squared(&[f32::MAX], &[0.0]), f64::INFINITY);
    assert_eq!(l1_distance(&[f32::MAX], &[0.0]), f32::MAX as f64);
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

/// The four-accumulator AVX-512 kernels against the f64 reference and
/// simsimd, for every length up to 200 (each tail length) and empty slices.
#[cfg(target_arch = "x86_64")]
#[test]
fn wide_kernels_match_reference() {
    if !wide::available() {
        println!("no AVX-512F: wide kernels not tested");
        return;
    }
    let seed = 0x5eed_0042;
    println!("wide kernels seed {seed}");
    let mut rng = Rng::new(seed);
    for n in (0..=200).chain([384, 1536]) {
        let a: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
        let b: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
        // SAFETY: AVX-512F checked above.
        let (l2, ip) = unsafe { (wide::l2_squared(&a, &b) as f64, wide::inner_product(&a, &b) as f64) };
        let abs_dot: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64 * *y as f64).abs()).sum();
        let want_l2 = scalar::exact::l2_squared(&a, &b);
        check("wide l2sq", l2, want_l2, want_l2, n.max(1), seed);
        check("wide dot", ip, scalar::exact::inner_product(&a, &b), abs_dot, n.max(1), seed);
        let simsimd_l2 = f32::l2sq(&a, &b).unwrap_or(0.0);
        assert!((l2 - simsimd_l2).abs() <= bound(n.max(1)) * want_l2 + 1e-30, "dim {n}: wide {l2} simsimd {simsimd_l2}");
    }
}

/// The four-accumulator AVX2 kernels (used where AVX-512 is missing) against
/// the f64 reference and simsimd, for every length up to 200 (each tail
/// length, read through masked loads) and empty slices; the dispatching
/// functions give the same sums.
#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_kernels_match_reference() {
    if !wide::avx2::available() {
        println!("no AVX2 with FMA: AVX2 kernels not tested");
        return;
    }
    let seed = 0x5eed_0043;
    println!("AVX2 kernels seed {seed}");
    let mut rng = Rng::new(seed);
    for n in (0..=200).chain([384, 1536, 2001]) {
        let a: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
        let b: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
        // SAFETY: AVX2 and FMA checked above.
        let (l2, ip) = unsafe { (wide::avx2::l2_squared(&a, &b) as f64, wide::avx2::inner_product(&a, &b) as f64) };
        let abs_dot: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64 * *y as f64).abs()).sum();
        let want_l2 = scalar::exact::l2_squared(&a, &b);
        check("avx2 l2sq", l2, want_l2, want_l2, n.max(1), seed);
        check("avx2 dot", ip, scalar::exact::inner_product(&a, &b), abs_dot, n.max(1), seed);
        let simsimd_l2 = f32::l2sq(&a, &b).unwrap_or(0.0);
        assert!((l2 - simsimd_l2).abs() <= bound(n.max(1)) * want_l2 + 1e-30, "dim {n}: avx2 {l2} simsimd {simsimd_l2}");
        if !wide::available() && n >= 8 {
            assert_eq!(l2_squared(&a, &b), l2, "dim {n}: l2_squared dispatches to the AVX2 kernel");
            assert_eq!(inner_product(&a, &b), ip, "dim {n}: inner_product dispatches to the AVX2 kernel");
        }
        // the index's unchecked inner product: the same sums on ordinary rows
        assert_eq!(index_inner_product(&a, &b), inner_product(&a, &b), "dim {n}: index inner product");
    }
    // a slice ending at the last float of an allocation: the masked tail
    // must not read past it (a fault under a page-end layout would crash)
    let long: Vec<f32> = (0..1003).map(|i| i as f32).collect();
    let end = &long[1000..];
    // SAFETY: AVX2 and FMA checked above.
    assert_eq!(unsafe { wide::avx2::l2_squared(end, end) }, 0.0);
    assert_eq!(unsafe { wide::avx2::inner_product(end, &[1.0, 1.0, 1.0]) }, 1000.0 + 1001.0 + 1002.0);
}

/// Where pgvector's float4 loop is plain sequential code (fewer elements
/// than its vectorised loop takes: under 8), a sum whose running total
/// overflows is Infinity there whatever the later terms, and one whose
/// lanes would overflow in another order is finite; the operators must
/// give the same (checked against pgvector 0.8.6: `'[2e38,2e38,-2e38]' <#>
/// '[1,1,1]'` is -Infinity, `'[2e38,-2e38,2e38]' <#> '[1,1,1]'` is
/// -1.9999999e38).
#[test]
fn short_sums_overflow_as_pgvector_sequential_loop() {
    let cases: [&[f32]; 6] = [
        &[2e38, 2e38, -2e38],
        &[2e38, 2e38, -2e38, -2e38],
        &[2e38, -2e38, 2e38],
        &[-2e38, -2e38, 2e38, 2e38, 1.0],
        &[3e38, 0.0, 1e38, -3e38, 0.0, 0.0, -1e38],
        &[1.0, 2e38, 0.0, 2e38, 0.0, -2e38, -2e38],
    ];
    for a in cases {
        let ones = vec![1f32; a.len()];
        let want = scalar::inner_product(a, &ones);
        let got = inner_product(a, &ones);
        assert!(got == want || (got.is_nan() && want.is_nan()), "{a:?}: got {got}, pgvector's loop {want}");
        // cosine's dot product is the same sum
        let (gc, wc) = (cosine_distance(a, &ones), scalar::cosine_distance(a, &ones));
        assert!(gc == wc || (gc.is_nan() && wc.is_nan()), "cos {a:?}: got {gc}, pgvector's loop {wc}");
    }
}

/// Under 8 elements pgvector's cosine loop keeps its three float4 sums with
/// fused multiply-adds (its compiler contracts `s += x * y` there, unlike the
/// inner-product and L2 loops, whose short tails multiply, round, then add):
/// `<=>` must give its values to the last bit. Values read from pgvector
/// 0.8.6 on this project's machine.
#[test]
fn short_cosine_gives_pgvector_values() {
    // float4 values, written as the float8 that holds them exactly
    let cases: [(&[f32], &[f32], f64); 4] = [
        (
            &[-5.30979585647583, -1.301048994064331, 9.483723640441895, 7.95355224609375, 6.884620666503906, -2.151906728744507],
            &[-0.13953962922096252, 3.5337870121002197, -8.78394603729248, 1.1119223833084106, -4.570967674255371, 7.593023300170898],
            1.6318962988490635,
        ),
        (
            &[-9.976006507873535, 0.06727930903434753, -1.266658902168274, -5.934943199157715, -3.5011470317840576, 6.124306678771973],
            &[-3.6709582805633545, -7.019228458404541, 3.9702398777008057, -1.0291179418563843, 5.978789806365967, -5.289670944213867],
            1.0985872197567506,
        ),
        (
            &[5.9704670906066895, -6.119490623474121, -2.190821647644043, 5.958677768707275, -2.3904926776885986, 4.265157222747803, 2.2503561973571777],
            &[8.820019721984863, 9.833534240722656, 4.473525047302246, 6.176876068115234, -6.942699432373047, 4.257805347442627, 6.952487468719482],
            0.685700397368985,
        ),
        (
            &[1.0650007724761963, -0.41024497151374817, 9.170459747314453, -3.6544432640075684, -1.9583094120025635, -9.98160457611084, -1.5963093042373657],
            &[2.6287221908569336, 8.69922161102295, 8.473531723022461, -3.4530036449432373, 9.777220726013184, -6.2465009689331055, 6.46504020690918],
            0.5378150832745419,
        ),
    ];
    for (a, b, want) in cases {
        assert_eq!(cosine_distance(a, b), want, "{a:?} <=> {b:?}");
    }
}
