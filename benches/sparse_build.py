#!/usr/bin/env python3
"""sparsevec HNSW build time and recall, vecstore and pgvector side by side.

Generates N sparse rows (NNZ_MIN..NNZ_MAX non-zeros, distinct random
indices in DIM dimensions, values uniform in (0, 1), fixed seed; or with
--topics T SPLADE-like rows as tests/cluster/test_sparsevec_recall.py makes
them: most terms from one or two of T topics of 300 Zipf-weighted terms,
the rest background, gamma-distributed weights, so rows share terms) and
Q query rows alike, loads them into one database per side (`--dbs vecstore,pgvector`
must exist with the extensions created) of an already running cluster
(`--host`, `--port`), then per round builds the index on each side in
turn (alternating; `SET max_parallel_maintenance_workers` the same on both),
timing CREATE INDEX and reading the DEBUG1/NOTICE lines, and measures
recall@10 at each --ef against the exact top-10 (seqscan).

  /usr/bin/python3 benches/sparse_build.py --host /tmp/sock --port 5432 \\
      --sides vecstore,pgvector --rounds 2 --opclass sparsevec_ip_ops
"""

import argparse
import json
import time

import numpy as np
import psycopg

OPS = {"sparsevec_ip_ops": "<#>", "sparsevec_l2_ops": "<->", "sparsevec_cosine_ops": "<=>", "sparsevec_l1_ops": "<+>"}


def rows(n, dim, lo, hi, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(lo, hi + 1))
        idx = np.sort(rng.choice(dim, size=k, replace=False)) + 1
        val = rng.random(k, dtype=np.float32) + np.float32(1e-3)
        out.append("{" + ",".join(f"{i}:{v:.4g}" for i, v in zip(idx.tolist(), val.tolist())) + "}/" + str(dim))
    return out


def topic_rows(n, dim, lo, hi, seed, topics):
    """SPLADE-like rows (see test_sparsevec_recall.documents)."""
    rng = np.random.default_rng(seed)
    topic_terms = np.random.default_rng(7).choice(dim, (topics, 300), replace=True)
    zipf = 1.0 / np.arange(1, 301)
    zipf /= zipf.sum()
    out = []
    for _ in range(n):
        want = int(rng.integers(lo, hi + 1))
        picked = rng.choice(topics, int(rng.integers(1, 3)), replace=False)
        picks = topic_terms[rng.choice(picked, 2 * want), rng.choice(300, 2 * want, p=zipf)]
        terms = list(dict.fromkeys(picks.tolist()))[: int(0.9 * want)]
        seen = set(terms)
        for t in rng.integers(0, dim, 2 * want).tolist():
            if len(terms) >= want:
                break
            if t not in seen:
                seen.add(t)
                terms.append(t)
        idx = np.array(sorted(terms)) + 1
        val = np.round(rng.gamma(2.0, 0.4, len(idx)) + 0.01, 3)
        out.append("{" + ",".join(f"{i}:{v:.4g}" for i, v in zip(idx.tolist(), val.tolist())) + "}/" + str(dim))
    return out


def connect(a, db):
    return psycopg.connect(host=a.host, port=a.port, user=a.user, dbname=db, autocommit=True)


def load(a, db, base, queries):
    with connect(a, db) as c:
        if c.execute("SELECT to_regclass('sb_base')").fetchone()[0] is not None:
            return
        c.execute(f"CREATE TABLE sb_base (id int PRIMARY KEY, v sparsevec({a.dim}))")
        c.execute(f"CREATE TABLE sb_query (id int PRIMARY KEY, v sparsevec({a.dim}))")
        for table, data in (("sb_base", base), ("sb_query", queries)):
            with c.cursor().copy(f"COPY {table} (id, v) FROM STDIN") as cp:
                for i, r in enumerate(data):
                    cp.write_row((i + 1, r))
        c.execute("VACUUM ANALYZE sb_base")


