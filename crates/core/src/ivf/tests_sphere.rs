//! k-means for L2 lists on samples that lie on one sphere (normalised
//! embeddings): spherical k-means with centers on that sphere.

use super::kmeans::{kmeans, kmeans_on_sphere, normalize, Kind};
use super::samples::{Samples, SPHERE_TOLERANCE};
use super::*;
use crate::distance::Metric;
use crate::rng::Rng;
use crate::space::Bytes;

fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap()
}

/// `n` points of `dims` elements on the sphere of radius `radius`, around
/// `hubs` random directions with spreads from tight to diffuse (as
/// embeddings of topics of different breadth).
fn topics(n: usize, hubs: usize, dims: usize, radius: f32, rng: &mut Rng) -> Vec<f32> {
    let centers: Vec<Vec<f32>> = (0..hubs).map(|_| (0..dims).map(|_| rng.normal() as f32).collect()).collect();
    let mut data = Vec::with_capacity(n * dims);
    for _ in 0..n {
        let h = rng.below(hubs as u64) as usize;
        let spread = 0.15 + 0.5 * (h as f32 / hubs as f32);
        let mut x: Vec<f32> = centers[h].iter().map(|c| c / (dims as f32).sqrt() + spread * rng.normal() as f32 / (dims as f32).sqrt()).collect();
        normalize(&mut x);
        data.extend(x.iter().map(|v| v * radius));
    }
    data
}

/// The list centers an L2 index gets from float4 samples (as the build does).
fn l2_centers(data: &[f32], dims: usize, k: usize, seed: u64) -> Vec<f32> {
    let samples = Samples::F32 { data, dims };
    match samples.sphere_radius() {
        Some(r) => {
            let mut unit = data.to_vec();
            unit.chunks_mut(dims).for_each(normalize);
            kmeans_on_sphere(Samples::F32 { data: &unit, dims }, r, k, seed, &pool(), &mut || {}).0
        }
        None => kmeans(samples, k, Kind::Euclidean, seed, &pool(), &mut || {}).0,
    }
}

/// recall@10 of reading the `probes` nearest lists, for each probes.
fn recall(data: &[f32], queries: &[f32], dims: usize, centers: &[f32], probes: &[usize]) -> Vec<f64> {
    let space = Space::F32 { metric: Metric::L2, dims };
    let cs: Vec<Bytes> = centers.chunks(dims).map(Bytes::from_f32).collect();
    let values: Vec<Bytes> = data.chunks(dims).map(Bytes::from_f32).collect();
    let refs: Vec<&[u8]> = values.iter().map(|v| &v[..]).collect();
    let lists = assign(&space, &cs, &refs, &pool());
    let mut hits = vec![0usize; probes.len()];

    for q in queries.chunks(dims) {
        let q = Bytes::from_f32(q);
        let mut all: Vec<(f64, usize)> = refs.iter().enumerate().map(|(i, v)| (space.distance(&q, v), i)).collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        let order = probe_order(&space, &cs, Some(&q));
        for (h, &p) in hits.iter_mut().zip(probes) {
            *h += all[..10].iter().filter(|t| order[..p].contains(&lists[t.1])).count();
        }
    }
    hits.iter().map(|&h| h as f64 / (queries.len() / dims * 10) as f64).collect()
}

#[test]
fn sphere_radius_needs_every_norm_near_the_mean() {
    let mut rng = Rng::new(5);
    let mut data = topics(200, 5, 16, 3.0, &mut rng);
    let r = Samples::F32 { data: &data, dims: 16 }.sphere_radius().expect("on a sphere");
    assert!((r - 3.0).abs() < 1e-5, "{r}");
    let half = crate::half::from_f32_slice(&data);
    assert!(Samples::F16 { data: &half, dims: 16 }.sphere_radius().is_some_and(|r| (r - 3.0).abs() < 3e-3));
    // one sample off the sphere by more than the tolerance
    data[..16].iter_mut().for_each(|v| *v *= (1.0 + 2.0 * SPHERE_TOLERANCE) as f32);
    assert_eq!(Samples::F32 { data: &data, dims: 16 }.sphere_radius(), None);
    assert_eq!(Samples::F32 { data: &[0.0; 32], dims: 16 }.sphere_radius(), None);
    assert_eq!(Samples::Bits { data: &[0xff; 4], dims: 16 }.sphere_radius(), None);
}

#[test]
fn l2_centers_of_samples_on_a_sphere_lie_on_it() {
    let mut rng = Rng::new(8);
    let data = topics(3000, 30, 24, 2.5, &mut rng);
    let centers = l2_centers(&data, 24, 20, 8);
    for c in centers.chunks(24) {
        let n = crate::distance::norm(c);
        assert!((n - 2.5).abs() < 1e-5, "a center of norm {n}, not on the sphere of radius 2.5");
    }
}

#[test]
fn l2_lists_on_a_sphere_find_the_neighbours() {
    let dims = 32;
    let mut rng = Rng::new(11);
    let data = topics(4000, 50, dims, 1.0, &mut rng);
    let queries = topics(100, 50, dims, 1.0, &mut rng);
    let centers = l2_centers(&data, dims, 40, 11);
    let r = recall(&data, &queries, dims, &centers, &[1, 4, 16, 40]);
    assert!(r[0] > 0.3 && r.windows(2).all(|w| w[0] <= w[1]), "{r:?}");
    assert_eq!(r[3], 1.0, "all lists read must be exact: {r:?}");
}

