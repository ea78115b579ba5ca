#!/usr/bin/env python3
"""Per-query cost of a k-NN search against the floor every query pays:
for each extension (vecstore and pgvector's `pgvector`, one database each
in one cluster), microseconds per query of the prepared k-NN statement at
several ef_search values, and of a statement with the same client, the
same binary vector parameter and the same 10 heap rows fetched through
the primary key instead of the index. Rounds alternate the extensions;
the best round per side is kept. What is left after the floor is what
the index scan costs.

Run: /usr/bin/python3 benches/query_floor.py --pg-config PATH/pg_config \
         --base D.base.fvecs --query D.query.fvecs [--rows N] [--rounds R]
"""
import argparse, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

EFS = (10, 20, 40, 100)


def setup(conn, ext, base):
    conn.execute(f"CREATE EXTENSION {ext}")
    conn.execute(f"CREATE TABLE items (id int4 PRIMARY KEY, embedding vector({base.shape[1]}))")
    benchlib.copy_vectors(conn, base)
    conn.execute("VACUUM ANALYZE items")
    conn.execute("SET maintenance_work_mem = '2GB'")
    conn.execute("CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 64)")
    oid = conn.execute("SELECT 'vector'::regtype::oid").fetchone()[0]
    conn.pgconn.prepare(b"knn", b"SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 10", [oid])
    conn.pgconn.prepare(b"floor", b"SELECT id FROM items WHERE id < 10 AND $1::vector IS NOT NULL", [oid])


def us_per_query(conn, name, ef, params):
    conn.execute(f"SET hnsw.ef_search = {ef}")
    pg = conn.pgconn
    for p in params[:30]:
        pg.exec_prepared(name, [p], [1])
    t = time.perf_counter()
    for p in params:
        r = pg.exec_prepared(name, [p], [1])
        if r.ntuples != 10:
            raise RuntimeError(f"{name.decode()} returned {r.ntuples} rows: {r.error_message}")
    return (time.perf_counter() - t) / len(params) * 1e6


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True, help="base vectors (.fvecs)")
    p.add_argument("--query", required=True, help="query vectors (.fvecs)")
    p.add_argument("--rows", type=int, default=10000, help="base rows to load")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--pg-config", required=True, help="pg_config of a PostgreSQL with both extensions")
    a = p.parse_args()
    base = benchlib.read_vecs(a.base)[:a.rows]
    params = [benchlib.vector_binary(q) for q in benchlib.read_vecs(a.query)[:300]]
    cluster = benchlib.Cluster(a.pg_config, {"shared_buffers": "'4GB'", "max_parallel_maintenance_workers": "0"})
    try:
        admin = benchlib.connect(cluster.dsn())
        sides = {}
        for ext in ("vecstore", "pgvector"):
            admin.execute(f"CREATE DATABASE floor_{ext}")
            sides[ext] = benchlib.connect(benchlib.with_db(cluster.dsn(), f"floor_{ext}"))
            setup(sides[ext], ext, base)
        best = {}
        for _ in range(a.rounds):
            for ext, conn in sides.items():
                for name, ef in [(b"floor", 40)] + [(b"knn", ef) for ef in EFS]:
                    key = (ext, "floor" if name == b"floor" else ef)
                    best[key] = min(best.get(key, float("inf")), us_per_query(conn, name, ef, params))
        fv, fp = best[("vecstore", "floor")], best[("pgvector", "floor")]
        print(f"{a.rows} rows, {len(params)} queries, best of {a.rounds} rounds; floor: vecstore {fv:.0f} us, pgvector {fp:.0f} us")
        print("| ef_search | vecstore us/query | pgvector us/query | ratio | minus floor: vecstore / pgvector | ratio |")
        print("|---|---|---|---|---|---|")
        for ef in EFS:
            v, g = best[("vecstore", ef)], best[("pgvector", ef)]
            print(f"| {ef} | {v:.0f} | {g:.0f} | {g / v:.2f}x | {v - fv:.0f} / {g - fp:.0f} | {(g - fp) / (v - fv):.2f}x |")
    finally:
        cluster.destroy()


if __name__ == "__main__":
    main()