def exact(a, db, op):
    with connect(a, db) as c:
        c.execute("SET enable_indexscan = off")
        c.execute("SET enable_bitmapscan = off")
        return [
            [r[0] for r in c.execute(f"SELECT id FROM sb_base ORDER BY v {op} %s::sparsevec LIMIT 10", (q,)).fetchall()]
            for (q,) in c.execute("SELECT v::text FROM sb_query ORDER BY id").fetchall()
        ]


def build(a, db):
    with connect(a, db) as c:
        msgs = []
        c.add_notice_handler(lambda n: msgs.append(n.message_primary))
        c.execute("DROP INDEX IF EXISTS sb_idx")
        c.execute("SET client_min_messages = debug1")
        c.execute(f"SET max_parallel_maintenance_workers = {a.workers}")
        if a.mwm:
            c.execute(f"SET maintenance_work_mem = '{a.mwm}'")
        opts = f" WITH ({a.options})" if a.options and db == a.dbs.split(",")[0] else ""
        c.execute("CHECKPOINT")
        t0 = time.time()
        c.execute(f"CREATE INDEX sb_idx ON sb_base USING hnsw (v {a.opclass}){opts}")
        took = time.time() - t0
        size = c.execute("SELECT pg_relation_size('sb_idx')").fetchone()[0]
    return took, size, [m for m in msgs if "hnsw" in m or "fits" in m]


def recall(a, db, op, truth, ef):
    with connect(a, db) as c:
        c.execute("SET enable_seqscan = off")
        c.execute(f"SET hnsw.ef_search = {ef}")
        qs = c.execute("SELECT v::text FROM sb_query ORDER BY id").fetchall()
        hit, t0 = 0, time.time()
        for (q,), want in zip(qs, truth):
            got = [r[0] for r in c.execute(f"SELECT id FROM sb_base ORDER BY v {op} %s::sparsevec LIMIT 10", (q,)).fetchall()]
            hit += len(set(got) & set(want))
        return hit / (10 * len(qs)), len(qs) / (time.time() - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=5432)
    p.add_argument("--user", default="postgres")
    p.add_argument("--dbs", default="sb_vecstore,sb_pgvector", help="vecstore's database first")
    p.add_argument("--sides", default="0,1", help="which databases (indexes into --dbs) per round, in order")
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--dim", type=int, default=30_000)
    p.add_argument("--nnz", default="5,400")
    p.add_argument("--topics", type=int, default=0, help="SPLADE-like rows over this many topics (0: uniform random indices)")
    p.add_argument("--opclass", default="sparsevec_ip_ops")
    p.add_argument("--options", default="", help="WITH (...) of vecstore's index, e.g. vecstore_max_nnz = 1100")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--mwm", default="")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--ef", type=int, nargs="*", default=[40, 100])
    p.add_argument("--out", default="")
    a = p.parse_args()
    lo, hi = map(int, a.nnz.split(","))
    op = OPS[a.opclass]
    dbs = a.dbs.split(",")
    if a.topics:
        base, queries = topic_rows(a.n, a.dim, lo, hi, 1, a.topics), topic_rows(a.queries, a.dim, lo, hi, 2, a.topics)
    else:
        base, queries = rows(a.n, a.dim, lo, hi, 1), rows(a.queries, a.dim, lo, hi, 2)
    for db in dbs:
        load(a, db, base, queries)
    truth = exact(a, dbs[0], op) if a.ef else []
    results = []
    for rnd in range(a.rounds):
        for s in a.sides.split(","):
            db = dbs[int(s)]
            took, size, msgs = build(a, db)
            rec = {ef: recall(a, db, op, truth, ef) for ef in a.ef}
            results.append({"round": rnd, "db": db, "build_s": took, "size": size, "msgs": msgs, "recall": rec})
            print(f"round {rnd} {db}: build {took:.1f} s, {size / 2**20:.1f} MB, "
                  + ", ".join(f"ef {ef}: recall {r:.3f} {q:.0f} QPS" for ef, (r, q) in rec.items()) + f" | {msgs}", flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
