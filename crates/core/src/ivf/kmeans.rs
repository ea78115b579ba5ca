//! k-means for list centers: k-means++ seeding, then Lloyd iterations
//! accelerated with Hamerly's bounds (one upper bound to the assigned
//! center and one lower bound to every other per sample, so most samples
//! skip the distance scan once centers settle). At most [`MAX_ITERATIONS`]
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
    let n = if dims == 0 { 0 } else { data.len() / dims };
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

/// k-means++: each next center is a sample drawn with probability
/// proportional to its squared distance to the nearest center so far.
fn seed_plus_plus(data: &[f32], dims: usize, k: usize, kind: Kind, rng: &mut Rng, pool: &rayon::ThreadPool, tick: &mut dyn FnMut()) -> Vec<f32> {
    let n = data.len() / dims;
    let mut centers = Vec::with_capacity(k * dims);
    let first = rng.below(n as u64) as usize;
    centers.extend_from_slice(&data[first * dims..(first + 1) * dims]);
    let mut weight = vec![f64::INFINITY; n];
    for c in 1..k {
        let last = &centers[(c - 1) * dims..c * dims];
        pool.install(|| {
            weight.par_iter_mut().with_min_len(256).enumerate().for_each(|(i, w)| {
                let d = kind.distance(&data[i * dims..(i + 1) * dims], last);
                *w = w.min(d * d);
            })
        });
        let total: f64 = weight.iter().sum();
        let pick = if total > 0.0 && total.is_finite() {
            let mut target = rng.uniform() * total;
            let mut at = n - 1;
            for (i, w) in weight.iter().enumerate() {
                if target < *w {
                    at = i;
                    break;
                }
                target -= w;
            }
            at
        } else {
            rng.below(n as u64) as usize
        };
        centers.extend_from_slice(&data[pick * dims..(pick + 1) * dims]);
        if c % 16 == 0 {
            tick();
        }
    }
    centers
}

/// Per-sample state of Hamerly's algorithm.
#[derive(Clone, Copy)]
struct Bound {
    center: u32,
    upper: f64,
    lower: f64,
}

/// Nearest and second-nearest center of `x`.
fn scan_all(x: &[f32], centers: &[f32], dims: usize, kind: Kind) -> Bound {
    let mut b = Bound { center: 0, upper: f64::INFINITY, lower: f64::INFINITY };
    for (j, c) in centers.chunks_exact(dims).enumerate() {
        let d = kind.distance(x, c);
        if d < b.upper {
            b.lower = b.upper;
            b.upper = d;
            b.center = j as u32;
        } else if d < b.lower {
            b.lower = d;
        }
    }
    b
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
    let mut bounds: Vec<Bound> =
        pool.install(|| data.par_chunks_exact(dims).with_min_len(64).map(|x| scan_all(x, &centers, dims, kind)).collect());
    tick();
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
        // half the distance from each center to its nearest other center
        let half: Vec<f64> = pool.install(|| {
            (0..k)
                .into_par_iter()
                .map(|j| {
                    let cj = &centers[j * dims..(j + 1) * dims];
                    let m = (0..k).filter(|&o| o != j).map(|o| kind.distance(cj, &centers[o * dims..(o + 1) * dims])).fold(f64::INFINITY, f64::min);
                    m / 2.0
                })
                .collect()
        });
        let (mut top, mut top_at, mut second) = (0f64, usize::MAX, 0f64);
        for (j, &m) in moved.iter().enumerate() {
            if m > top {
                second = top;
                top = m;
                top_at = j;
            } else if m > second {
                second = m;
            }
        }
        let changes: usize = pool.install(|| {
            data.par_chunks_exact(dims)
                .zip(bounds.par_iter_mut())
                .with_min_len(64)
                .map(|(x, b)| {
                    let a = b.center as usize;
                    b.upper += moved[a];
                    b.lower -= if a == top_at { second } else { top };
                    let m = half[a].max(b.lower);
                    if b.upper <= m {
                        return 0;
                    }
                    b.upper = kind.distance(x, &centers[a * dims..(a + 1) * dims]);
                    if b.upper <= m {
                        return 0;
                    }
                    *b = scan_all(x, &centers, dims, kind);
                    usize::from(b.center as usize != a)
                })
                .sum()
        });
        tick();
        if changes == 0 {
            report.converged = true;
            break;
        }
    }
    centers
}
