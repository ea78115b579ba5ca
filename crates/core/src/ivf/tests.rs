use super::kmeans::{kmeans, normalize, Kind, MAX_ITERATIONS};
use super::*;
use super::samples::Samples;
use crate::distance::Metric;
use crate::rng::Rng;
use crate::space::Bytes;

fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap()
}

/// `n` points around `k` well separated centers (blobs 100 apart, spread 1).
fn blobs(n: usize, k: usize, dims: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let truth: Vec<Vec<f32>> = (0..k).map(|_| (0..dims).map(|_| (rng.uniform() * 1000.0) as f32).collect()).collect();
    let mut data = Vec::new();
    let mut label = Vec::new();
    for i in 0..n {
        let c = i % k;
        label.push(c);
        data.extend(truth[c].iter().map(|v| v + rng.normal() as f32));
    }
    (data, label)
}

#[test]
fn kmeans_separates_blobs() {
    let seed = 7;
    let (data, label) = blobs(2000, 10, 8, seed);
    let mut ticks = 0;
    let (centers, report) = kmeans(Samples::F32 { data: &data, dims: 8 }, 10, Kind::Euclidean, seed, &pool(), &mut || ticks += 1);
    assert!(report.converged, "seed {seed}: {report:?}");
    assert!(report.iterations < MAX_ITERATIONS && ticks > 0);
    // every blob maps to one center and no two blobs share one
    let space = Space::F32 { metric: Metric::L2, dims: 8 };
    let cs: Vec<Bytes> = centers.chunks(8).map(Bytes::from_f32).collect();
    let mut blob_center = vec![usize::MAX; 10];
    for (x, &l) in data.chunks(8).zip(&label) {
        let c = nearest(&space, &cs, &Bytes::from_f32(x));
        assert!(blob_center[l] == usize::MAX || blob_center[l] == c, "seed {seed}: blob {l} split");
        blob_center[l] = c;
    }
    let mut distinct = blob_center.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "seed {seed}");
}

#[test]
fn elkan_bounds_reach_a_true_lloyd_fixed_point() {
    // after convergence every sample is at its nearest center (the bounds
    // never skip a sample that should move)
    let seed = 11;
    let mut rng = Rng::new(seed);
    let data: Vec<f32> = (0..3000 * 5).map(|_| rng.normal() as f32).collect();
    let (centers, report) = kmeans(Samples::F32 { data: &data, dims: 5 }, 20, Kind::Euclidean, seed, &pool(), &mut || {});
    assert!(report.converged, "{report:?}");
    let space = Space::F32 { metric: Metric::L2, dims: 5 };
    let cs: Vec<Bytes> = centers.chunks(5).map(Bytes::from_f32).collect();
    // the centers are the means of their samples' nearest-center groups
    let mut sums = vec![0f64; 20 * 5];
    let mut counts = vec![0usize; 20];
    for x in data.chunks(5) {
        let c = nearest(&space, &cs, &Bytes::from_f32(x));
        counts[c] += 1;
        for d in 0..5 {
            sums[c * 5 + d] += x[d] as f64;
        }
    }
    for c in 0..20 {
        assert!(counts[c] > 0);
        for d in 0..5 {
            let mean = sums[c * 5 + d] / counts[c] as f64;
            assert!((mean - centers[c * 5 + d] as f64).abs() < 1e-3, "seed {seed}: center {c}");
        }
    }
}

#[test]
fn ticks_come_often_enough_to_cancel() {
    // 30,000 samples x 100 centers: every pass over the samples is split
    // into blocks of about a million sample-center pairs, each followed by
    // a tick (where the extension checks for interrupts); seeding ticks
    // once per center (and leaves the first assignment: no pass before the
    // first iteration)
    let seed = 13;
    let mut rng = Rng::new(seed);
    let data: Vec<f32> = (0..30000 * 2).map(|_| rng.normal() as f32).collect();
    let mut ticks = 0usize;
    let (_, report) = kmeans(Samples::F32 { data: &data, dims: 2 }, 100, Kind::Euclidean, seed, &pool(), &mut || ticks += 1);
    assert!(ticks >= 99 + 3 * report.iterations, "seed {seed}: {ticks} ticks, {report:?}");
}

