//! Helpers shared by the integration tests (each test file that needs them
//! declares `mod common;`).
#![allow(dead_code)]

use vecstore_core::hnsw::MemGraph;

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
