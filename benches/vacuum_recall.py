#!/usr/bin/env python3
"""VACUUM quality on real embeddings: build an HNSW index on minilm-10k,
delete half the rows, VACUUM, and compare recall@10 (ef_search 40 and 100)
with a freshly built index on the remaining rows. Prints JSON.

Runs on a throwaway cluster started from --pg-config (vecstore installed
into that PostgreSQL) or on the server a --dsn names; python3 with numpy and
psycopg 3.
Run: /usr/bin/python3 benches/vacuum_recall.py --pg-config PATH/pg_config \
         --base D.base.fvecs --query D.query.fvecs
"""
import argparse, json, os, sys, time
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import read_vecs  # noqa: E402

def recall(conn, queries, truth, ef):
    conn.execute(f"SET hnsw.ef_search = {ef}")
    hits = 0
    for q, t in zip(queries, truth):
        lit = "[" + ",".join(repr(float(x)) for x in q) + "]"
        ids = [r[0] for r in conn.execute("SELECT id FROM items ORDER BY embedding <-> %s::vector LIMIT 10", (lit,), prepare=True)]
        hits += len(set(ids) & set(t))
    return hits / (10 * len(queries))

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True, help="base vectors (.fvecs)")
    p.add_argument("--query", required=True, help="query vectors (.fvecs)")
    benchlib.add_server_args(p)
    a = p.parse_args()
    base, queries = read_vecs(a.base), read_vecs(a.query)
    dsn, cluster = benchlib.server(a, {"shared_buffers": "1GB"})
    try:
        print(json.dumps(run(dsn, base, queries), indent=1))
    finally:
        if cluster:
            cluster.destroy()

def run(dsn, base, queries):
    admin = benchlib.connect(dsn)
    admin.execute("DROP DATABASE IF EXISTS vecstore_vacuum_bench")
    admin.execute("CREATE DATABASE vecstore_vacuum_bench")
    conn = benchlib.connect(benchlib.with_db(dsn, "vecstore_vacuum_bench"))
    conn.execute("CREATE EXTENSION vecstore")
    conn.execute(f"CREATE TABLE items (id int PRIMARY KEY, embedding vector({base.shape[1]}))")
    benchlib.copy_vectors(conn, base)
    conn.execute("CREATE INDEX items_idx ON items USING hnsw (embedding vector_l2_ops)")
    keep = np.arange(len(base))[np.arange(len(base)) % 2 == 1]
    kb, qq = base[keep].astype(np.float64), queries.astype(np.float64)
    d = (qq * qq).sum(1)[:, None] - 2 * qq @ kb.T + (kb * kb).sum(1)[None, :]
    truth = [set(keep[np.argsort(row)[:10]].tolist()) for row in d]
    conn.execute("DELETE FROM items WHERE id % 2 = 0")
    t0 = time.perf_counter(); conn.execute("VACUUM items"); vac_s = time.perf_counter() - t0
    after = {ef: recall(conn, queries, truth, ef) for ef in (40, 100)}
    t0 = time.perf_counter(); conn.execute("REINDEX INDEX items_idx"); reindex_s = time.perf_counter() - t0
    fresh = {ef: recall(conn, queries, truth, ef) for ef in (40, 100)}
    out = {"rows_after_delete": int(len(keep)), "vacuum_s": vac_s, "reindex_s": reindex_s,
           "recall_after_vacuum": after, "recall_fresh_index": fresh,
           "within_0.02": all(after[e] >= fresh[e] - 0.02 for e in after)}
    conn.close()
    admin.execute("DROP DATABASE vecstore_vacuum_bench")
    return out

if __name__ == "__main__":
    main()
