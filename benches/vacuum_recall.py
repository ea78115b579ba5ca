#!/usr/bin/env python3
"""VACUUM quality on real embeddings: build an HNSW index on minilm-10k,
delete half the rows, VACUUM, and compare recall@10 (ef_search 40 and 100)
with a freshly built index on the remaining rows. Prints JSON.

Needs the system cluster with vecstore installed (scripts/demo.sh or
scripts/install.sh) and python3 with numpy and psycopg 3.
Run: /usr/bin/python3 benches/vacuum_recall.py [--data ../shared/data/minilm-10k/minilm-10k]
"""
import argparse, json, struct, time
import numpy as np
import psycopg

def read_vecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    return raw.reshape(-1, raw[0] + 1)[:, 1:].view(np.float32)

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
    p.add_argument("--data", default="../shared/data/minilm-10k/minilm-10k")
    p.add_argument("--dsn", default="host=/var/run/postgresql dbname=postgres")
    a = p.parse_args()
    base, queries = read_vecs(a.data + ".base.fvecs"), read_vecs(a.data + ".query.fvecs")
    admin = psycopg.connect(a.dsn, autocommit=True)
    admin.execute("DROP DATABASE IF EXISTS vecstore_vacuum_bench")
    admin.execute("CREATE DATABASE vecstore_vacuum_bench")
    conn = psycopg.connect(a.dsn.replace("dbname=postgres", "dbname=vecstore_vacuum_bench"), autocommit=True)
    conn.execute("CREATE EXTENSION vecstore")
    conn.execute(f"CREATE TABLE items (id int PRIMARY KEY, embedding vector({base.shape[1]}))")
    with conn.cursor().copy("COPY items FROM STDIN") as cp:
        for i, v in enumerate(base):
            cp.write_row((i, "[" + ",".join(repr(float(x)) for x in v) + "]"))
    conn.execute("CREATE INDEX items_idx ON items USING hnsw (embedding vector_l2_ops)")
    keep = np.arange(len(base))[np.arange(len(base)) % 2 == 1]
    d = ((queries[:, None, :] - base[None, keep, :]) ** 2).sum(-1)
    truth = [set(keep[np.argsort(row)[:10]].tolist()) for row in d]
    conn.execute("DELETE FROM items WHERE id % 2 = 0")
    t0 = time.perf_counter(); conn.execute("VACUUM items"); vac_s = time.perf_counter() - t0
    after = {ef: recall(conn, queries, truth, ef) for ef in (40, 100)}
    t0 = time.perf_counter(); conn.execute("REINDEX INDEX items_idx"); reindex_s = time.perf_counter() - t0
    fresh = {ef: recall(conn, queries, truth, ef) for ef in (40, 100)}
    out = {"rows_after_delete": int(len(keep)), "vacuum_s": vac_s, "reindex_s": reindex_s,
           "recall_after_vacuum": after, "recall_fresh_index": fresh,
           "within_0.02": all(after[e] >= fresh[e] - 0.02 for e in after)}
    print(json.dumps(out, indent=1))
    conn.close()
    admin.execute("DROP DATABASE vecstore_vacuum_bench")

if __name__ == "__main__":
    main()
