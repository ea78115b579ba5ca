#!/usr/bin/env python3
"""Recall-vs-QPS curve of vecstore's HNSW index through PostgreSQL.

Loads a texmex dataset (default: ../shared/data/minilm-10k) with binary COPY,
builds the index (m=16, ef_construction=64), then for each hnsw.ef_search
measures recall@10 against the ground truth and single-client QPS with
prepared statements. Prints a table and JSON, and draws the curve as a PNG.

Needs the system cluster with vecstore installed (scripts/demo.sh) and
Debian's python3-numpy, python3-psycopg, python3-matplotlib.
Run: /usr/bin/python3 benches/recall_curve.py [--metric l2|cos] [--out bench-out]
"""
import argparse, json, os, struct, time
import numpy as np
import psycopg

def read_vecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    return raw.reshape(-1, raw[0] + 1)[:, 1:]

def copy_binary(conn, base):
    d = base.shape[1]
    with conn.cursor().copy("COPY items (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as cp:
        cp.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0))
        for i, v in enumerate(base):
            payload = struct.pack("!hh", d, 0) + v.astype(">f4").tobytes()
            cp.write(struct.pack("!hii", 2, 4, i) + struct.pack("!i", len(payload)) + payload)
        cp.write(struct.pack("!h", -1))

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="../shared/data/minilm-10k/minilm-10k")
    p.add_argument("--metric", default="l2", choices=["l2", "cos"])
    p.add_argument("--ef", type=int, nargs="+", default=[10, 20, 40, 60, 80, 100, 150, 200, 400])
    p.add_argument("--out", default="bench-out")
    p.add_argument("--dsn", default="host=/var/run/postgresql dbname=postgres")
    a = p.parse_args()
    base = read_vecs(a.data + ".base.fvecs").view(np.float32)
    queries = read_vecs(a.data + ".query.fvecs").view(np.float32)
    gt = read_vecs(a.data + (".gt-l2.ivecs" if a.metric == "l2" else ".gt-cos.ivecs"))
    op, opclass = ("<->", "vector_l2_ops") if a.metric == "l2" else ("<=>", "vector_cosine_ops")
    admin = psycopg.connect(a.dsn, autocommit=True)
    admin.execute("DROP DATABASE IF EXISTS vecstore_curve")
    admin.execute("CREATE DATABASE vecstore_curve")
    conn = psycopg.connect(a.dsn.replace("dbname=postgres", "dbname=vecstore_curve"), autocommit=True)
    conn.execute("CREATE EXTENSION vecstore")
    conn.execute(f"CREATE TABLE items (id int PRIMARY KEY, embedding vector({base.shape[1]}))")
    copy_binary(conn, base)
    conn.execute("VACUUM ANALYZE items")
    conn.execute("SET maintenance_work_mem = '1GB'")
    t0 = time.perf_counter()
    conn.execute(f"CREATE INDEX items_idx ON items USING hnsw (embedding {opclass}) WITH (m = 16, ef_construction = 64)")
    build_s = time.perf_counter() - t0
    size_mb = conn.execute("SELECT pg_relation_size('items_idx')").fetchone()[0] / 2**20
    texts = ["[" + ",".join(repr(float(x)) for x in q) + "]" for q in queries]
    sql = f"SELECT id FROM items ORDER BY embedding {op} %s::vector LIMIT 10"
    rows = []
    for ef in a.ef:
        conn.execute(f"SET hnsw.ef_search = {ef}")
        for t in texts[:50]:
            conn.execute(sql, (t,), prepare=True).fetchall()
        hits, lat = 0, []
        for i, t in enumerate(texts):
            s = time.perf_counter()
            got = [r[0] for r in conn.execute(sql, (t,), prepare=True).fetchall()]
            lat.append(time.perf_counter() - s)
            hits += len(set(got) & set(gt[i][:10].tolist()))
        lat = np.array(lat)
        rows.append({"ef_search": ef, "recall@10": hits / (10 * len(texts)), "qps": len(texts) / lat.sum(),
                     "p50_ms": 1e3 * float(np.percentile(lat, 50)), "p99_ms": 1e3 * float(np.percentile(lat, 99))})
    print(f"{'ef_search':>9} {'recall@10':>9} {'QPS':>8} {'p50 ms':>7} {'p99 ms':>7}")
    for r in rows:
        print(f"{r['ef_search']:>9} {r['recall@10']:>9.4f} {r['qps']:>8.0f} {r['p50_ms']:>7.3f} {r['p99_ms']:>7.3f}")
    result = {"metric": a.metric, "n": int(base.shape[0]), "d": int(base.shape[1]), "build_s": build_s,
              "index_mb": size_mb, "curve": rows}
    print(json.dumps(result, indent=1))
    os.makedirs(a.out, exist_ok=True)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot([r["recall@10"] for r in rows], [r["qps"] for r in rows], "o-", label="vecstore hnsw")
    for r in rows:
        ax.annotate(str(r["ef_search"]), (r["recall@10"], r["qps"]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("recall@10"); ax.set_ylabel("queries per second (1 client)")
    ax.set_title(f"vecstore HNSW, {os.path.basename(a.data)} {a.metric}, m=16 ef_construction=64")
    ax.grid(True, alpha=0.3); ax.legend()
    png = os.path.join(a.out, f"recall_qps_{a.metric}.png")
    fig.tight_layout(); fig.savefig(png, dpi=120)
    with open(os.path.join(a.out, f"recall_qps_{a.metric}.json"), "w") as f:
        json.dump(result, f, indent=1)
    print("wrote", png)
    conn.close()
    admin.execute("DROP DATABASE vecstore_curve")

if __name__ == "__main__":
    main()
