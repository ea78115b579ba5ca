#!/usr/bin/env python3
"""3,072-d figures: vecstore's hnsw on vector(3072) (float4 and sq8) and
halfvec(3072) against pgvector's hnsw on halfvec(3072) (pgvector cannot
index vector(3072): its hnsw stops at 2,000 dims, 4,000 for halfvec).

A real d-dimensional set (texmex .fvecs, paths as arguments) is embedded into
--dims dimensions by a fixed random projection with orthonormal columns
(x -> Q x, Q = the Q of a seeded gaussian's QR, Q^T Q = I), so L2 distances,
and with them the set's L2 ground truth, are preserved (checked: the exact
top-k of the embedded float4 rows is compared with the ground-truth file).
Everything is loaded into one throwaway cluster: databases bench_vs_f32,
bench_vs_sq8, bench_vs_half (CREATE EXTENSION vecstore) and bench_pg_half
(CREATE EXTENSION pgvector). In every round each side builds hnsw
(m, ef_construction as given; same maintenance_work_mem and workers) and runs
the queries at each ef_search (single client, prepared statement, binary
parameter), the sides alternating; the table gives the best of the rounds and
the spread ((max - min) / best), and QPS ratios against pgvector halfvec.

Example:
  D=path/to/minilm-10k/minilm-10k
  /usr/bin/python3 benches/highdim.py --pg-config $PGC --base $D.base.fvecs --query $D.query.fvecs \\
      --gt $D.gt-l2.ivecs --rounds 2 --out bench-out/highdim-10k
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
import side_by_side as sbs  # noqa: E402  (its Querier, query_round, interp, best_spread)

# side -> (extension, column type, opclass, extra WITH options)
SIDES = {
    "vs_f32": ("vecstore", "vector", "vector_l2_ops", ""),
    "vs_sq8": ("vecstore", "vector", "vector_l2_ops", ", vecstore_quantize = sq8"),
    "vs_half": ("vecstore", "halfvec", "halfvec_l2_ops", ""),
    "pg_half": ("pgvector", "halfvec", "halfvec_l2_ops", ""),
}
REFERENCE = "pg_half"


def embed(x, dims, seed):
    """x (n x d) -> x Q^T with Q (dims x d) orthonormal columns, float32."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dims, x.shape[1])))
    return q, (x.astype(np.float64) @ q.T).astype(np.float32)


def halfvec_binary(v):
    """halfvec's binary send/receive form: int16 dim, int16 0, big-endian float2s."""
    return struct.pack("!hh", len(v), 0) + np.asarray(v, dtype=">f2").tobytes()


def exact_topk(base, queries, k):
    b = base.astype(np.float64)
    out = []
    for q in queries.astype(np.float64):
        d = ((b - q) ** 2).sum(1)
        top = np.argpartition(d, k)[:k]
        out.append(top[np.argsort(d[top])])
    return np.array(out)


