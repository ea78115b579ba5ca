"""Review of the 8-bit codes an hnsw build searches on (float4, 64 dims and
up): hostile value ranges (max - min overflowing float4, constant
dimensions, one or two rows, 2000 dims with a tail past the 16 lanes) must
build and find every row; an index scan's top 10 matches an exact scan; and
cosine rows around a common direction keep the exact top 10.
"""

import numpy as np
import pytest

from helpers_index import ext_db, force_index, index_ids, load_table, tie_tolerant_hits


def top10_recall(conn, data, queries, metric):
    force_index(conn)
    hits = 0.0
    for q in queries:
        got = index_ids(conn, "t", q, 10, ef_search=100, metric=metric)
        hits += tie_tolerant_hits({i + 1: v for i, v in enumerate(data)}, data, got, q, 10, metric=metric)
    return hits / len(queries)


OPS = {"l2": "vector_l2_ops", "cosine": "vector_cosine_ops", "ip": "vector_ip_ops"}


def build(conn, data, metric):
    load_table(conn, "t", data)
    conn.execute(f"CREATE INDEX ON t USING hnsw (v {OPS[metric]})")


@pytest.mark.parametrize("case", ["huge_range", "constant_dims", "one_row", "two_rows", "dims_1999"])
def test_hostile_ranges_build_and_find_every_row(cluster, case):
    rng = np.random.default_rng(5)
    if case == "huge_range":
        # max - min of dimension 0 overflows float4 (3e38 - -3e38)
        data = rng.standard_normal((300, 64)).astype(np.float32)
        data[::2, 0] = 3e38
        data[1::2, 0] = -3e38
    elif case == "constant_dims":
        data = np.full((300, 64), 0.25, dtype=np.float32)
        data[:, 7] = rng.standard_normal(300)
    elif case == "one_row":
        data = rng.standard_normal((1, 64)).astype(np.float32)
    elif case == "two_rows":
        data = rng.standard_normal((2, 64)).astype(np.float32)
    else:
        data = rng.standard_normal((300, 1999)).astype(np.float32)
    db = ext_db(cluster, f"codes8_{case}", "vecstore")
    with cluster.connect(db) as conn:
        build(conn, data, "l2")
        force_index(conn)
        conn.execute("SET hnsw.ef_search = 1000")
        n = conn.execute("SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> (SELECT v FROM t WHERE id = 1) LIMIT 1000) s").fetchone()[0]
        assert n == len(data)
        if case != "huge_range":  # distances all Infinity there: any order
            assert top10_recall(conn, data, data[:20], "l2") >= 0.99


def test_infinite_values_are_rejected(cluster):
    db = ext_db(cluster, "codes8_inf", "vecstore")
    with cluster.connect(db) as conn:
        with pytest.raises(Exception, match="infinite value not allowed in vector"):
            conn.execute("SELECT '[Infinity,1]'::vector")


@pytest.mark.parametrize("metric", ["l2", "cosine", "ip"])
def test_offset_rows_keep_recall(cluster, metric):
    """Blobs offset by 10 in every dimension (cosine: unit rows around one
    direction): index top 10 at ef_search 100 near the exact one."""
    rng = np.random.default_rng(11)
    centres = rng.standard_normal((40, 64))
    data = (centres[rng.integers(0, 40, 3000)] + 0.3 * rng.standard_normal((3000, 64)) + 10.0).astype(np.float32)
    queries = data[:50] + 0.01 * rng.standard_normal((50, 64)).astype(np.float32)
    db = ext_db(cluster, f"codes8_offset_{metric}", "vecstore")
    with cluster.connect(db) as conn:
        build(conn, data, metric)
        assert top10_recall(conn, data, queries, metric) >= 0.95
