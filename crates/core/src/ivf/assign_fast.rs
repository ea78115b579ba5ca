//! [`super::assign`] for float4 values under L2, inner product or cosine
//! (the build's last step, every row against every list center): the
//! [`super::kernel`] sums of four rows per center read each center once
//! for the four, then the centers within rounding reach of a row's best
//! are compared again with [`Space::distance`], so every row gets exactly
//! the list [`super::nearest`] gives it (ties to the lower list).

use super::kernel;
use crate::distance::Metric;
use crate::space::{f32s, Space};
use rayon::prelude::*;

/// Rows compared with every center together.
const BLOCK: usize = 16;

/// The nearest list of every query as [`super::assign`] gives it, or None
/// when the space is not float4 with one of the three metrics (or a value
/// is not float4: the caller then uses [`super::assign`]).
pub fn assign_fast(space: &Space, centers: &[impl std::ops::Deref<Target = [u8]> + Sync], queries: &[&[u8]], pool: &rayon::ThreadPool) -> Option<Vec<u32>> {
    let Space::F32 { metric, dims } = *space else { return None };
    if !matches!(metric, Metric::L2 | Metric::InnerProduct | Metric::Cosine) || centers.is_empty() {
        return None;
    }
    let cs: Vec<&[f32]> = centers.iter().map(|c| f32s(&c[..]).filter(|c| c.len() == dims)).collect::<Option<_>>()?;
    let qs: Vec<&[f32]> = queries.iter().map(|q| f32s(q).filter(|q| q.len() == dims)).collect::<Option<_>>()?;
    let cmax = cs.iter().map(|c| kernel::dot(c, c)).fold(0f32, f32::max).sqrt();
    let mut out = vec![0u32; qs.len()];
    pool.install(|| {
        out.par_chunks_mut(BLOCK).zip(qs.par_chunks(BLOCK)).zip(queries.par_chunks(BLOCK)).with_min_len(4).for_each_init(
            || vec![0f32; BLOCK * cs.len()],
            |approx, ((out, qs), raw)| block(space, metric, centers, &cs, cmax, qs, raw, approx, out),
        )
    });
    Some(out)
}

/// One block of rows: approximate distances to every center (center
/// outer), then the exact re-check of the near ties.
#[allow(clippy::too_many_arguments)]
fn block(
    space: &Space,
    metric: Metric,
    centers: &[impl std::ops::Deref<Target = [u8]>],
    cs: &[&[f32]],
    cmax: f32,
    qs: &[&[f32]],
    raw: &[&[u8]],
    approx: &mut [f32],
    out: &mut [u32],
) {
    let k = cs.len();
    let index = |s: f32| match metric {
        Metric::L2 => s,
        Metric::InnerProduct => -s,
        _ => 1.0 - s,
    };
    for (j, c) in cs.iter().enumerate() {
        for (g, four) in qs.chunks(4).enumerate() {
            let sums = match *four {
                [a, b, c4, d] => match metric {
                    Metric::L2 => kernel::l2sq4(c, [a, b, c4, d]),
                    _ => kernel::dot4(c, [a, b, c4, d]),
                },
                _ => {
                    let mut s = [0f32; 4];
                    for (s, q) in s.iter_mut().zip(four) {
                        *s = if metric == Metric::L2 { kernel::l2sq(c, q) } else { kernel::dot(c, q) };
                    }
                    s
                }
            };
            for (o, &s) in sums.iter().take(four.len()).enumerate() {
                approx[(4 * g + o) * k + j] = index(s);
            }
        }
    }
    let dims = cs[0].len() as f32;
    for (r, (q, o)) in qs.iter().zip(out.iter_mut()).enumerate() {
        let row = &approx[r * k..(r + 1) * k];
        let best = row.iter().copied().fold(f32::INFINITY, f32::min);
        // float4 sums of `dims` terms: each within dims * 2^-24 of the sum
        // of the terms' magnitudes (both this sum and simsimd's); twice
        // that, doubled again for safety
        let scale = match metric {
            Metric::L2 => best.abs(),
            _ => kernel::dot(q, q).sqrt() * cmax,
        };
        let tol = 4.0 * dims * f32::EPSILON * scale + f32::MIN_POSITIVE;
        let exact = |j: usize| space.distance(raw[r], &centers[j][..]);
        *o = if !best.is_finite() || !tol.is_finite() {
            (0..k).fold((f64::INFINITY, 0usize), |b, j| {
                let d = exact(j);
                if d < b.0 {
                    (d, j)
                } else {
                    b
                }
            })
            .1 as u32
        } else {
            let mut pick = (f64::INFINITY, 0usize);
            for (j, &a) in row.iter().enumerate() {
                if a <= best + tol {
                    let d = exact(j);
                    if d < pick.0 {
                        pick = (d, j);
                    }
                }
            }
            pick.1 as u32
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::space::Bytes;

    fn pool() -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap()
    }

    /// Same lists as `assign` (and `nearest`), near ties included: centers
    /// repeated (exact ties go to the lower list), rows on the midpoint of
    /// two centers, odd dimensions, a last block of fewer than four rows.
    #[test]
    fn same_lists_as_assign() {
        let mut rng = Rng::new(3);
        for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
            for dims in [1usize, 3, 17, 384] {
                let unit = |mut v: Vec<f32>| {
                    if metric == Metric::Cosine {
                        crate::ivf::kmeans::normalize(&mut v);
                    }
                    v
                };
                let mut cs: Vec<Vec<f32>> = (0..37).map(|_| unit((0..dims).map(|_| rng.normal() as f32).collect())).collect();
                cs.push(cs[5].clone());
                cs.push(cs[0].clone());
                let mut rows: Vec<Vec<f32>> = (0..203).map(|_| unit((0..dims).map(|_| rng.normal() as f32).collect())).collect();
                for (a, b) in [(1usize, 2usize), (3, 4), (5, 6)] {
                    rows.push(cs[b].clone());
                    // midpoints, nudged by far less than float4 rounding of
                    // the distances: the two sums may order them either way
                    for _ in 0..300 {
                        rows.push(unit(cs[a].iter().zip(&cs[b]).map(|(x, y)| (x + y) / 2.0 + rng.normal() as f32 * 1e-7).collect()));
                    }
                }
                let space = Space::F32 { metric, dims };
                let centers: Vec<Bytes> = cs.iter().map(|c| Bytes::from_f32(c)).collect();
                let values: Vec<Bytes> = rows.iter().map(|r| Bytes::from_f32(r)).collect();
                let refs: Vec<&[u8]> = values.iter().map(|v| &v[..]).collect();
                let fast = assign_fast(&space, &centers, &refs, &pool()).expect("float4 space");
                let slow = crate::ivf::assign(&space, &centers, &refs, &pool());
                assert_eq!(fast, slow, "{metric:?} dims {dims}");
                assert!(!fast.contains(&37) && !fast.contains(&38), "{metric:?} dims {dims}: a repeated center took rows");
            }
        }
    }

    #[test]
    fn other_spaces_are_left_to_assign() {
        let centers = vec![Bytes::from_f32(&[1.0, 2.0])];
        let q = Bytes::from_f32(&[1.0, 2.0]);
        assert!(assign_fast(&Space::F32 { metric: Metric::L1, dims: 2 }, &centers, &[&q[..]], &pool()).is_none());
        assert!(assign_fast(&Space::F16 { metric: Metric::L2, dims: 2 }, &centers, &[&q[..]], &pool()).is_none());
        assert_eq!(assign_fast(&Space::F32 { metric: Metric::L2, dims: 2 }, &centers, &[&q[..]], &pool()), Some(vec![0]));
    }
}
