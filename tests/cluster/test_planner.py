"""Issue item 9: the planner must choose the kind of plan pgvector gets.

Same rows, same indexes and ANALYZE in a vecstore database and a pgvector
database of one cluster; for each query shape EXPLAIN (COSTS OFF) must give
the same node kinds (and index) and the query the same number of rows.
Reported cases: (a) a filter on c = i % 50 with no iterative scan: pgvector
sorts a seq scan (a bitmap scan once c has a btree) and returns 20 rows,
the first vecstore scanned the hnsw index and returned 0; (b) 2,000 rows of
1,536-d: pgvector uses the index, vecstore sorted a seq scan; (c) a distance
filter `v <-> q < 1` with ORDER BY ... LIMIT. The rest are shapes ORMs and
hand-written apps produce.
"""

import numpy as np
import pytest

from helpers_index import copy_rows, ext_db, need_pgvector, plan_nodes, random_data, vec_text

CLUSTER_CONF = {"maintenance_work_mem": "'256MB'"}

Q3 = "'[0.5,0.5,0.5]'"
Q384 = "'" + vec_text(random_data(1, 384, 385)[0]) + "'"
Q1536 = "'" + vec_text(random_data(1, 1536, 1536)[0]) + "'"


def load(conn):
    """t3 (10,000 x 3-d, c = i % 50, l2 index), t3b (the same rows, plus a
    btree on c), tbig (2,000 x 1,536-d, l2), t6k (6,000 x 3-d, l2), tcos and
    tip (6,000 x 3-d with a cosine and an inner-product index), t384
    (6,000 x 384-d, l2)."""
    d3 = random_data(10000, 3, 9)
    for t in ("t3", "t3b"):
        conn.execute(f"CREATE TABLE {t} (id int, v vector(3), c int)")
        copy_rows(conn, t, np.arange(1, 10001), d3)
        conn.execute(f"UPDATE {t} SET c = id % 50")
        conn.execute(f"CREATE INDEX {t}_v ON {t} USING hnsw (v vector_l2_ops)")
    conn.execute("CREATE INDEX t3b_c ON t3b (c)")
    conn.execute("CREATE TABLE tbig (id int, v vector(1536))")
    copy_rows(conn, "tbig", np.arange(1, 2001), random_data(2000, 1536, 15))
    conn.execute("CREATE INDEX tbig_v ON tbig USING hnsw (v vector_l2_ops)")
    conn.execute("CREATE TABLE t384 (id int, v vector(384))")
    copy_rows(conn, "t384", np.arange(1, 6001), random_data(6000, 384, 384))
    conn.execute("CREATE INDEX t384_v ON t384 USING hnsw (v vector_l2_ops)")
    d6 = random_data(6000, 3, 6)
    for t, ops in (("t6k", "vector_l2_ops"), ("tcos", "vector_cosine_ops"), ("tip", "vector_ip_ops")):
        conn.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, v vector(3))")
        copy_rows(conn, t, np.arange(1, 6001), d6)
        conn.execute(f"CREATE INDEX {t}_v ON {t} USING hnsw (v {ops})")
    conn.execute("VACUUM ANALYZE")


@pytest.fixture(scope="module")
def dbs(cluster):
    need_pgvector(cluster)
    out = {}
    for ext in ("pgvector", "vecstore"):
        out[ext] = ext_db(cluster, f"plan_{ext}", ext)
        with cluster.connect(out[ext]) as conn:
            load(conn)
    return out


