//! k-means for list centers: greedy k-means++ seeding, then Lloyd iterations
//! accelerated with Elkan's bounds (an upper bound to the assigned center
//! and a lower bound to every center per sample, kept with the triangle
//! inequality, so most distances are skipped once centers settle). At most [`MAX_ITERATIONS`]
//! iterations; stops when no sample changes list.
//!
//! Work over samples runs on the given rayon pool; `tick` runs on the
//! caller's thread between steps (the extension checks for interrupts
//! there, so it may unwind out of this function).

use crate::distance::{inner_product, l2_squared};
use crate::rng::Rng;
use rayon::prelude::*;

/// Most Lloyd iterations.
pub const MAX_ITERATIONS: usize = 500;

/// How samples and centers are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Euclidean distance (L2 opclasses).
    Euclidean,
    /// Angle between unit vectors; samples must be unit length and centers
    /// are normalised every iteration (ip and cosine: spherical k-means).
    Spherical,
    /// 0/1 values compared as Euclidean; final centers set an element to 1
    /// where the mean exceeds 0.5 (bit opclasses).
    Binary,
}

impl Kind {
    /// The k-means distance, a metric (needed by the bounds).
    #[inline]
    fn distance(self, a: &[f32], b: &[f32]) -> f64 {
        match self {
            Kind::Euclidean | Kind::Binary => l2_squared(a, b).max(0.0).sqrt(),
            Kind::Spherical => inner_product(a, b).clamp(-1.0, 1.0).acos(),
        }
    }
}

/// What one run did (for tests and the build's log).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Lloyd iterations run.
    pub iterations: usize,
    /// Whether it stopped because no sample changed list.
    pub converged: bool,
}

/// Scales `x` to unit length (a zero vector stays zero).
pub fn normalize(x: &mut [f32]) {
    let n = crate::distance::norm(x);
    if n > 0.0 && n.is_finite() {
        x.iter_mut().for_each(|v| *v = (*v as f64 / n) as f32);
    }
}

/// `k` centers of `dims` elements (flat, center after center) for the
/// samples in `data` (flat). With no more samples than centers, the
/// samples are the first centers. Centers no sample picks get random
/// elements uniform in [0, 1) (normalised for [`Kind::Spherical`]).
pub fn kmeans(data: &[f32], dims: usize, k: usize, kind: Kind, seed: u64, pool: &rayon::ThreadPool, tick: &mut dyn FnMut()) -> (Vec<f32>, Report) {
    let n = data.len().checked_div(dims).unwrap_or(0);
    let mut rng = Rng::new(seed);
    let mut report = Report::default();
    let mut centers = if n <= k {
        let mut c = data[..n * dims].to_vec();
        for _ in n..k {
            c.extend(random_center(&mut rng, dims, kind));
        }
        c
    } else {
        let c = seed_plus_plus(data, dims, k, kind, &mut rng, pool, tick);
        lloyd(data, dims, k, kind, c, &mut rng, pool, tick, &mut report)
    };
    if kind == Kind::Binary {
        centers.iter_mut().for_each(|v| *v = if *v > 0.5 { 1.0 } else { 0.0 });
    }
    (centers, report)
}

fn random_center(rng: &mut Rng, dims: usize, kind: Kind) -> Vec<f32> {
    let mut c: Vec<f32> = (0..dims).map(|_| rng.uniform() as f32).collect();
    if kind == Kind::Spherical {
        normalize(&mut c);
    }
    c
}