class Side:
    """One side's database with `items (id, embedding <type>(dims))`."""

    def __init__(self, name, admin_dsn, base):
        self.name = name
        self.ext, self.type, self.opclass, self.options = SIDES[name]
        self.db = f"bench_{name}"
        with benchlib.connect(admin_dsn) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {self.db}")
        self.dsn = benchlib.with_db(admin_dsn, self.db)
        self.conn = benchlib.connect(self.dsn)
        self.conn.execute(f"CREATE EXTENSION {self.ext}")
        self.version = self.conn.execute("SELECT extversion FROM pg_extension WHERE extname = %s",
                                         (self.ext,)).fetchone()[0]
        dims = base.shape[1]
        self.conn.execute(f"CREATE TABLE items (id int4 PRIMARY KEY, embedding vector({dims}))")
        benchlib.copy_vectors(self.conn, base)
        if self.type != "vector":
            self.conn.execute(f"ALTER TABLE items ALTER COLUMN embedding TYPE {self.type}({dims})")
        self.conn.execute("VACUUM ANALYZE items")
        self.type_oid = self.conn.execute(f"SELECT '{self.type}'::regtype::oid").fetchone()[0]
        self.postmaster = benchlib.parent_pid(self.conn.info.backend_pid)

    def build(self, a):
        c = self.conn
        c.execute("DROP INDEX IF EXISTS items_idx")
        c.execute("CHECKPOINT")
        c.execute(f"SET maintenance_work_mem = '{a.maintenance_work_mem}'")
        c.execute(f"SET max_parallel_maintenance_workers = {a.build_workers}")
        cpu0, t0 = benchlib.cluster_cpu_s(self.postmaster), time.perf_counter()
        c.execute(f"CREATE INDEX items_idx ON items USING hnsw (embedding {self.opclass}) "
                  f"WITH (m = {a.m}, ef_construction = {a.ef_construction}{self.options})")
        secs, cpu1 = time.perf_counter() - t0, benchlib.cluster_cpu_s(self.postmaster)
        c.execute("CHECKPOINT")
        size = c.execute("SELECT pg_relation_size('items_idx')").fetchone()[0]
        return {"build_s": secs, "build_cpu_s": None if cpu0 is None else cpu1 - cpu0, "index_bytes": size}

    def params(self, queries):
        enc = benchlib.vector_binary if self.type == "vector" else halfvec_binary
        return [enc(q) for q in queries]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    benchlib.add_server_args(p)
    p.add_argument("--base", required=True, help="base vectors (.fvecs)")
    p.add_argument("--query", required=True, help="query vectors (.fvecs)")
    p.add_argument("--gt", required=True, help="L2 ground truth (.ivecs, ids into --base)")
    p.add_argument("--dims", type=int, default=3072)
    p.add_argument("--seed", type=int, default=3072, help="seed of the projection")
    p.add_argument("--sides", default=",".join(SIDES), help="in alternation order: " + ",".join(SIDES))
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--ef", type=int, nargs="+", default=[10, 20, 40, 80, 120, 200])
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=64)
    p.add_argument("--build-workers", type=int, default=1)
    p.add_argument("--maintenance-work-mem", default="2GB")
    p.add_argument("--shared-buffers", default="2GB")
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--repeat", type=int, default=3, help="timed passes over the queries per ef_search and round")
    p.add_argument("--out", default="bench-out/highdim")
    a = p.parse_args()
    a.am, a.metric, a.param_format = "hnsw", "l2", "binary"  # what side_by_side's Querier reads
    sides = a.sides.split(",")
    os.makedirs(a.out, exist_ok=True)

    base0, queries0 = benchlib.read_vecs(a.base), benchlib.read_vecs(a.query)
    gt = benchlib.read_vecs(a.gt, np.int32)[:, : a.k]
    q, base = embed(base0, a.dims, a.seed)
    queries = (queries0.astype(np.float64) @ q.T).astype(np.float32)
    ortho = float(np.abs(q.T @ q - np.eye(q.shape[1])).max())
    agree = float(np.mean([len(set(g) & set(e)) / a.k for g, e in zip(gt, exact_topk(base, queries, a.k))]))
    sbs.log(f"embedded {base0.shape} -> {base.shape}: max |Q^T Q - I| {ortho:.1e}; exact top-{a.k} of the "
            f"embedded rows vs the ground-truth file: {agree:.4f}")

    admin_dsn, cluster = benchlib.server(a, {"shared_buffers": a.shared_buffers, "max_wal_size": "'8GB'",
                                             "checkpoint_timeout": "'30min'", "jit": "off"})
    raw = {"args": vars(a), "machine": benchlib.machine(), "gt_agreement": agree, "rounds": []}
    try:
        loaded = {}
        for s in sides:
            t0 = time.perf_counter()
            loaded[s] = Side(s, admin_dsn, base)
            sbs.log(f"{s}: loaded {len(base)} rows in {time.perf_counter() - t0:.1f} s ({loaded[s].ext} "
                    f"{loaded[s].version})")
        raw["settings"] = benchlib.pg_facts(loaded[sides[0]].conn, sbs.SETTINGS)
        for r in range(a.rounds):
            order = sides if r % 2 == 0 else sides[::-1]
            rnd = {}
            for s in order:
                side = loaded[s]
                b = side.build(a)
                sbs.log(f"round {r + 1} {s}: build {b['build_s']:.1f} s, {b['index_bytes'] / 2**20:.1f} MB")
                querier = sbs.Querier(side.dsn, side.type_oid, a)
                curve = sbs.query_round(querier, side.params(queries) * a.repeat, np.tile(gt, (a.repeat, 1)), a)
                querier.conn.close()
                sbs.log(f"round {r + 1} {s}: " + ", ".join(f"ef {c['ef_search']} r {c['recall']:.3f} "
                                                          f"{c['qps']:.0f} qps" for c in curve))
                rnd[s] = {"build": b, "curve": curve}
            raw["rounds"].append(rnd)
    finally:
        if cluster:
            cluster.destroy()
    with open(os.path.join(a.out, "highdim.json"), "w") as f:
        json.dump(raw, f, indent=1, default=str)
    print(report(raw, sides, a))