#[test]
fn few_samples_become_centers_and_the_rest_are_random() {
    let data = [1.0f32, 2.0, 3.0, 4.0];
    let (c, _) = kmeans(Samples::F32 { data: &data, dims: 2 }, 4, Kind::Euclidean, 1, &pool(), &mut || {});
    assert_eq!(c.len(), 8);
    assert_eq!(&c[..4], &data);
    assert!(c[4..].iter().all(|v| (0.0..1.0).contains(v)));
    let (empty, _) = kmeans(Samples::F32 { data: &[], dims: 3 }, 2, Kind::Spherical, 1, &pool(), &mut || {});
    for c in empty.chunks(3) {
        assert!((crate::distance::norm(c) - 1.0).abs() < 1e-5);
    }
}

#[test]
fn spherical_centers_are_unit_and_binary_centers_are_bits() {
    let seed = 3;
    let mut rng = Rng::new(seed);
    let mut data = Vec::new();
    for _ in 0..500 {
        let mut x: Vec<f32> = (0..6).map(|_| rng.normal() as f32).collect();
        normalize(&mut x);
        data.extend(x);
    }
    let (c, _) = kmeans(Samples::F32 { data: &data, dims: 6 }, 7, Kind::Spherical, seed, &pool(), &mut || {});
    for c in c.chunks(6) {
        assert!((crate::distance::norm(c) - 1.0).abs() < 1e-4, "seed {seed}");
    }
    let bits: Vec<f32> = (0..400 * 16).map(|_| (rng.below(2)) as f32).collect();
    let (b, _) = kmeans(Samples::F32 { data: &bits, dims: 16 }, 5, Kind::Binary, seed, &pool(), &mut || {});
    assert!(b.iter().all(|v| *v == 0.0 || *v == 1.0));
}

#[test]
fn probe_order_and_assign_agree_with_brute_force() {
    let seed = 5;
    let mut rng = Rng::new(seed);
    let space = Space::F32 { metric: Metric::InnerProduct, dims: 4 };
    let centers: Vec<Bytes> = (0..9).map(|_| Bytes::from_f32(&(0..4).map(|_| rng.normal() as f32).collect::<Vec<_>>())).collect();
    let qs: Vec<Bytes> = (0..300).map(|_| Bytes::from_f32(&(0..4).map(|_| rng.normal() as f32).collect::<Vec<_>>())).collect();
    let refs: Vec<&[u8]> = qs.iter().map(|q| &q[..]).collect();
    let got = assign(&space, &centers, &refs, &pool());
    for (q, g) in qs.iter().zip(got) {
        let order = probe_order(&space, &centers, Some(q));
        assert_eq!(order[0], g, "seed {seed}");
        let d: Vec<f64> = order.iter().map(|&i| space.distance(q, &centers[i as usize])).collect();
        assert!(d.windows(2).all(|w| w[0] <= w[1]));
    }
    assert_eq!(probe_order(&space, &centers, None), (0..9).collect::<Vec<u32>>());
}