/// Greedy k-means++: each next center is the best of a few samples drawn
/// with probability proportional to their squared distance to the nearest
/// center so far (the one that lowers the total most; 2 + ln k trials, as
/// scikit-learn), which gives k-means a better and steadier start.
fn seed_plus_plus(data: &[f32], dims: usize, k: usize, kind: Kind, rng: &mut Rng, pool: &rayon::ThreadPool, tick: &mut dyn FnMut()) -> Vec<f32> {
    let n = data.len() / dims;
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut centers = Vec::with_capacity(k * dims);
    let first = rng.below(n as u64) as usize;
    centers.extend_from_slice(&data[first * dims..(first + 1) * dims]);
    let sq = |i: usize, c: &[f32]| {
        let d = kind.distance(&data[i * dims..(i + 1) * dims], c);
        d * d
    };
    let mut weight: Vec<f64> = pool.install(|| (0..n).into_par_iter().with_min_len(256).map(|i| sq(i, &centers[..dims])).collect());
    for _ in 1..k {
        let total: f64 = weight.iter().sum();
        let picks: Vec<usize> = (0..trials).map(|_| draw(&weight, total, rng)).collect();
        // the total each candidate would leave, in one pass over the samples
        let totals: Vec<f64> = pool.install(|| {
            weight
                .par_iter()
                .enumerate()
                .with_min_len(256)
                .fold(
                    || vec![0f64; picks.len()],
                    |mut acc, (i, w)| {
                        for (t, &p) in picks.iter().enumerate() {
                            acc[t] += w.min(sq(i, &data[p * dims..(p + 1) * dims]));
                        }
                        acc
                    },
                )
                .reduce(|| vec![0f64; picks.len()], |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect())
        });
        let best = (0..picks.len()).min_by(|&a, &b| totals[a].total_cmp(&totals[b])).map_or(picks[0], |t| picks[t]);
        let cand = &data[best * dims..(best + 1) * dims];
        pool.install(|| weight.par_iter_mut().with_min_len(256).enumerate().for_each(|(i, w)| *w = w.min(sq(i, cand))));
        centers.extend_from_slice(cand);
        tick();
    }
    centers
}

/// A sample index drawn with probability proportional to `weight`
/// (uniform when every weight is 0).
fn draw(weight: &[f64], total: f64, rng: &mut Rng) -> usize {
    let n = weight.len();
    if !(total > 0.0 && total.is_finite()) {
        return rng.below(n as u64) as usize;
    }
    let mut target = rng.uniform() * total;
    for (i, w) in weight.iter().enumerate() {
        if target < *w {
            return i;
        }
        target -= w;
    }
    n - 1
}

/// Per-sample state of Elkan's algorithm (with one lower bound per center
/// beside it, in a flat array).
#[derive(Clone, Copy)]
struct Bound {
    center: u32,
    upper: f64,
}

/// Runs `f` over consecutive blocks of the `n` samples (their range and
/// the range of their `k` lower bounds each), of about a million
/// sample-center pairs, calling `tick` after each (so a cancel is noticed
/// within one block, however many lists there are).
fn for_blocks(n: usize, k: usize, tick: &mut dyn FnMut(), mut f: impl FnMut(std::ops::Range<usize>, std::ops::Range<usize>)) {
    let step = (1 << 20) / k.max(1) + 1;
    let mut start = 0;
    while start < n {
        let end = (start + step).min(n);
        f(start..end, start * k..end * k);
        tick();
        start = end;
    }
}

/// Nearest center of `x`, filling its exact lower bounds.
fn scan_all(x: &[f32], centers: &[f32], dims: usize, kind: Kind, lower: &mut [f32]) -> Bound {
    let mut b = Bound { center: 0, upper: f64::INFINITY };
    for (j, c) in centers.chunks_exact(dims).enumerate() {
        let d = kind.distance(x, c);
        lower[j] = d as f32;
        if d < b.upper {
            b.upper = d;
            b.center = j as u32;
        }
    }
    b
}

/// One assignment step of Elkan's algorithm for sample `x`; true when its
/// center changed. `cc` holds center-to-center distances, `half` half the
/// distance from each center to its nearest other one.
#[allow(clippy::too_many_arguments)]
#[inline]
fn elkan_step(x: &[f32], b: &mut Bound, lower: &mut [f32], centers: &[f32], dims: usize, kind: Kind, cc: &[f64], half: &[f64]) -> bool {
    let k = lower.len();
    let old = b.center as usize;
    if b.upper <= half[old] {
        return false;
    }
    let mut tight = false;
    for j in 0..k {
        let a = b.center as usize;
        if j == a || b.upper <= lower[j] as f64 || b.upper <= 0.5 * cc[a * k + j] {
            continue;
        }
        if !tight {
            b.upper = kind.distance(x, &centers[a * dims..(a + 1) * dims]);
            lower[a] = b.upper as f32;
            tight = true;
            if b.upper <= lower[j] as f64 || b.upper <= 0.5 * cc[a * k + j] {
                continue;
            }
        }
        let d = kind.distance(x, &centers[j * dims..(j + 1) * dims]);
        lower[j] = d as f32;
        if d < b.upper {
            b.upper = d;
            b.center = j as u32;
        }
    }
    b.center as usize != old
}

