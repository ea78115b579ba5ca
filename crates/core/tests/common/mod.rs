//! Helpers shared by the integration tests (each test file that needs them
//! declares `mod common;`).
#![allow(dead_code)]

use vecstore_core::hnsw::reach::Adjacency;
use vecstore_core::hnsw::{MemGraph, NodeId};

/// Which vectors a walk over layer 0 from the entry reaches (what a search
/// allowed to visit everything can return).
pub fn reached(g: &MemGraph) -> Vec<bool> {
    let mut seen = vec![false; g.len()];
    let Some((ep, _)) = g.entry() else { return seen };
    let mut stack = vec![ep];
    seen[ep as usize] = true;
    while let Some(x) = stack.pop() {
        for y in g.neighbors(x as usize, 0) {
            if !std::mem::replace(&mut seen[y as usize], true) {
                stack.push(y);
            }
        }
    }
    seen
}

/// The layer-0 snapshot `reach::connect` works on, taken from `g` with
/// `live[i]` telling which elements are live.
pub fn snapshot(g: &MemGraph, live: &[bool]) -> Adjacency {
    let n = g.len();
    let mut adj = Adjacency::new(n, g.params.max_neighbors(0));
    for i in 0..n {
        adj.add(i as NodeId, live[i]);
    }
    for i in 0..n {
        let list: Vec<NodeId> = g.neighbors(i, 0).into_iter().map(NodeId::from).collect();
        adj.set_list(i as u32, &list);
    }
    adj
}