def report(raw, sides, a):
    m = raw["machine"]
    lines = [f"# {a.dims}-d: {os.path.basename(a.base)} ({raw['args']['base']}) embedded by an orthonormal projection; "
             f"hnsw m={a.m} ef_construction={a.ef_construction}, {a.rounds} rounds, best (spread)",
             f"# {len(raw['args']['ef'])} ef_search values, each timed over {a.repeat} passes of the queries "
             f"(single client, prepared, binary parameter); recall is the mean over rounds",
             f"# {m['cpu']}, {m['cores']} cores, load {m['loadavg']}; exact top-{a.k} of the embedded rows vs the "
             f"ground truth: {raw['gt_agreement']:.4f}",
             ""]

    def cells(s, f, higher):
        best, spread = sbs.best_spread([f(x[s]) for x in raw["rounds"]], higher)
        return best, f"{best:.1f} ({100 * spread:.0f}%)"

    lines.append(f"{'side':10} {'build s':>14} {'index MB':>14}")
    for s in sides:
        _, b = cells(s, lambda x: x["build"]["build_s"], False)
        _, i = cells(s, lambda x: x["build"]["index_bytes"] / 2**20, False)
        lines.append(f"{s:10} {b:>14} {i:>14}")
    lines.append("")
    head = f"{'ef_search':>9} " + " ".join(f"{s + ' recall':>14} {s + ' QPS':>16}" for s in sides)
    if REFERENCE in sides:
        head += " " + " ".join(f"{s + '/pg':>10}" for s in sides if s != REFERENCE)
    lines.append(head)
    for i, ef in enumerate(a.ef):
        row, best_qps = f"{ef:>9} ", {}
        for s in sides:
            rec = np.mean([x[s]["curve"][i]["recall"] for x in raw["rounds"]])
            best_qps[s], q = cells(s, lambda x: x["curve"][i]["qps"], True)
            row += f"{rec:>14.4f} {q:>16} "
        if REFERENCE in sides:
            row += " ".join(f"{best_qps[s] / best_qps[REFERENCE]:>10.2f}" for s in sides if s != REFERENCE)
        lines.append(row.rstrip())
    lines.append("")
    lines.append("QPS at equal recall (log-linear on each side's best-QPS curve), ratio to " + REFERENCE)
    for t in sbs.TARGETS:
        row = f"  recall {t}: "
        ref = None
        vals = {}
        for s in sides:
            curve = [{"recall": float(np.mean([x[s]["curve"][i]["recall"] for x in raw["rounds"]])),
                      "qps": max(x[s]["curve"][i]["qps"] for x in raw["rounds"])} for i in range(len(a.ef))]
            vals[s] = sbs.interp(curve, t)
        ref = vals.get(REFERENCE)
        row += ", ".join(f"{s} {v:.0f}" + (f" ({v / ref:.2f}x)" if ref and s != REFERENCE else "")
                         if v else f"{s} -" for s, v in vals.items())
        lines.append(row)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