SHAPES = {
    # (a) filtered, no iterative scan; then with a btree on the filter column
    "a_filter_c": ("", f"SELECT id FROM t3 WHERE c = 7 ORDER BY v <-> {Q3} LIMIT 20"),
    "a_filter_c_btree": ("", f"SELECT id FROM t3b WHERE c = 7 ORDER BY v <-> {Q3} LIMIT 20"),
    # (b) wide vectors
    "b_1536_limit10": ("", f"SELECT id FROM tbig ORDER BY v <-> {Q1536} LIMIT 10"),
    "b_1536_limit1": ("", f"SELECT id FROM tbig ORDER BY v <-> {Q1536} LIMIT 1"),
    "b_1536_limit100": ("", f"SELECT id FROM tbig ORDER BY v <-> {Q1536} LIMIT 100"),
    # (c) distance threshold plus ORDER BY LIMIT
    "c_distance_filter": ("", f"SELECT id FROM t6k WHERE v <-> {Q3} < 1 ORDER BY v <-> {Q3} LIMIT 10"),
    "c_distance_filter_384": ("", f"SELECT id FROM t384 WHERE v <-> {Q384} < 7.5 ORDER BY v <-> {Q384} LIMIT 10"),
    "c_distance_filter_384_limit100": ("", f"SELECT id FROM t384 WHERE v <-> {Q384} < 7.5 ORDER BY v <-> {Q384} LIMIT 100"),
    "c_distance_filter_1536": ("", f"SELECT id FROM tbig WHERE v <-> {Q1536} < 16.3 ORDER BY v <-> {Q1536} LIMIT 10"),
    "c_distance_filter_only": ("", f"SELECT count(*) FROM t6k WHERE v <-> {Q3} < 0.1"),
    # plain top-k as ORMs write it
    "limit1": ("", f"SELECT id FROM t6k ORDER BY v <-> {Q3} LIMIT 1"),
    "limit5_sqlalchemy": ("", f"SELECT t6k.id, t6k.v FROM t6k ORDER BY t6k.v <-> {Q3} LIMIT 5"),
    "limit5_django_annotate": ("", f'SELECT "t6k"."id", ("t6k"."v" <-> {Q3}) AS "distance" FROM "t6k" ORDER BY 2 ASC LIMIT 5'),
    "limit100": ("", f"SELECT id FROM t6k ORDER BY v <-> {Q3} LIMIT 100"),
    "limit1000": ("", f"SELECT id FROM t6k ORDER BY v <-> {Q3} LIMIT 1000"),
    "limit10_offset20": ("", f"SELECT id FROM t6k ORDER BY v <-> {Q3} LIMIT 10 OFFSET 20"),
    "ef_search_200": ("SET hnsw.ef_search = 200", f"SELECT id FROM t6k ORDER BY v <-> {Q3} LIMIT 10"),
    "ef_search_1": ("SET hnsw.ef_search = 1", f"SELECT id FROM t6k ORDER BY v <-> {Q3} LIMIT 10"),
    "no_limit": ("", f"SELECT id FROM t6k ORDER BY v <-> {Q3}"),
    "tie_break_id": ("", f"SELECT id FROM t6k ORDER BY v <-> {Q3}, id LIMIT 5"),
    "pk_filter": ("", f"SELECT id FROM t6k WHERE id < 100 ORDER BY v <-> {Q3} LIMIT 5"),
    "cte": ("", f"WITH near AS MATERIALIZED (SELECT id, v <-> {Q3} AS d FROM t6k ORDER BY v <-> {Q3} LIMIT 40) "
                "SELECT id FROM near ORDER BY d LIMIT 10"),
    "cosine": ("", f"SELECT id FROM tcos ORDER BY v <=> {Q3} LIMIT 10"),
    "cosine_similarity_expr": ("", f"SELECT id, 1 - (v <=> {Q3}) AS similarity FROM tcos ORDER BY v <=> {Q3} LIMIT 10"),
    "inner_product": ("", f"SELECT id FROM tip ORDER BY v <#> {Q3} LIMIT 10"),
    "wrong_operator_for_index": ("", f"SELECT id FROM tcos ORDER BY v <-> {Q3} LIMIT 10"),
    "desc_order": ("", f"SELECT id FROM t6k ORDER BY v <-> {Q3} DESC LIMIT 10"),
    "join_lateral": ("", "SELECT a.id, n.id FROM (SELECT id, v FROM t6k WHERE id <= 3) a CROSS JOIN LATERAL "
                         "(SELECT id FROM t6k b ORDER BY b.v <-> a.v LIMIT 3) n"),
    "seqscan_off": ("SET enable_seqscan = off", f"SELECT id FROM t3 WHERE c = 7 ORDER BY v <-> {Q3} LIMIT 20"),
}


def plan_and_rows(cluster, db, setup, query):
    with cluster.connect(db) as conn:
        if setup:
            conn.execute(setup)
        return plan_nodes(conn, query), len(conn.execute(query).fetchall())


@pytest.mark.parametrize("shape", list(SHAPES))
def test_plan_kind_matches_pgvector(cluster, dbs, shape):
    setup, query = SHAPES[shape]
    ref = plan_and_rows(cluster, dbs["pgvector"], setup, query)
    got = plan_and_rows(cluster, dbs["vecstore"], setup, query)
    print(f"{shape}: pgvector {ref[0]} rows {ref[1]}; vecstore {got[0]} rows {got[1]}")
    assert got[0] == ref[0], f"plan differs: vecstore {got[0]} vs pgvector {ref[0]}"
    assert got[1] == ref[1], f"row count differs: vecstore {got[1]} vs pgvector {ref[1]}"
