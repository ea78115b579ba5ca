//! Neighbour selection: the HNSW paper's heuristic (Algorithm 4). A
//! candidate is kept only if it is closer to the base element than to every
//! neighbour already kept, which spreads links across directions and keeps
//! clusters connected. For metrics where identical vectors are at distance
//! 0 (`dedup`), a candidate identical to a kept one is also set aside, so a
//! pile of duplicate vectors cannot crowd out the diverse links; copies of
//! the base element itself are kept up to a small quota, so such a pile is
//! linked among itself (every copy keeps incoming links). Free slots
//! are then filled with the nearest pruned candidates (the paper's
//! keepPrunedConnections, as pgvector does: on real embeddings it raises
//! recall at a given ef_search), and only then with the duplicates, which
//! keeps piles of identical vectors linked among themselves.

use super::{Candidate, NodeId};

/// Picks at most `m` of `candidates` (sorted nearest first by distance to
/// the base element) into `out`. `between(a, b)` is the distance between two
/// candidates.
pub fn select_neighbors(
    candidates: &[Candidate],
    m: usize,
    dedup: bool,
    between: &mut dyn FnMut(NodeId, NodeId) -> f64,
    out: &mut Vec<Candidate>,
) {
    out.clear();
    let mut pruned = Vec::new();
    let mut dups = Vec::new();
    // copies of the base element itself: a few are kept as links, so a pile
    // of identical vectors is linked among itself and stays reachable
    let quota = super::insert::copy_quota(m);
    let mut copies = 0;
    for &c in candidates {
        if out.len() >= m {
            break;
        }
        if super::unusable(c.dist) {
            continue;
        }
        if dedup && c.dist <= 0.0 {
            // beyond the quota, further copies are left out: their free
            // slots are where later copies of the pile link in
            if copies < quota {
                copies += 1;
                out.push(c);
            }
            continue;
        }
        let mut dup = false;
        let diverse = out.iter().all(|r| {
            let d = between(c.id, r.id);
            dup |= dedup && d <= 0.0;
            d >= c.dist && !(dedup && d <= 0.0)
        });
        if diverse {
            out.push(c);
        } else if !dup {
            pruned.push(c);
        } else {
            dups.push(c);
        }
    }
    for c in pruned.into_iter().chain(dups) {
        if out.len() >= m {
            break;
        }
        out.push(c);
    }
}
