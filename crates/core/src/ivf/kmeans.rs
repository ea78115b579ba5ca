//! k-means for list centers: k-means++ seeding ([`super::seed`]), then
//! Lloyd iterations accelerated with Elkan's bounds (an upper bound to the
//! assigned center and a lower bound to every center per sample, kept with
//! the triangle inequality, so most distances are skipped once centers
//! settle). At most [`MAX_ITERATIONS`] iterations; stops when no sample
//! changes list.
//!
//! Lower bounds are kept lazily: each is stored plus the total distance its
//! center had moved when it was set, so a center's move costs one addition
//! instead of a pass over all samples. Center sums are updated only for
//! the samples that changed list, and center-to-center distances only for
//! the centers that moved.
//!
//! Work over samples runs on the given rayon pool; `tick` runs on the
//! caller's thread between steps (the extension checks for interrupts
//! there, so it may unwind out of this function).

use super::samples::Samples;
use crate::rng::Rng;
use rayon::prelude::*;

/// Most Lloyd iterations.
pub const MAX_ITERATIONS: usize = 500;

/// Candidates drawn for each seed center (1: plain k-means++, as pgvector).
pub const SEED_TRIALS: usize = 1;

/// How samples and centers are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Euclidean distance (L2 opclasses).
    Euclidean,
    /// Chord (Euclidean distance) between unit vectors, which orders as
    /// the angle does; samples must be unit length and centers
    /// are normalised every iteration (ip and cosine: spherical k-means).
    Spherical,
    /// 0/1 values compared as Euclidean; final centers set an element to 1
    /// where the mean exceeds 0.5 (bit opclasses).
    Binary,
}

/// What one run did (for tests and the build's log).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Lloyd iterations run.
    pub iterations: usize,
    /// Whether it stopped because no sample changed list.
    pub converged: bool,
    /// Seconds spent seeding.
    pub seed_seconds: f64,
    /// Seconds spent in Lloyd iterations.
    pub lloyd_seconds: f64,
}

/// Scales `x` to unit length (a zero vector stays zero).
pub fn normalize(x: &mut [f32]) {
    let n = crate::distance::norm(x);
    if n > 0.0 && n.is_finite() {
        x.iter_mut().for_each(|v| *v = (*v as f64 / n) as f32);
    }
}

/// `k` centers of `samples.dims()` float4 elements (flat, center after
/// center). With no more samples than centers, the samples are the first
/// centers. Centers no sample picks get random elements uniform in [0, 1)
/// (normalised for [`Kind::Spherical`]).
pub fn kmeans(samples: Samples, k: usize, kind: Kind, seed: u64, pool: &rayon::ThreadPool, tick: &mut dyn FnMut()) -> (Vec<f32>, Report) {
    kmeans_with(samples, k, kind, seed, SEED_TRIALS, pool, tick)
}

/// [`kmeans`] with `trials` candidates per seed center.
pub fn kmeans_with(samples: Samples, k: usize, kind: Kind, seed: u64, trials: usize, pool: &rayon::ThreadPool, tick: &mut dyn FnMut()) -> (Vec<f32>, Report) {
    let n = samples.len();
    let dims = samples.dims();
    let mut rng = Rng::new(seed);
    let mut report = Report::default();
    let mut centers = if n <= k {
        let mut c: Vec<f32> = (0..n).flat_map(|i| samples.to_vec(i)).collect();
        for _ in n..k {
            c.extend(random_center(&mut rng, dims, kind));
        }
        c
    } else {
        let t = std::time::Instant::now();
        let mut lower = vec![0f32; n * k];
        let seeds = super::seed::seed(&samples, k, kind, trials, &mut rng, pool, tick, &mut lower);
        let c: Vec<f32> = seeds.chosen.iter().flat_map(|&i| samples.to_vec(i)).collect();
        let bounds = seeds.near.iter().map(|&(center, upper)| Bound { center, upper }).collect();
        drop(seeds);
        report.seed_seconds = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let c = lloyd(&samples, k, kind, c, Start { bounds, lower }, &mut rng, pool, tick, &mut report);
        report.lloyd_seconds = t.elapsed().as_secs_f64();
        c
    };
    if kind == Kind::Binary {
        centers.iter_mut().for_each(|v| *v = if *v > 0.5 { 1.0 } else { 0.0 });
    }
    (centers, report)
}

/// List centers for Euclidean samples that all lie on one sphere about
/// the origin, of radius `radius` ([`Samples::sphere_radius`]), given here
/// normalised (`unit`): spherical k-means, centers scaled back onto that
/// sphere. Every center then has the same norm, so the nearest center in
/// Euclidean distance is the one of least angle, as for the samples'
/// neighbours on the sphere; Euclidean means lie inside the ball at depths
/// that differ from list to list, which biases list choice (lower recall
/// at equal probes on normalised embeddings, see examples/ivf_recall.rs).
pub fn kmeans_on_sphere(unit: Samples, radius: f64, k: usize, seed: u64, pool: &rayon::ThreadPool, tick: &mut dyn FnMut()) -> (Vec<f32>, Report) {
    let (mut centers, report) = kmeans(unit, k, Kind::Spherical, seed, pool, tick);
    centers.iter_mut().for_each(|v| *v = (*v as f64 * radius) as f32);
    (centers, report)
}