#[allow(clippy::too_many_arguments)]
fn lloyd(
    data: &[f32],
    dims: usize,
    k: usize,
    kind: Kind,
    mut centers: Vec<f32>,
    rng: &mut Rng,
    pool: &rayon::ThreadPool,
    tick: &mut dyn FnMut(),
    report: &mut Report,
) -> Vec<f32> {
    let n = data.len() / dims;
    let mut lower = vec![0f32; n * k];
    let mut bounds: Vec<Bound> = vec![Bound { center: 0, upper: f64::INFINITY }; n];
    for_blocks(n, k, tick, |range, lrange| {
        pool.install(|| {
            data[range.start * dims..range.end * dims]
                .par_chunks_exact(dims)
                .zip(lower[lrange].par_chunks_exact_mut(k))
                .zip(bounds[range].par_iter_mut())
                .with_min_len(64)
                .for_each(|((x, l), b)| *b = scan_all(x, &centers, dims, kind, l))
        });
    });
    loop {
        // new centers: the means of their samples
        let mut sums = vec![0f64; k * dims];
        let mut counts = vec![0usize; k];
        for (x, b) in data.chunks_exact(dims).zip(&bounds) {
            let j = b.center as usize;
            counts[j] += 1;
            sums[j * dims..(j + 1) * dims].iter_mut().zip(x).for_each(|(s, v)| *s += *v as f64);
        }
        let mut moved = vec![0f64; k];
        for j in 0..k {
            let mut c: Vec<f32> = if counts[j] == 0 {
                random_center(rng, dims, kind)
            } else {
                sums[j * dims..(j + 1) * dims].iter().map(|s| (s / counts[j] as f64) as f32).collect()
            };
            if kind == Kind::Spherical {
                normalize(&mut c);
            }
            let old = &mut centers[j * dims..(j + 1) * dims];
            moved[j] = kind.distance(old, &c);
            old.copy_from_slice(&c);
        }
        report.iterations += 1;
        if report.iterations >= MAX_ITERATIONS {
            break;
        }
        // center-to-center distances and half the nearest other's
        let cc: Vec<f64> = pool.install(|| {
            (0..k * k)
                .into_par_iter()
                .with_min_len(64)
                .map(|ij| {
                    let (i, j) = (ij / k, ij % k);
                    if i == j {
                        0.0
                    } else {
                        kind.distance(&centers[i * dims..(i + 1) * dims], &centers[j * dims..(j + 1) * dims])
                    }
                })
                .collect()
        });
        let half: Vec<f64> =
            (0..k).map(|j| (0..k).filter(|&o| o != j).map(|o| cc[j * k + o]).fold(f64::INFINITY, f64::min) / 2.0).collect();
        let mut changes = 0usize;
        for_blocks(n, k, tick, |range, lrange| {
            changes += pool.install(|| {
                data[range.start * dims..range.end * dims]
                    .par_chunks_exact(dims)
                    .zip(bounds[range].par_iter_mut())
                    .zip(lower[lrange].par_chunks_exact_mut(k))
                    .with_min_len(64)
                    .map(|((x, b), l)| {
                        b.upper += moved[b.center as usize];
                        for (lj, m) in l.iter_mut().zip(&moved) {
                            *lj = (*lj as f64 - m).max(0.0) as f32;
                        }
                        usize::from(elkan_step(x, b, l, &centers, dims, kind, &cc, &half))
                    })
                    .sum::<usize>()
            });
        });
        if changes == 0 {
            report.converged = true;
            break;
        }
    }
    centers
}
