//! How many index pages a layer-0 search reads per query, for three ways
//! of placing elements on pages: the build's order (heap order, as
//! CREATE INDEX writes them), breadth-first from the entry, and packed
//! (each page filled with an element and its nearest unplaced neighbours).
//! Optionally a search also scores every other element of each page it
//! reads ("page search"). A page read is one pin and share lock on disk:
//! a hop reads each distinct page of its unvisited neighbours once, plus
//! the page of the list it expands (layer 0 only).
//!
//! Run: `cargo run --release -p vecstore-core --example page_reads --
//! BASE.fvecs QUERY.fvecs GT.ivecs ROWS PER_PAGE...` (PER_PAGE 12 is
//! about an 8-bit-code index of 384-d vectors, 4 a float4 one).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use vecstore_core::distance::Metric;
use vecstore_core::hnsw::{greedy_descent, Candidate, MemGraph, NodeId, Params, Scratch, Source, MAX_LEVEL};
use vecstore_core::space::f32_bytes;

#[path = "../benches/common/texmex.rs"]
mod texmex;

/// Elements in breadth-first order over layer 0 from the entry (then
/// from whatever it does not reach).
fn breadth_first(g: &MemGraph) -> Vec<u32> {
    let n = g.len();
    let mut seen = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let first = g.entry().map_or(0, |(e, _)| e as usize);
    for start in std::iter::once(first).chain(0..n) {
        if seen[start] {
            continue;
        }
        seen[start] = true;
        let mut queue = VecDeque::from([start]);
        while let Some(x) = queue.pop_front() {
            order.push(x as u32);
            for y in g.neighbors(x, 0) {
                if !std::mem::replace(&mut seen[y as usize], true) {
                    queue.push_back(y as usize);
                }
            }
        }
    }
    order
}

/// Page of each element: seeds in `order` open pages, which take the
/// seed's unplaced neighbours (nearest first), then theirs, until full.
fn packed(g: &MemGraph, per: usize, order: &[u32]) -> Vec<u32> {
    let mut page = vec![u32::MAX; g.len()];
    let mut next = 0;
    for &seed in order {
        if page[seed as usize] != u32::MAX {
            continue;
        }
        page[seed as usize] = next;
        let mut members = vec![seed];
        let mut k = 0;
        while members.len() < per && k < members.len() {
            for y in g.neighbors(members[k] as usize, 0) {
                if members.len() < per && page[y as usize] == u32::MAX {
                    page[y as usize] = next;
                    members.push(y);
                }
            }
            k += 1;
        }
        next += 1;
    }
    page
}

/// One query: the ten nearest found, page reads and distances computed.
fn search(g: &MemGraph, q: &[f32], ef: usize, page: &[u32], mates: &[Vec<u32>], page_search: bool) -> (Vec<u32>, usize, usize) {
    let mut src = g.store(f32_bytes(q), None);
    let Some((ep, top)) = g.entry() else { return (Vec::new(), 0, 0) };
    let start = Candidate { dist: src.distance(ep as NodeId, top, f64::INFINITY), id: ep as NodeId };
    // the upper layers (a few dozen reads, about the same for every
    // placement) are not counted
    let mut scratch = Scratch::hashed();
    let cur = greedy_descent(&mut src, start, top, 0, &mut scratch);
    let (mut reads, mut scored) = (0, 0);
    let mut visited = HashSet::from([cur.id as u32]);
    let mut frontier = BinaryHeap::from([Reverse(cur)]);
    let mut found = BinaryHeap::from([cur]);
    let mut list = Vec::new();
    while let Some(Reverse(c)) = frontier.pop() {
        if found.len() >= ef && found.peek().is_some_and(|w| c.dist > w.dist) {
            break;
        }
        list.clear();
        src.neighbors(c.id, 0, &mut list);
        let mut ids: Vec<u32> = list.iter().map(|&x| x as u32).filter(|&x| visited.insert(x)).collect();
        let mut pages: Vec<u32> = ids.iter().map(|&i| page[i as usize]).collect();
        pages.sort_unstable();
        pages.dedup();
        reads += 1 + pages.len();
        if page_search {
            ids.extend(pages.iter().flat_map(|&p| mates[p as usize].iter().copied()).filter(|&x| visited.insert(x)).collect::<Vec<_>>());
        }
        scored += ids.len();
        for id in ids {
            let cand = Candidate { dist: src.distance(id as NodeId, 0, f64::INFINITY), id: id as NodeId };
            if found.len() < ef || found.peek().is_some_and(|w| cand.dist < w.dist) {
                frontier.push(Reverse(cand));
                found.push(cand);
                if found.len() > ef {
                    found.pop();
                }
            }
        }
    }
    let mut best = found.into_sorted_vec();
    best.truncate(10);
    (best.iter().map(|c| c.id as u32).collect(), reads, scored)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        eprintln!("usage: page_reads BASE.fvecs QUERY.fvecs GT.ivecs ROWS PER_PAGE...");
        std::process::exit(2);
    }
    let (dim, base) = texmex::read_rows(&args[0]);
    let (_, queries) = texmex::read_rows(&args[1]);
    let (k_gt, gt) = texmex::read_rows(&args[2]);
    let n: usize = args[3].parse().expect("ROWS");
    let base: Vec<f32> = base[..n * dim].iter().map(|&w| f32::from_bits(w)).collect();
    let queries: Vec<f32> = queries.into_iter().map(f32::from_bits).collect();
    let params = Params { m: 16, ef_construction: 64, metric: Metric::L2, max_level: MAX_LEVEL };
    let mut g = MemGraph::from_f32(params, dim, &base, 0x4853_4e57);
    g.build(2, &mut |_| true).expect("build");
    let bfs = breadth_first(&g);
    let nq = queries.len() / dim;
    for per in args[4..].iter().map(|s| s.parse::<usize>().expect("PER_PAGE")) {
        let heap_order: Vec<u32> = (0..n as u32).map(|i| i / per as u32).collect();
        let mut bfs_pages = vec![0u32; n];
        for (k, &x) in bfs.iter().enumerate() {
            bfs_pages[x as usize] = (k / per) as u32;
        }
        let packed_pages = packed(&g, per, &bfs);
        for (name, page) in [("heap order", &heap_order), ("breadth-first", &bfs_pages), ("packed", &packed_pages)] {
            let mut mates = vec![Vec::new(); page.iter().max().map_or(0, |&p| p as usize + 1)];
            for (i, &p) in page.iter().enumerate() {
                mates[p as usize].push(i as u32);
            }
            for page_search in [false, true] {
                for ef in [10, 20, 40, 60] {
                    let (mut hits, mut reads, mut scored) = (0, 0, 0);
                    for (i, q) in queries.chunks(dim).enumerate() {
                        let (top, r, s) = search(&g, q, ef, page, &mates, page_search);
                        let truth = &gt[i * k_gt..i * k_gt + 10];
                        hits += top.iter().filter(|x| truth.contains(x)).count();
                        reads += r;
                        scored += s;
                    }
                    println!(
                        "{per:>2} per page, {name:>13}{}: ef {ef:>2}: recall@10 {:.4}, page reads {:.0}, distances {:.0} per query",
                        if page_search { " + page search" } else { "" },
                        hits as f64 / (nq * 10) as f64,
                        reads as f64 / nq as f64,
                        scored as f64 / nq as f64
                    );
                }
            }
        }
    }
}