fn random_center(rng: &mut Rng, dims: usize, kind: Kind) -> Vec<f32> {
    let mut c: Vec<f32> = (0..dims).map(|_| rng.uniform() as f32).collect();
    if kind == Kind::Spherical {
        normalize(&mut c);
    }
    c
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

/// Where the centers stand for the assignment step: the centers, the total
/// distance each has moved (`drift`), half the center-to-center distances in float4 (`hc32`)
/// and half the distance from each center to its nearest other (`half`).
struct Frame<'a> {
    centers: &'a [f32],
    dims: usize,
    k: usize,
    kind: Kind,
    drift: &'a [f64],
    half: &'a [f64],
    /// `drift` and half of `cc` in float4 (for [`candidates`]).
    drift32: &'a [f32],
    hc32: &'a [f32],
}

impl Frame<'_> {
    #[inline]
    fn distance(&self, x: &[f32], j: usize) -> f64 {
        self.kind.distance(x, &self.centers[j * self.dims..(j + 1) * self.dims])
    }

    /// Half the distance between centers `a` and `j`, from its float4
    /// copy less a margin for the rounding (the copy's row is in cache
    /// after [`candidates`]; the float8 matrix is not).
    #[inline]
    fn half_cc(&self, a: usize, j: usize) -> f64 {
        self.hc32[a * self.k + j] as f64 * (1.0 - 1e-6)
    }

    /// The stored form of lower bound `d` to center `j`.
    #[inline]
    fn store(&self, d: f64, j: usize) -> f32 {
        (d + self.drift[j]) as f32
    }

    /// The lower bound to center `j` from its stored form (less a margin
    /// for the float4 rounding of the stored form).
    #[inline]
    fn lower(&self, stored: f32, j: usize) -> f64 {
        let s = stored as f64;
        s - self.drift[j] - 1e-6 * (s.abs() + self.drift[j])
    }

    /// One assignment step of Elkan's algorithm for sample `i`; true when
    /// its center changed. The sample is widened only if a distance is needed.
    #[inline]
    fn step(&self, samples: &Samples, i: usize, (buf, cand): &mut (Vec<f32>, Vec<u32>), b: &mut Bound, lower: &mut [f32]) -> bool {
        let k = self.k;
        let old = b.center as usize;
        if b.upper <= self.half[old] {
            return false;
        }
        candidates(lower, self.drift32, &self.hc32[old * k..(old + 1) * k], b.upper, cand);
        let mut tight = false;
        let mut x: Option<&[f32]> = None;
        let mut spare = Some(buf);
        for &j in cand.iter() {
            let j = j as usize;
            let a = b.center as usize;
            if j == a || b.upper <= self.lower(lower[j], j) || b.upper <= self.half_cc(a, j) {
                continue;
            }
            if x.is_none() {
                x = spare.take().map(|buf| samples.row(i, buf));
            }
            let Some(xr) = x else { break };
            if !tight {
                b.upper = self.distance(xr, a);
                lower[a] = self.store(b.upper, a);
                tight = true;
                if b.upper <= self.lower(lower[j], j) || b.upper <= self.half_cc(a, j) {
                    continue;
                }
            }
            let d = self.distance(xr, j);
            lower[j] = self.store(d, j);
            if d < b.upper {
                b.upper = d;
                b.center = j as u32;
            }
        }
        b.center as usize != old
    }
}

/// Into `out`, the centers `j` [`Frame::step`] must look at for a sample
/// with upper bound `upper`, stored lower bounds `stored` and, for its
/// center, the float4 half distances `hc` to every center: those not
/// excluded by the tests on float4 copies, with a margin (4e-6 relative)
/// wider than their rounding, so a center the exact tests would look at is
/// never left out. Chunks of 16 centers test without branches (vectorised).
#[inline]
fn candidates(stored: &[f32], drift: &[f32], hc: &[f32], upper: f64, out: &mut Vec<u32>) {
    const WIDE: f32 = 1.0 + 4e-6;
    out.clear();
    let u = upper as f32 * WIDE;
    let chunks = stored.chunks(16).zip(drift.chunks(16)).zip(hc.chunks(16));
    for (c, ((s, d), h)) in chunks.enumerate() {
        let mut mask = 0u32;
        for l in 0..s.len() {
            let keep = (s[l] < (u + d[l]) * WIDE) & (h[l] < u);
            mask |= (keep as u32) << l;
        }
        while mask != 0 {
            out.push((c * 16) as u32 + mask.trailing_zeros());
            mask &= mask - 1;
        }
    }
}

