//! k-means++ seeding: each next center is a sample drawn with probability
//! proportional to its squared distance to the nearest center so far
//! (greedy with `trials` > 1: the best of that many draws, the one that
//! lowers the total most).
//!
//! Every sample keeps its nearest center and the distance to it; a new
//! center `p` is compared only with the samples it may be nearer to: by
//! the triangle inequality, d(x, p) >= d(c, p) - d(x, c) for x's nearest
//! center c, so when d(c, p) >= 2 d(x, c) the sample keeps its center
//! (one distance per old center and new one, k^2 in all, instead of most
//! of the n k). The result is that of plain k-means++.

use super::kmeans::Kind;
use super::samples::Samples;
use crate::rng::Rng;
use rayon::prelude::*;

/// Sample indices of `k` (< number of samples) seed centers.
pub fn seed(samples: &Samples, k: usize, kind: Kind, trials: usize, rng: &mut Rng, pool: &rayon::ThreadPool, tick: &mut dyn FnMut()) -> Vec<usize> {
    let n = samples.len();
    let trials = trials.max(1);
    let mut chosen = Vec::with_capacity(k);
    let first = rng.below(n as u64) as usize;
    chosen.push(first);
    // nearest chosen center (its position in `chosen`) and distance
    let mut near: Vec<(u32, f64)> = pool.install(|| (0..n).into_par_iter().with_min_len(256).map(|i| (0, samples.between(kind, i, first))).collect());
    let mut total: f64 = near.iter().map(|p| p.1 * p.1).sum();
    // distances of every chosen center to the candidates (row per candidate)
    let mut cc: Vec<f64> = Vec::with_capacity(trials * k);
    let mut found: Vec<f64> = vec![f64::NAN; n * trials];
    while chosen.len() < k {
        let picks: Vec<usize> = (0..trials).map(|_| draw(&near, total, rng)).collect();
        let m = chosen.len();
        cc.clear();
        cc.resize(trials * m, 0.0);
        pool.install(|| {
            cc.par_chunks_mut(m).zip(&picks).for_each(|(row, &p)| {
                row.iter_mut().zip(&chosen).for_each(|(d, &c)| *d = samples.between(kind, c, p));
            })
        });
        // per candidate: the total it leaves; `found` keeps the distances computed
        let totals: Vec<f64> = pool.install(|| {
            near.par_iter()
                .zip(found.par_chunks_mut(trials))
                .enumerate()
                .with_min_len(256)
                .fold(
                    || vec![0f64; trials],
                    |mut acc, (i, (&(c, w), f))| {
                        for (t, &p) in picks.iter().enumerate() {
                            f[t] = f64::NAN;
                            let mut best = w;
                            if cc[t * m + c as usize] < 2.0 * w {
                                let d = samples.between(kind, i, p);
                                f[t] = d;
                                best = best.min(d);
                            }
                            acc[t] += best * best;
                        }
                        acc
                    },
                )
                .reduce(|| vec![0f64; trials], |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect())
        });
        let t = (0..trials).min_by(|&a, &b| totals[a].total_cmp(&totals[b])).unwrap_or(0);
        let id = m as u32;
        pool.install(|| {
            near.par_iter_mut().zip(found.par_chunks(trials)).with_min_len(256).for_each(|(nw, f)| {
                if f[t] < nw.1 {
                    *nw = (id, f[t]);
                }
            })
        });
        total = totals[t];
        chosen.push(picks[t]);
        tick();
    }
    chosen
}

/// A sample index drawn with probability proportional to its squared
/// distance (uniform when every distance is 0).
fn draw(near: &[(u32, f64)], total: f64, rng: &mut Rng) -> usize {
    let n = near.len();
    if !(total > 0.0 && total.is_finite()) {
        return rng.below(n as u64) as usize;
    }
    let mut target = rng.uniform() * total;
    for (i, &(_, w)) in near.iter().enumerate() {
        let w2 = w * w;
        if target < w2 {
            return i;
        }
        target -= w2;
    }
    n - 1
}
