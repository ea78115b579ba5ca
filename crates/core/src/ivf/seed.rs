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
//!
//! Every distance met on the way (or, for a skipped one, its triangle
//! bound d(c, p) - d(x, c)) is kept as a lower bound for Elkan's Lloyd
//! iterations, and every sample's nearest center and distance as its
//! assignment and upper bound, so the iterations start without a full
//! pass over all samples and centers (as pgvector reuses its seeding's).

use super::kmeans::Kind;
use super::samples::Samples;
use crate::rng::Rng;
use rayon::prelude::*;

/// What seeding leaves: the chosen samples, and per sample its nearest
/// chosen center (position in `chosen`) and the distance to it.
pub struct Seeds {
    /// Sample indices of the centers, in order.
    pub chosen: Vec<usize>,
    /// Per sample: nearest center and distance.
    pub near: Vec<(u32, f64)>,
}

/// `k` (< number of samples) seed centers; `lower` (k per sample, sample
/// after sample) gets a lower bound to each center, exact where computed.
#[allow(clippy::too_many_arguments)]
pub fn seed(samples: &Samples, k: usize, kind: Kind, trials: usize, rng: &mut Rng, pool: &rayon::ThreadPool, tick: &mut dyn FnMut(), lower: &mut [f32]) -> Seeds {
    let n = samples.len();
    assert_eq!(lower.len(), n * k);
    let trials = trials.max(1);
    let mut chosen = Vec::with_capacity(k);
    let first = rng.below(n as u64) as usize;
    chosen.push(first);
    // nearest chosen center (its position in `chosen`) and distance
    let mut near: Vec<(u32, f64)> = vec![(0, 0.0); n];
    pool.install(|| {
        near.par_chunks_mut(4).zip(lower.par_chunks_mut(4 * k)).enumerate().with_min_len(64).for_each(|(g, (nw, low))| {
            let d = samples.between4(kind, 4 * g, nw.len(), first);
            for (o, w) in nw.iter_mut().enumerate() {
                *w = (0, d[o]);
                low[o * k] = d[o] as f32;
            }
        })
    });
    let mut total: f64 = near.iter().map(|p| p.1 * p.1).sum();
    // distances of every chosen center to the candidates (row per candidate)
    let mut cc: Vec<f64> = Vec::with_capacity(trials * k);
    let mut found: Vec<f64> = vec![f64::NAN; n * trials];
    if trials == 1 {
        plain(samples, k, kind, rng, pool, tick, lower, &mut chosen, &mut near, total);
        return Seeds { chosen, near };
    }
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
        // per candidate: the total it leaves; `found` keeps the distances
        // computed (NaN: skipped), four samples at a time
        let totals: Vec<f64> = pool.install(|| {
            near.par_chunks(4)
                .zip(found.par_chunks_mut(4 * trials))
                .enumerate()
                .with_min_len(64)
                .fold(
                    || vec![0f64; trials],
                    |mut acc, (g, (nw, f))| {
                        for (t, &p) in picks.iter().enumerate() {
                            let need = |&(c, w): &(u32, f64)| cc[t * m + c as usize] < 2.0 * w;
                            let d = if nw.iter().any(need) { samples.between4(kind, 4 * g, nw.len(), p) } else { [f64::NAN; 4] };
                            for (o, nwo) in nw.iter().enumerate() {
                                let keep = need(nwo);
                                f[o * trials + t] = if keep { d[o] } else { f64::NAN };
                                let best = if keep { nwo.1.min(d[o]) } else { nwo.1 };
                                acc[t] += best * best;
                            }
                        }
                        acc
                    },
                )
                .reduce(|| vec![0f64; trials], |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect())
        });
        let t = (0..trials).min_by(|&a, &b| totals[a].total_cmp(&totals[b])).unwrap_or(0);
        let id = m as u32;
        let row = &cc[t * m..(t + 1) * m];
        pool.install(|| {
            near.par_iter_mut().zip(found.par_chunks(trials)).zip(lower.par_chunks_mut(k)).with_min_len(256).for_each(|((nw, f), low)| {
                let d = f[t];
                // computed, or skipped because d(c, p) >= 2 d(x, c): then
                // d(x, p) >= d(c, p) - d(x, c) >= d(x, c)
                low[m] = if d.is_nan() { (row[nw.0 as usize] - nw.1) as f32 } else { d as f32 };
                if d < nw.1 {
                    *nw = (id, d);
                }
            })
        });
        total = totals[t];
        chosen.push(picks[t]);
        tick();
    }
    Seeds { chosen, near }
}

/// Plain k-means++ (one candidate a center): one parallel pass over the
/// samples per center, which computes the distances it needs and updates
/// the nearest centers and lower bounds (a pass per
/// center is a wait for every worker: few of them matter on a busy
/// machine, where a worker may be off its CPU).
#[allow(clippy::too_many_arguments)]
fn plain(
    samples: &Samples,
    k: usize,
    kind: Kind,
    rng: &mut Rng,
    pool: &rayon::ThreadPool,
    tick: &mut dyn FnMut(),
    lower: &mut [f32],
    chosen: &mut Vec<usize>,
    near: &mut [(u32, f64)],
    mut total: f64,
) {
    let n = near.len();
    let mut cc: Vec<f64> = Vec::with_capacity(k);
    // the bounds of the last few centers, per sample side by side (a cache
    // line a sample), copied to `lower` every COLUMNS centers: `lower`
    // written a column at a time would miss the cache on every sample
    let mut cols = vec![0f32; n * COLUMNS];
    let mut first = chosen.len();
    while chosen.len() < k {
        let p = draw(near, total, rng);
        let m = chosen.len();
        let slot = m - first;
        cc.clear();
        cc.extend(chosen.iter().map(|&c| samples.between(kind, c, p)));
        let id = m as u32;
        pool.install(|| {
            near.par_chunks_mut(4)
                .zip(cols.par_chunks_mut(4 * COLUMNS))
                .enumerate()
                .with_min_len(64)
                .for_each(|(g, (nw, low))| {
                    let need = |&(c, w): &(u32, f64)| cc[c as usize] < 2.0 * w;
                    let d = if nw.iter().any(need) { samples.between4(kind, 4 * g, nw.len(), p) } else { [f64::NAN; 4] };
                    for (o, w) in nw.iter_mut().enumerate() {
                        if need(w) {
                            low[o * COLUMNS + slot] = d[o] as f32;
                            if d[o] < w.1 {
                                *w = (id, d[o]);
                            }
                        } else {
                            // d(x, p) >= d(c, p) - d(x, c) >= d(x, c)
                            low[o * COLUMNS + slot] = (cc[w.0 as usize] - w.1) as f32;
                        }
                    }
                })
        });
        // summed in order: the same draws whatever the threads did
        total = near.iter().map(|w| w.1 * w.1).sum();
        chosen.push(p);
        if slot + 1 == COLUMNS || chosen.len() == k {
            let filled = slot + 1;
            pool.install(|| {
                lower.par_chunks_mut(k).zip(cols.par_chunks(COLUMNS)).with_min_len(256).for_each(|(low, col)| {
                    low[first..first + filled].copy_from_slice(&col[..filled]);
                })
            });
            first = chosen.len();
        }
        tick();
    }
}

/// Centers whose bounds [`plain`] gathers before writing them out.
const COLUMNS: usize = 16;

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
