//! Review of choosing neighbours on 8-bit l2 codes: data at the edges of
//! float4 (tiny and huge magnitudes, far offsets, many dimensions) where
//! the codes' answers must still match the exact distances' choices.

use super::*;
use crate::distance::{index_distance, Metric};
use crate::rng::Rng;

/// Blobs in random 6-dimensional subspaces, `n` rows of `dims`.
fn blobs(n: usize, dims: usize, centers: usize, seed: u64) -> Vec<f32> {
    const SUB: usize = 6;
    let mut rng = Rng::new(seed);
    let c: Vec<f32> = (0..centers * dims).map(|_| rng.normal() as f32).collect();
    let basis: Vec<f32> = (0..centers * SUB * dims).map(|_| rng.normal() as f32).collect();
    let mut out = Vec::with_capacity(n * dims);
    for _ in 0..n {
        let k = rng.below(centers as u64) as usize;
        let z: Vec<f32> = (0..SUB).map(|_| 0.3 * rng.normal() as f32).collect();
        out.extend((0..dims).map(|j| c[k * dims + j] + (0..SUB).map(|s| z[s] * basis[(k * SUB + s) * dims + j]).sum::<f32>()));
    }
    out
}

/// (choices that differ between codes and exact distances, comparisons
/// answered on codes) over bases every `stride` rows, or None without
/// 8-bit l2 codes.
pub(super) fn differences(data: &[f32], dims: usize, stride: usize) -> Option<(usize, usize)> {
    let p = Params { m: 8, ef_construction: 40, metric: Metric::L2, max_level: MAX_LEVEL };
    let g = MemGraph::from_f32(p, dims, data, 7);
    if !g.codes.as_ref().is_some_and(|c| c.l2_pairs()) {
        return None;
    }
    let n = data.len() / dims;
    let (mut on_codes, mut differ) = (0usize, 0usize);
    for base in (0..n).step_by(stride) {
        let exact = |i: usize| index_distance(Metric::L2, &data[base * dims..][..dims], &data[i * dims..][..dims]);
        let mut cands: Vec<Candidate> = (0..n).filter(|&i| i != base).map(|i| Candidate { dist: exact(i), id: i as NodeId }).collect();
        cands.sort();
        cands.truncate(40);
        let mut codes = g.build_store(&[], None);
        let mut plain = g.store(&[], None);
        let a = insert::choose(&mut codes, &p, 16, &cands);
        let b = insert::choose(&mut plain, &p, 16, &cands);
        differ += (a != b) as usize;
        for c in &cands {
            for k in &cands {
                if c.id != k.id && g.codes.as_ref().and_then(|x| x.l2_between_near(c.id as usize, k.id as usize, c.dist)).is_some() {
                    on_codes += 1;
                }
            }
        }
    }
    Some((differ, on_codes))
}

/// Data of tiny magnitude (a spread of about 1e-21): float4 squares of
/// its steps are subnormal (a few bits, or 0) and so are the exact
/// distances' terms; neither is within 0.1 % of the real distance, and
/// codes must not decide there.
#[test]
fn tiny_values_choose_as_exact_distances() {
    let dims = 64;
    let base = blobs(1200, dims, 20, 5);
    for scale in [1e-20f32, 1e-21, 1e-22] {
        let d: Vec<f32> = base.iter().map(|x| x * scale).collect();
        let (differ, on_codes) = differences(&d, dims, 7).expect("8-bit l2 codes");
        println!("scale {scale:e}: {differ} choices differ, {on_codes} comparisons on codes");
        assert_eq!(differ, 0, "scale {scale:e}");
    }
}

/// Far offsets, many dimensions: the same choices, and codes decide.
#[test]
fn offsets_and_many_dimensions_choose_as_exact_distances() {
    for (dims, n, offset) in [(64, 1200, 1e5f32), (64, 1200, 1e7), (2000, 400, 0.0), (16000, 200, 0.0)] {
        let d: Vec<f32> = blobs(n, dims, 20, 5).iter().map(|x| x + offset).collect();
        let (differ, on_codes) = differences(&d, dims, 7).expect("8-bit l2 codes");
        println!("dims {dims} offset {offset:e}: {differ} choices differ, {on_codes} comparisons on codes");
        assert_eq!(differ, 0, "dims {dims} offset {offset:e}");
        assert!(on_codes > 0, "dims {dims} offset {offset:e}");
    }
}

/// Blobs whose last dimension is tiny (steps of 2^-74): pairs of rows
/// equal but for that dimension, where their values straddle a step's
/// midpoint by an ulp: different codes, yet an exact float4 distance of
/// 0 (the difference's square underflows).
pub(super) fn straddling_pairs(n: usize, dims: usize, seed: u64) -> Vec<f32> {
    let mut data = blobs(n, dims, 20, seed);
    let s = 2f32.powi(-74);
    let mut rng = Rng::new(seed + 1);
    for (i, r) in data.chunks_mut(dims).enumerate() {
        r[dims - 1] = match i {
            0 => 0.0,
            1 => 255.0 * s,
            _ => rng.below(255) as f32 * s,
        };
    }
    let mid = 1.5 * s;
    let (below, above) = (f32::from_bits(mid.to_bits() - 1), f32::from_bits(mid.to_bits() + 1));
    for i in (2..n - 1).step_by(97) {
        let row = data[i * dims..][..dims].to_vec();
        data[(i + 1) * dims..][..dims].copy_from_slice(&row);
        data[i * dims + dims - 1] = below;
        data[(i + 1) * dims + dims - 1] = above;
    }
    data
}

/// Rows whose codes differ yet whose exact float4 distance is 0 are
/// duplicates to the heuristic (set aside, last to fill free slots): the
/// codes must not call them merely near (pruned, filling slots first).
#[test]
fn codes_leave_exact_zeros_to_exact_distances() {
    let (differ, on_codes) = differences(&straddling_pairs(1200, 64, 5), 64, 1).expect("8-bit l2 codes");
    println!("straddling pairs: {differ} choices differ, {on_codes} comparisons on codes");
    assert_eq!(differ, 0);
}