/// Adds (`sign` 1) or removes (-1) sample `x` from the sums of its center.
#[inline]
fn add_to(sums: &mut [f64], x: &[f32], sign: f64) {
    sums.iter_mut().zip(x).for_each(|(s, v)| *s += sign * *v as f64);
}

/// Recomputes the rows and columns of `cc` of the centers in `moved`, and
/// `half` from it.
fn update_cc(centers: &[f32], dims: usize, k: usize, kind: Kind, moved: &[usize], cc: &mut [f64], half: &mut [f64], pool: &rayon::ThreadPool) {
    let rows: Vec<Vec<f64>> = pool.install(|| {
        moved
            .par_iter()
            .map(|&i| {
                let ci = &centers[i * dims..(i + 1) * dims];
                (0..k).map(|j| if i == j { 0.0 } else { kind.distance(ci, &centers[j * dims..(j + 1) * dims]) }).collect()
            })
            .collect()
    });
    for (&i, row) in moved.iter().zip(&rows) {
        for (j, &d) in row.iter().enumerate() {
            cc[i * k + j] = d;
            cc[j * k + i] = d;
        }
    }
    for (j, h) in half.iter_mut().enumerate() {
        *h = (0..k).filter(|&o| o != j).map(|o| cc[j * k + o]).fold(f64::INFINITY, f64::min) / 2.0;
    }
}

/// Elkan's state after seeding: each sample's nearest seed and exact
/// distance to it, and lower bounds to every seed (k per sample).
struct Start {
    bounds: Vec<Bound>,
    lower: Vec<f32>,
}

#[allow(clippy::too_many_arguments)]
fn lloyd(
    samples: &Samples,
    k: usize,
    kind: Kind,
    mut centers: Vec<f32>,
    start: Start,
    rng: &mut Rng,
    pool: &rayon::ThreadPool,
    tick: &mut dyn FnMut(),
    report: &mut Report,
) -> Vec<f32> {
    let n = samples.len();
    let dims = samples.dims();
    let Start { mut bounds, mut lower } = start;
    let mut drift = vec![0f64; k];
    let mut cc = vec![0f64; k * k];
    let mut half = vec![0f64; k];
    let (mut drift32, mut hc32) = (vec![0f32; k], vec![0f32; k * k]);
    let mut sums = vec![0f64; k * dims];
    let mut counts = vec![0usize; k];
    let mut buf = Vec::new();
    for (i, b) in bounds.iter().enumerate() {
        let j = b.center as usize;
        counts[j] += 1;
        add_to(&mut sums[j * dims..(j + 1) * dims], samples.row(i, &mut buf), 1.0);
    }
    let mut first = true;
    loop {
        // new centers: the means of their samples
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
        let which: Vec<usize> = if first { (0..k).collect() } else { (0..k).filter(|&j| moved[j] != 0.0).collect() };
        first = false;
        update_cc(&centers, dims, k, kind, &which, &mut cc, &mut half, pool);
        drift.iter_mut().zip(&moved).for_each(|(d, m)| *d += m);
        bounds.iter_mut().for_each(|b| b.upper += moved[b.center as usize]);
        drift32.iter_mut().zip(&drift).for_each(|(t, &d)| *t = d as f32);
        hc32.iter_mut().zip(&cc).for_each(|(t, &d)| *t = (0.5 * d) as f32);
        let frame = Frame { centers: &centers, dims, k, kind, drift: &drift, half: &half, drift32: &drift32, hc32: &hc32 };
        let mut changed: Vec<(u32, u32, u32)> = Vec::new();
        for_blocks(n, k, tick, |range, lrange| {
            let start = range.start;
            let part: Vec<(u32, u32, u32)> = pool.install(|| {
                bounds[range]
                    .par_iter_mut()
                    .zip(lower[lrange].par_chunks_exact_mut(k))
                    .enumerate()
                    .with_min_len(64)
                    .map_init(|| (Vec::new(), Vec::new()), |buf, (o, (b, l))| {
                        let old = b.center;
                        frame.step(samples, start + o, buf, b, l).then_some(((start + o) as u32, old, b.center))
                    })
                    .flatten_iter()
                    .collect()
            });
            changed.extend(part);
        });
        if changed.is_empty() {
            report.converged = true;
            break;
        }
        for &(i, from, to) in &changed {
            let x = samples.row(i as usize, &mut buf);
            let (from, to) = (from as usize, to as usize);
            counts[from] -= 1;
            counts[to] += 1;
            add_to(&mut sums[from * dims..(from + 1) * dims], x, -1.0);
            add_to(&mut sums[to * dims..(to + 1) * dims], x, 1.0);
        }
    }
    centers
}