#[test]
fn spherical_distance_is_the_chord() {
    // the Euclidean distance between unit vectors (a metric that orders as
    // the angle does), on float4 and half samples alike
    let mut rng = Rng::new(4);
    let data = topics(50, 5, 40, 1.0, &mut rng);
    let half = crate::half::from_f32_slice(&data);
    let (f, h) = (Samples::F32 { data: &data, dims: 40 }, Samples::F16 { data: &half, dims: 40 });
    for (i, j) in [(0, 1), (2, 30), (7, 7), (10, 49)] {
        let e = Kind::Euclidean.distance(&data[i * 40..(i + 1) * 40], &data[j * 40..(j + 1) * 40]);
        assert!((f.between(Kind::Spherical, i, j) - e).abs() < 1e-3, "{i} {j}");
        assert!((h.between(Kind::Spherical, i, j) - e).abs() < 1e-2, "{i} {j}");
    }
}

/// The L2 list centers the build computes from half-precision samples
/// (sphere test, normalisation in place, k-means), as float4.
fn l2_centers_f16(data: &[u16], dims: usize, k: usize, seed: u64) -> Vec<f32> {
    let samples = Samples::F16 { data, dims };
    match samples.sphere_radius() {
        Some(r) => {
            let mut unit: Vec<u16> = Vec::with_capacity(data.len());
            for row in data.chunks(dims) {
                let mut v = crate::half::to_f32_vec(row);
                normalize(&mut v);
                unit.extend(crate::half::from_f32_slice(&v));
            }
            kmeans_on_sphere(Samples::F16 { data: &unit, dims }, r, k, seed, &pool(), &mut || {}).0
        }
        None => kmeans(samples, k, Kind::Euclidean, seed, &pool(), &mut || {}).0,
    }
}

#[test]
fn centers_on_a_sphere_beyond_float4_range_stay_finite() {
    // two rows of norm 4.2e38 (elements at 3e38, within float4) whose
    // spherical mean is (1, 0): scaled back onto the sphere it would be
    // 4.2e38 > f32::MAX, infinite (Euclidean means stay in range; pgvector
    // raises "Infinite value detected" on such a center)
    let data = [3e38f32, 3e38, 3e38, -3e38, 3e38, 3e38, 3e38, -3e38];
    for k in [1, 2] {
        let centers = l2_centers(&data, 2, k, 3);
        assert!(centers.iter().all(|v| v.is_finite()), "k {k}: {centers:?}");
    }
}

#[test]
fn halfvec_centers_on_a_sphere_stay_in_half_range() {
    // halfvec rows at 60000 (largest half 65504): a center scaled onto
    // their sphere (radius 84853) must still be a finite half
    let rows = [60000f32, 60000.0, 60000.0, -60000.0, 60000.0, 60000.0, 60000.0, -60000.0];
    let data = crate::half::from_f32_slice(&rows);
    for k in [1, 2] {
        let centers = l2_centers_f16(&data, 2, k, 3);
        let stored = crate::half::from_f32_slice(&centers);
        assert!(stored.iter().all(|&h| crate::half::to_f32(h).is_finite()), "k {k}: {centers:?}");
    }
}

#[test]
fn centers_on_tiny_and_huge_spheres_lie_on_them() {
    // radii from 1e-20 to 1e30: the normalisation (norms in float8) and
    // the scaling back neither underflow nor overflow
    for radius in [1e-20f32, 1e-10, 1e10, 1e30] {
        let mut rng = Rng::new(21);
        let data = topics(600, 6, 16, radius, &mut rng);
        assert!(data.iter().all(|v| v.is_finite() && (*v == 0.0 || v.abs() > f32::MIN_POSITIVE)));
        let r = Samples::F32 { data: &data, dims: 16 }.sphere_radius().expect("on a sphere");
        assert!((r / radius as f64 - 1.0).abs() < 1e-5, "{r} {radius}");
        let centers = l2_centers(&data, 16, 8, 21);
        for c in centers.chunks(16) {
            let n = crate::distance::norm(c);
            assert!((n / radius as f64 - 1.0).abs() < 1e-5, "a center of norm {n} on the sphere of radius {radius}");
        }
    }
}

#[test]
fn degenerate_samples_on_a_sphere() {
    // one sample, fewer samples than lists, all identical rows, one
    // dimension (the sphere is {-r, r}): finite centers on the sphere, and
    // every sample's nearest center (L2) is at its own position or angle
    let cases: Vec<(Vec<f32>, usize, usize)> = vec![
        (vec![0.6, 0.8], 2, 1),
        (vec![0.6, 0.8], 2, 4),
        (vec![3.0, 4.0, 0.0, 5.0, -5.0, 0.0], 2, 8),
        ([1.0f32, 2.0, 2.0].repeat(100), 3, 5),
        ((0..200).map(|i| if i % 3 == 0 { -2.0 } else { 2.0 }).collect(), 1, 4),
    ];
    for (data, dims, k) in cases {
        let r = Samples::F32 { data: &data, dims }.sphere_radius().expect("on a sphere");
        let centers = l2_centers(&data, dims, k, 9);
        assert_eq!(centers.len(), k * dims);
        assert!(centers.iter().all(|v| v.is_finite()), "{centers:?}");
        let n = data.len() / dims;
        for c in centers.chunks(dims).take(n.min(k)) {
            let cn = crate::distance::norm(c);
            assert!((cn - r).abs() < 1e-5 * r, "center {c:?} of norm {cn}, radius {r}");
        }
        // each sample has a center at distance ~0 (fewer distinct samples than lists)
        let distinct: std::collections::BTreeSet<Vec<u32>> = data.chunks(dims).map(|x| x.iter().map(|v| v.to_bits()).collect()).collect();
        if distinct.len() <= k {
            for x in data.chunks(dims) {
                let best = centers.chunks(dims).map(|c| Kind::Euclidean.distance(x, c)).fold(f64::INFINITY, f64::min);
                assert!(best < 1e-5 * r, "sample {x:?}: nearest center at {best}, {centers:?}");
            }
        }
    }
}
