//! The order a fresh index lays its elements out in. A search hop reads
//! the values of one element's neighbours; when they lie on few pages, the
//! hop pins, locks and misses the TLB and caches for fewer pages. A
//! breadth-first walk of layer 0 places each element's not yet placed
//! neighbours right after one another, so most of a hop's values share
//! pages with each other.

use super::MemGraph;

/// The graph's members, each once, in breadth-first order over layer 0
/// from the entry element; members the walk does not reach start walks of
/// their own, in insertion order.
pub fn locality_order(g: &MemGraph) -> Vec<u32> {
    let members = g.members();
    let mut is_member = vec![false; g.len()];
    for &row in members {
        is_member[row as usize] = true;
    }
    let mut seen = vec![false; g.len()];
    let mut out = Vec::with_capacity(members.len());
    let mut list = Vec::new();
    let seeds = g.entry().map(|(row, _)| row).into_iter().chain(members.iter().copied());
    for seed in seeds {
        if !is_member[seed as usize] || seen[seed as usize] {
            continue;
        }
        seen[seed as usize] = true;
        // `out` doubles as the queue: rows from `head` on are not expanded yet
        let mut head = out.len();
        out.push(seed);
        while head < out.len() {
            let row = out[head] as usize;
            head += 1;
            list.clear();
            list.extend(g.neighbors(row, 0));
            for &n in &list {
                let n = n as usize;
                if n < g.len() && is_member[n] && !seen[n] {
                    seen[n] = true;
                    out.push(n as u32);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::Metric;
    use crate::hnsw::dedup::Values;
    use crate::hnsw::{Params, MAX_LEVEL};
    use crate::rng::Rng;
    use crate::space::Space;

    /// `n` uniform points in the unit square: the graph links near points,
    /// insertion order is random with respect to position.
    fn graph(n: usize, members: Vec<u32>) -> MemGraph {
        let mut rng = Rng::new(7);
        let data: Vec<f32> = (0..n * 2).map(|_| rng.uniform() as f32).collect();
        let params = Params { m: 8, ef_construction: 32, metric: Metric::L2, max_level: MAX_LEVEL };
        let g = MemGraph::with_members(params, Space::F32 { metric: Metric::L2, dims: 2 }, Values::from_f32(2, &data), 11, members);
        g.build(2, &mut |_| true).unwrap();
        g
    }

    #[test]
    fn every_member_once_entry_first() {
        let n = 3000;
        let members: Vec<u32> = (0..n as u32).filter(|r| r % 7 != 3).collect();
        let g = graph(n, members.clone());
        let order = locality_order(&g);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, members, "a permutation of the members, non-members left out");
        assert_eq!(order[0], g.entry().unwrap().0);
    }

    #[test]
    fn neighbours_land_closer_than_in_insertion_order() {
        // mean distance, in placement positions, between an element and
        // its layer-0 neighbours
        let n = 4000;
        let g = graph(n, (0..n as u32).collect());
        let spread = |order: &[u32]| {
            let mut pos = vec![0usize; n];
            for (p, &row) in order.iter().enumerate() {
                pos[row as usize] = p;
            }
            let (mut sum, mut count) = (0f64, 0f64);
            for row in 0..n {
                for nb in g.neighbors(row, 0) {
                    sum += (pos[row] as f64 - pos[nb as usize] as f64).abs();
                    count += 1.0;
                }
            }
            sum / count
        };
        let walked = spread(&locality_order(&g));
        let inserted = spread(g.members());
        assert!(walked * 4.0 < inserted, "walk {walked:.0} vs insertion order {inserted:.0}");
    }
}
