#!/usr/bin/env python3
"""Concurrency trial on real embeddings (not part of CI): load a base set,
build an HNSW index (vector_l2_ops, default m / ef_construction), then for
--seconds (or until --churn rows were inserted) run 2 writers (INSERT
perturbed copies of base rows under new ids, DELETE random live rows), 1
reader (ORDER BY <-> LIMIT 10) and a VACUUM loop at once. Before and after: recall@10 at ef_search 40 on --queries
queries (exact truth by numpy over the live rows) and, with an iterative
index scan, whether every live row is returned. Prints JSON.

Run: /usr/bin/python3 benches/churn_100k.py --pg-config PATH/pg_config \
         --base D.base.fvecs --query D.query.fvecs [--seconds 240] [--churn N] [--extension pgvector]
"""
import argparse, json, os, random, sys, threading, time
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import read_vecs, vector_text  # noqa: E402

DB = "vecstore_churn_bench"


def recall(conn, queries, live_ids, live_vecs, ef=40):
    kb, qq = live_vecs.astype(np.float64), queries.astype(np.float64)
    d = (qq * qq).sum(1)[:, None] - 2 * qq @ kb.T + (kb * kb).sum(1)[None, :]
    truth = [set(live_ids[np.argpartition(row, 10)[:10]].tolist()) for row in d]
    conn.execute("SET enable_seqscan = off")
    conn.execute("SET hnsw.iterative_scan = off")
    conn.execute(f"SET hnsw.ef_search = {ef}")
    hits = 0
    for q, t in zip(queries, truth):
        ids = [r[0] for r in conn.execute("SELECT id FROM items ORDER BY embedding <-> %s::vector LIMIT 10",
                                          (vector_text(q),), prepare=True)]
        hits += len(set(ids) & t)
    return hits / (10 * len(queries))


def scanned(conn, q):
    """Distinct ids an iterative index scan returns (should be every live row)."""
    conn.execute("SET enable_seqscan = off")
    conn.execute("SET hnsw.iterative_scan = relaxed_order")
    conn.execute("SET hnsw.max_scan_tuples = 1000000")
    conn.execute("SET hnsw.scan_mem_multiplier = 1000")
    conn.execute("SET hnsw.ef_search = 100")
    t0 = time.perf_counter()
    n = conn.execute("SELECT count(DISTINCT id) FROM (SELECT id FROM items ORDER BY embedding <-> %s::vector "
                     "LIMIT 200000) s", (vector_text(q),)).fetchone()[0]
    conn.execute("RESET hnsw.iterative_scan")
    return n, time.perf_counter() - t0