#[test]
fn ivf_recall_grows_with_probes() {
    // the whole pipeline on clustered data: recall@10 of reading the
    // nearest `probes` lists, against brute force
    let seed = 21;
    let dims = 16;
    let mut rng = Rng::new(seed);
    let hubs: Vec<Vec<f32>> = (0..40).map(|_| (0..dims).map(|_| rng.normal() as f32 * 3.0).collect()).collect();
    let data: Vec<f32> = (0..4000).flat_map(|i| hubs[i % 40].iter().map(|v| v + rng.normal() as f32).collect::<Vec<_>>()).collect();
    let (centers, _) = kmeans(Samples::F32 { data: &data, dims }, 32, Kind::Euclidean, seed, &pool(), &mut || {});
    let space = Space::F32 { metric: Metric::L2, dims };
    let cs: Vec<Bytes> = centers.chunks(dims).map(Bytes::from_f32).collect();
    let values: Vec<Bytes> = data.chunks(dims).map(Bytes::from_f32).collect();
    let refs: Vec<&[u8]> = values.iter().map(|v| &v[..]).collect();
    let lists = assign(&space, &cs, &refs, &pool());
    let mut recall = Vec::new();
    for probes in [1usize, 4, 32] {
        let mut hit = 0;
        for qi in 0..50 {
            let q = &values[qi * 7];
            let mut all: Vec<(f64, usize)> = values.iter().enumerate().map(|(i, v)| (space.distance(q, v), i)).collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0));
            let truth: Vec<usize> = all[..10].iter().map(|p| p.1).collect();
            let probe: Vec<u32> = probe_order(&space, &cs, Some(q))[..probes].to_vec();
            let mut got: Vec<(f64, usize)> = all.iter().copied().filter(|p| probe.contains(&lists[p.1])).collect();
            got.truncate(10);
            hit += got.iter().filter(|p| truth.contains(&p.1)).count();
        }
        recall.push(hit as f64 / 500.0);
    }
    assert!(recall[0] > 0.5 && recall[0] <= recall[1] && recall[1] <= recall[2], "seed {seed}: {recall:?}");
    assert_eq!(recall[2], 1.0, "seed {seed}: all lists read must be exact");
}

#[test]
#[ignore = "timing only: cargo test -p vecstore-core --release -- --ignored kmeans_timing --nocapture"]
fn kmeans_timing() {
    let mut rng = Rng::new(1);
    let dims = 384;
    let hubs: Vec<Vec<f32>> = (0..300).map(|_| (0..dims).map(|_| rng.normal() as f32 * 0.05).collect()).collect();
    let data: Vec<f32> = (0..10000).flat_map(|i| hubs[i % 300].iter().map(|v| v + rng.normal() as f32 * 0.02).collect::<Vec<_>>()).collect();
    let t = std::time::Instant::now();
    let (_, report) = kmeans(Samples::F32 { data: &data, dims }, 100, Kind::Euclidean, 1, &pool(), &mut || {});
    println!("k-means 10000 x {dims}, k = 100: {:?}, {report:?}", t.elapsed());
}

