//! Neighbour selection: the HNSW paper's heuristic (Algorithm 4). A
//! candidate is kept only if it is closer to the base element than to every
//! neighbour already kept, which spreads links across directions and keeps
//! clusters connected. For metrics where identical vectors are at distance
//! 0 (`dedup`), a candidate identical to a kept one is also dropped, so a
//! pile of duplicate vectors cannot fill every slot. (Filling free slots
//! with pruned candidates, the paper's keepPrunedConnections, was measured
//! and lowers recall on clustered data: it crowds out links between
//! clusters.)

use super::{Candidate, NodeId};

/// Picks at most `m` of `candidates` (sorted nearest first by distance to
/// the base element) into `out`. `between(a, b)` is the distance between two
/// candidates.
pub fn select_neighbors(
    candidates: &[Candidate],
    m: usize,
    dedup: bool,
    between: &mut dyn FnMut(NodeId, NodeId) -> f32,
    out: &mut Vec<Candidate>,
) {
    out.clear();
    for &c in candidates {
        if out.len() >= m {
            break;
        }
        let diverse = out.iter().all(|r| {
            let d = between(c.id, r.id);
            d >= c.dist && !(dedup && d <= 0.0)
        });
        if diverse {
            out.push(c);
        }
    }
}