def check(conn, live, queries, tag):
    ids = np.array(sorted(live), dtype=np.int64)
    vecs = np.stack([live[i] for i in ids])
    n_rows = conn.execute("SELECT count(*) FROM items").fetchone()[0]
    scans = [scanned(conn, q) for q in queries[:3]]
    return {f"{tag}_rows": n_rows, f"{tag}_tracked": len(ids),
            f"{tag}_scanned": [s[0] for s in scans], f"{tag}_scan_s": [round(s[1], 1) for s in scans],
            f"{tag}_recall10_ef40": recall(conn, queries, ids, vecs)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--query", required=True)
    p.add_argument("--seconds", type=float, default=240)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--rows", type=int, default=0, help="first N base rows only (0: all)")
    p.add_argument("--extension", default="vecstore", help="extension to create (pgvector's peer: pgvector)")
    p.add_argument("--churn", type=int, default=0, help="stop once this many rows were inserted (0: --seconds only)")
    benchlib.add_server_args(p)
    a = p.parse_args()
    base, queries = read_vecs(a.base), read_vecs(a.query)[:a.queries]
    if a.rows:
        base = base[:a.rows]
    dsn, cluster = benchlib.server(a, {"shared_buffers": "1GB", "maintenance_work_mem": "1GB",
                                       "autovacuum": "off", "max_wal_size": "4GB"})
    try:
        print(json.dumps(run(dsn, base, queries, a.seconds, a.extension, a.churn), indent=1), flush=True)
    finally:
        if cluster:
            print(cluster.log()[-4000:], file=sys.stderr)
            cluster.destroy()


def run(dsn, base, queries, seconds, extension="vecstore", churn=0):
    admin = benchlib.connect(dsn)
    admin.execute(f"DROP DATABASE IF EXISTS {DB}")
    admin.execute(f"CREATE DATABASE {DB}")
    ddsn = benchlib.with_db(dsn, DB)
    conn = benchlib.connect(ddsn)
    conn.execute(f"CREATE EXTENSION {extension}")
    conn.execute(f"CREATE TABLE items (id int PRIMARY KEY, embedding vector({base.shape[1]}))")
    benchlib.copy_vectors(conn, base)
    t0 = time.perf_counter()
    conn.execute("CREATE INDEX items_idx ON items USING hnsw (embedding vector_l2_ops)")
    out = {"extension": extension, "rows": len(base), "build_s": round(time.perf_counter() - t0, 1)}
    log(out)
    live = {i: base[i] for i in range(len(base))}
    out.update(check(conn, live, queries, "before"))
    log(out)

    lock = threading.Lock()
    stop = time.time() + seconds

    def going():
        return time.time() < stop and not (churn and stats["inserted"] >= churn)
    errors, stats = [], {"inserted": 0, "deleted": 0, "reads": 0, "read_s": 0.0, "vacuum_s": [], "short_reads": 0}
    scale = float(base.std()) * 0.05

    def writer(k):
        rng = np.random.default_rng(k)
        c = benchlib.connect(ddsn)
        nid = 10_000_000 * (k + 1)
        try:
            while going():
                rows = []
                for _ in range(20):
                    v = (base[rng.integers(len(base))] + rng.normal(0, scale, base.shape[1])).astype(np.float32)
                    rows.append((nid, v))
                    nid += 1
                with c.transaction():
                    for i, v in rows:
                        c.execute("INSERT INTO items VALUES (%s, %s::vector)", (i, vector_text(v)), prepare=True)
                with lock:
                    for i, v in rows:
                        live[i] = v
                    victims = random.sample(sorted(live) if len(live) < 1000 else list(live.keys()), 20)
                    for i in victims:
                        live.pop(i, None)
                c.execute("DELETE FROM items WHERE id = ANY(%s)", (victims,))
                with lock:
                    stats["inserted"] += len(rows)
                    stats["deleted"] += len(victims)
        except Exception as e:  # noqa: BLE001
            errors.append(f"writer {k}: {e!r}")
        c.close()

    def reader():
        c = benchlib.connect(ddsn)
        c.execute("SET enable_seqscan = off")
        try:
            while going():
                q = queries[random.randrange(len(queries))]
                t = time.perf_counter()
                r = c.execute("SELECT id FROM items ORDER BY embedding <-> %s::vector LIMIT 10",
                              (vector_text(q),), prepare=True).fetchall()
                stats["read_s"] += time.perf_counter() - t
                stats["reads"] += 1
                if len(r) != 10:
                    stats["short_reads"] += 1
        except Exception as e:  # noqa: BLE001
            errors.append(f"reader: {e!r}")
        c.close()

    def vacuumer():
        c = benchlib.connect(ddsn)
        try:
            while going():
                t = time.perf_counter()
                c.execute("VACUUM items")
                stats["vacuum_s"].append(round(time.perf_counter() - t, 1))
                log({"vacuum_s": stats["vacuum_s"][-1]})
                time.sleep(5)
        except Exception as e:  # noqa: BLE001
            errors.append(f"vacuum: {e!r}")
        c.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
    threads += [threading.Thread(target=reader), threading.Thread(target=vacuumer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats["read_ms_avg"] = round(1000 * stats["read_s"] / max(1, stats["reads"]), 1)
    out.update(stats)
    out["errors"] = errors[:10]
    out.update(check(conn, live, queries, "after_churn"))
    log(out)
    t = time.perf_counter()
    conn.execute("VACUUM items")
    out["final_vacuum_s"] = round(time.perf_counter() - t, 1)
    out.update(check(conn, live, queries, "after_final_vacuum"))
    # the same rows in a freshly built index: what churn cost the graph
    t = time.perf_counter()
    conn.execute("REINDEX INDEX items_idx")
    out["reindex_s"] = round(time.perf_counter() - t, 1)
    ids = np.array(sorted(live), dtype=np.int64)
    out["fresh_index_recall10_ef40"] = recall(conn, queries, ids, np.stack([live[i] for i in ids]))
    conn.close()
    admin.execute(f"DROP DATABASE {DB}")
    return out


def log(x):
    print(json.dumps(x), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