#[test]
#[ignore = "timing only, needs IVF_FVECS=path/to/base.fvecs"]
fn kmeans_timing_fvecs() {
    let Ok(path) = std::env::var("IVF_FVECS") else { return };
    let bytes = std::fs::read(path).unwrap();
    let dims = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
    let data: Vec<f32> = bytes
        .chunks_exact(4 + 4 * dims)
        .flat_map(|r| r[4..].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect::<Vec<_>>())
        .collect();
    let k: usize = std::env::var("IVF_K").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let n: usize = std::env::var("IVF_N").ok().and_then(|v| v.parse().ok()).unwrap_or(usize::MAX);
    let data = &data[..(n.saturating_mul(dims)).min(data.len())];
    let threads: usize = std::env::var("IVF_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let t = std::time::Instant::now();
    let (centers, report) = kmeans(Samples::F32 { data, dims }, k, Kind::Euclidean, 1, &pool, &mut || {});
    println!("k-means {} x {dims}, k = {k}: {:?}, {report:?}", data.len() / dims, t.elapsed());
    if k != 100 {
        return;
    }
    // a true Lloyd fixed point: every center is the mean of the samples
    // nearest to it (brute force)
    let space = Space::F32 { metric: Metric::L2, dims };
    let cs: Vec<Bytes> = centers.chunks(dims).map(Bytes::from_f32).collect();
    let mut sums = vec![0f64; 100 * dims];
    let mut counts = vec![0usize; 100];
    for x in data.chunks(dims) {
        let c = nearest(&space, &cs, &Bytes::from_f32(x));
        counts[c] += 1;
        sums[c * dims..(c + 1) * dims].iter_mut().zip(x).for_each(|(s, v)| *s += *v as f64);
    }
    let mut worst = 0f64;
    for c in 0..100 {
        for d in 0..dims {
            let mean = if counts[c] == 0 { centers[c * dims + d] as f64 } else { sums[c * dims + d] / counts[c] as f64 };
            worst = worst.max((mean - centers[c * dims + d] as f64).abs());
        }
    }
    let mut sizes = counts.clone();
    sizes.sort();
    println!("largest center-to-mean gap {worst:e}; list sizes min {} median {} max {}, empty {}", sizes[0], sizes[50], sizes[99], sizes.iter().filter(|&&s| s == 0).count());
}

#[test]
fn packed_bit_samples_give_the_centers_of_their_float4_form() {
    // bits as 0/1 float4 and packed: the same distances, so the same run
    let seed = 17;
    let mut rng = Rng::new(seed);
    let dims = 77;
    let hubs: Vec<Vec<u64>> = (0..6).map(|_| (0..dims).map(|_| rng.below(2)).collect()).collect();
    let mut flat = Vec::new();
    for i in 0..600 {
        flat.extend(hubs[i % 6].iter().map(|&b| if rng.below(10) == 0 { 1.0 - b as f32 } else { b as f32 }));
    }
    let packed: Vec<u8> = flat.chunks(dims).flat_map(crate::space::pack_bits).collect();
    let (a, ra) = kmeans(Samples::F32 { data: &flat, dims }, 8, Kind::Binary, seed, &pool(), &mut || {});
    let (b, rb) = kmeans(Samples::Bits { data: &packed, dims }, 8, Kind::Binary, seed, &pool(), &mut || {});
    assert_eq!(a, b, "seed {seed}");
    assert_eq!(ra.iterations, rb.iterations);
}

#[test]
fn half_samples_separate_blobs() {
    let seed = 19;
    let (data, label) = blobs(1500, 6, 12, seed);
    // blobs far apart in [0, 1000]: half precision keeps them apart
    let halves: Vec<u16> = crate::half::from_f32_slice(&data);
    let (centers, report) = kmeans(Samples::F16 { data: &halves, dims: 12 }, 6, Kind::Euclidean, seed, &pool(), &mut || {});
    assert!(report.converged, "seed {seed}: {report:?}");
    let space = Space::F32 { metric: Metric::L2, dims: 12 };
    let cs: Vec<Bytes> = centers.chunks(12).map(Bytes::from_f32).collect();
    let mut blob_center = vec![usize::MAX; 6];
    for (x, &l) in data.chunks(12).zip(&label) {
        let c = nearest(&space, &cs, &Bytes::from_f32(x));
        assert!(blob_center[l] == usize::MAX || blob_center[l] == c, "seed {seed}: blob {l} split");
        blob_center[l] = c;
    }
    blob_center.sort();
    blob_center.dedup();
    assert_eq!(blob_center.len(), 6, "seed {seed}");
}

fn read_vecs(path: &str) -> (Vec<u8>, usize) {
    let bytes = std::fs::read(path).unwrap();
    let dims = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
    (bytes, dims)
}

fn rows_of(bytes: &[u8], dims: usize) -> Vec<Vec<u32>> {
    bytes.chunks_exact(4 + 4 * dims).map(|r| r[4..].chunks_exact(4).map(|b| u32::from_le_bytes(b.try_into().unwrap())).collect()).collect()
}

#[test]
#[ignore = "quality only, needs IVF_FVECS, IVF_QUERY, IVF_GT (texmex files); IVF_K, IVF_SEEDS, IVF_TRIALS"]
fn ivf_recall_fvecs() {
    let (Ok(base), Ok(query), Ok(gt)) = (std::env::var("IVF_FVECS"), std::env::var("IVF_QUERY"), std::env::var("IVF_GT")) else { return };
    let env = |n: &str, d: usize| std::env::var(n).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let (k, trials, nq) = (env("IVF_K", 100), env("IVF_TRIALS", 1), env("IVF_QUERIES", 200));
    let (b, dims) = read_vecs(&base);
    let data: Vec<f32> = rows_of(&b, dims).into_iter().flatten().map(f32::from_bits).collect();
    let (q, _) = read_vecs(&query);
    let queries: Vec<Vec<f32>> = rows_of(&q, dims).into_iter().take(nq).map(|r| r.into_iter().map(f32::from_bits).collect()).collect();
    let (g, gk) = read_vecs(&gt);
    let truth: Vec<Vec<u32>> = rows_of(&g, gk).into_iter().take(nq).map(|r| r[..10].to_vec()).collect();
    let n = data.len() / dims;
    let target = (k * 50).max(10000).min(n);
    let pool = pool();
    let space = Space::F32 { metric: Metric::L2, dims };
    let values: Vec<Bytes> = data.chunks(dims).map(Bytes::from_f32).collect();
    let refs: Vec<&[u8]> = values.iter().map(|v| &v[..]).collect();
    for seed in std::env::var("IVF_SEEDS").unwrap_or("1".into()).split(',').map(|s| s.parse::<u64>().unwrap()) {
        // a uniform sample of `target` rows
        let mut rng = Rng::new(seed);
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..target {
            let j = i + rng.below((n - i) as u64) as usize;
            idx.swap(i, j);
        }
        let sample: Vec<f32> = idx[..target].iter().flat_map(|&i| data[i * dims..(i + 1) * dims].to_vec()).collect();
        let t = std::time::Instant::now();
        let (centers, report) = super::kmeans::kmeans_with(Samples::F32 { data: &sample, dims }, k, Kind::Euclidean, seed, trials, &pool, &mut || {});
        let secs = t.elapsed().as_secs_f64();
        let cs: Vec<Bytes> = centers.chunks(dims).map(Bytes::from_f32).collect();
        let lists = super::assign_fast::assign_fast(&space, &cs, &refs, &pool).unwrap();
        let mut line = format!("k {k} trials {trials} seed {seed}: k-means {secs:.1} s, {} it;", report.iterations);
        for probes in [1usize, 2, 4, 8, 16, 32] {
            let mut hit = 0;
            for (qv, tr) in queries.iter().zip(&truth) {
                let order = probe_order(&space, &cs, Some(&Bytes::from_f32(qv)));
                let probed = &order[..probes];
                hit += tr.iter().filter(|&&t| probed.contains(&lists[t as usize])).count();
            }
            line += &format!(" p{probes} {:.4}", hit as f64 / (10 * queries.len()) as f64);
        }
        println!("{line}");
    }
}

#[test]
fn nearest_lists_is_the_start_of_the_full_order() {
    // ties (few distinct distances), NaN and -0.0 included: every prefix
    // length gives the same lists as sorting everything
    let mut rng = Rng::new(77);
    for n in [0usize, 1, 2, 7, 100, 1000] {
        let d: Vec<(f64, u32)> = (0..n)
            .map(|i| {
                let x = match i % 11 {
                    0 => f64::NAN,
                    1 => -0.0,
                    _ => (rng.normal() * 3.0).round(),
                };
                (x, i as u32)
            })
            .collect();
        let mut full = d.clone();
        full.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let full: Vec<u32> = full.into_iter().map(|p| p.1).collect();
        for need in [0, 1, 2, 5, n / 2, n.saturating_sub(1), n] {
            assert_eq!(nearest_lists(d.clone(), need), full[..need.min(n)], "n {n} need {need}");
        }
    }
}
