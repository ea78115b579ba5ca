//! Review: the compact Adjacency against a plain model (a Vec per list and
//! a map of ids): dense ids switching to mapped ones at a random point,
//! lists shorter than, at, and over the slot, shrinking back, unknown and
//! repeated ids, stride 0 and 1.

use std::collections::HashMap;

use vecstore_core::hnsw::reach::Adjacency;
use vecstore_core::rng::Rng;

#[test]
fn adjacency_matches_a_plain_model() {
    let mut rng = Rng::new(77);
    for round in 0..400 {
        let n = rng.below(40) as usize;
        let stride = [0, 1, 2, 4, 8][round % 5];
        let switch = rng.below(n as u64 + 2) as usize;
        let mut adj = Adjacency::new(n, stride);
        let mut ids = Vec::new();
        let mut index: HashMap<u64, u32> = HashMap::new();
        for i in 0..n {
            let id = if i < switch { i as u64 } else { 1000 + rng.below(60) };
            let live = rng.below(2) == 0;
            assert_eq!(adj.add(id, live), i as u32);
            ids.push(id);
            index.insert(id, i as u32);
        }
        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); n];
        for _ in 0..3 * n {
            let i = rng.below(n as u64) as usize;
            let len = rng.below(2 * stride as u64 + 3) as usize;
            let list: Vec<u64> = (0..len)
                .map(|_| match rng.below(3) {
                    0 => 5000 + rng.below(10),
                    _ => ids[rng.below(n as u64) as usize],
                })
                .collect();
            adj.set_list(i as u32, &list);
            lists[i] = list.iter().filter_map(|x| index.get(x).copied()).collect();
            for k in 0..n {
                assert_eq!(adj.list(k as u32), &lists[k][..], "round {round} element {k} stride {stride}");
            }
        }
        for probe in (0..70).chain(1000..1070).chain(5000..5010) {
            assert_eq!(adj.index_of(probe), index.get(&probe).copied(), "round {round} id {probe}");
        }
    }
}
