"""Issue item 14: wal_level = minimal skips WAL for relation files created in
the same transaction (TRUNCATE, CREATE TABLE); at commit PostgreSQL either
WAL-logs their pages (under wal_skip_threshold, 2MB) or syncs the files.
After `BEGIN; TRUNCATE t; COPY/INSERT ...; COMMIT` on a table with an hnsw
index, then an immediate stop and restart, every committed row must be found
through the index (ef_search 1000, seqscan off) and the index must agree
with exact search. Small and large transactions, COPY and INSERT, and a
build inside such a transaction."""

import pytest

from helpers import copy_vectors, mismatched_queries, random_vectors, unreachable_rows

CLUSTER_CONF = {"wal_level": "minimal", "max_wal_senders": "0", "wal_skip_threshold": "'2MB'"}
DIMS = 384  # 1.5 kB per vector: a couple of thousand rows pass 2MB in heap and index
SIZES = {"small": 200, "large": 2500}
THRESHOLD = 2 * 1024 * 1024


def vec(x):
    return "[" + ",".join(f"{v:.6f}" for v in x) + "]"


def fill(conn, method, vectors, start_id):
    if method == "copy":
        copy_vectors(conn, "t", vectors, start_id)
    else:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO t VALUES (%s, %s::vector)",
                            [(start_id + i, vec(v)) for i, v in enumerate(vectors)])


def check_index(cluster, db, rows, label):
    assert cluster.scalar("SELECT count(*) FROM t", db) == rows, f"{label}: every committed row is in the table"
    stranded = unreachable_rows(cluster, db, "t")
    mismatched = mismatched_queries(cluster, db, "t", DIMS, probes=10)
    print(f"{label}: rows not found through the index: {stranded} of {rows}; "
          f"probes disagreeing with exact search: {mismatched} of 10")
    assert stranded == 0, f"{label}: every committed row is found through the index"
    assert mismatched == 0, f"{label}: the index agrees with exact search"


@pytest.mark.parametrize("method", ["copy", "insert"])
@pytest.mark.parametrize("size", ["small", "large"])
def test_truncate_and_load_in_one_transaction_survives_a_crash(cluster, db, size, method):
    n = SIZES[size]
    with cluster.connect(db) as conn:
        conn.execute(f"CREATE TABLE t (id int PRIMARY KEY, v vector({DIMS}))")
        copy_vectors(conn, "t", random_vectors(300, DIMS, seed=1), 100000)
        conn.execute("CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops)")
        conn.execute("CHECKPOINT")
    with cluster.connect(db, autocommit=False) as conn:
        conn.execute("TRUNCATE t")
        fill(conn, method, random_vectors(n, DIMS, seed=2), 1)
        conn.commit()
    sizes = cluster.sql("SELECT pg_relation_size('t'), pg_relation_size('t_v')", db)[0]
    print(f"{size} {method}: heap {sizes[0]} bytes, index {sizes[1]} bytes (wal_skip_threshold {THRESHOLD})")
    if size == "large":
        assert min(sizes) > THRESHOLD, "heap and index are synced at commit, not WAL-logged"
    else:
        assert max(sizes) < THRESHOLD, "heap and index are WAL-logged at commit"
    cluster.crash()
    cluster.start()
    check_index(cluster, db, n, f"{size} {method} after crash")
    # the recovered index takes more rows
    with cluster.connect(db) as conn:
        fill(conn, method, random_vectors(50, DIMS, seed=3), n + 1)
    check_index(cluster, db, n + 50, f"{size} {method}, more rows after recovery")
    assert not cluster.log_problems(), cluster.log_problems()


@pytest.mark.parametrize("size", ["small", "large"])
def test_build_in_the_creating_transaction_survives_a_crash(cluster, db, size):
    n = SIZES[size]
    with cluster.connect(db, autocommit=False) as conn:
        conn.execute(f"CREATE TABLE t (id int PRIMARY KEY, v vector({DIMS}))")
        copy_vectors(conn, "t", random_vectors(n, DIMS, seed=4), 1)
        conn.execute("CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops)")
        fill(conn, "insert", random_vectors(20, DIMS, seed=5), n + 1)
        conn.commit()
    cluster.crash()
    cluster.start()
    check_index(cluster, db, n + 20, f"build in the creating transaction ({size}) after crash")
    assert not cluster.log_problems(), cluster.log_problems()
