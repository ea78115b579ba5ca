"""Adversarial review of the commits after 882492c (NaN = unreadable, +inf
an ordinary distance; partial duplicate group first; scans from both the
descent end and the entry point; sq8 bounds with float4 error; build threads).

Each test below failed on the build under review (a confirmed defect, since fixed), asserting
the correct (pgvector 0.8) behaviour:

- test_sq8_cosine_tiny_values_no_wrong_order: a quantised cosine index over a
  vector of ~1e-38 elements fails every scan with "index returned tuples in
  wrong order" (the bound comes from the double-normalised vector; the
  float4 operator's |x|^2 underflows to 0 and it says distance 0).
- test_sq8_ip_opposite_overflow_query_finds_rows: a quantised inner-product
  index returns NO rows for a query whose large elements have opposite signs
  (the codes' float4 dot overflows to +inf and -inf: NaN = "unreadable").
- test_sq8_ip_strict_order_across_batches: iterative_scan = strict_order on a
  quantised inner-product index returns rows out of exact order (values
  reported across batch boundaries are not monotone).
- test_nan_distance_rows_are_returned: rows whose distance to the query is
  NaN (an inner product of +inf and -inf terms) are dropped by the float4
  index, and when that row is the entry point the scan returns no row at
  all (src/am/scan.rs: `if !unusable(start.dist)`); pgvector returns all.
- test_insert_with_nan_distance_to_entry_point_is_linked: a row inserted
  while the entry point is at NaN distance from it gets no links and is
  never found again, even when it is the nearest row (-Infinity).
- test_inserted_copies_at_ef_search_1_give_a_full_element: 15 copies inserted
  one by one: ef_search = 1 returns the partial element (5 rows), pgvector 10.
"""

import numpy as np
import pytest

from helpers_index import copy_rows, ext_db, force_index, has_pgvector, vec_text

SQ8 = "WITH (vecstore_quantize = sq8)"


def ordered(conn, op, q, limit=100, where="true"):
    return conn.execute(f"SELECT id, v {op} %s::vector FROM t WHERE {where} ORDER BY v {op} %s::vector LIMIT {limit}",
                        (q, q)).fetchall()


# ---------------------------------------------------------------- sq8


def test_sq8_cosine_tiny_values_no_wrong_order(cluster):
    """One row [1e-38,2e-38,-1e-38]: the float4 operator gives distance 0 to
    [1,1,1] (its norm underflows); pgvector's index and the float4 vecstore
    index return the row, the quantised one errors."""
    db = ext_db(cluster, "r2_sq8_cos_tiny", "vecstore")
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE t (id serial, v vector(3))")
        conn.execute("INSERT INTO t (v) VALUES ('[1e-38,2e-38,-1e-38]'), ('[1,2,3]')")
        conn.execute(f"CREATE INDEX ON t USING hnsw (v vector_cosine_ops) {SQ8}")
        force_index(conn)
        got = ordered(conn, "<=>", "[1,1,1]")
    assert sorted(i for i, _ in got) == [1, 2]
    assert [d for _, d in got] == sorted(d for _, d in got)


def test_sq8_ip_opposite_overflow_query_finds_rows(cluster):
    """One row [2e-38,1e-38,2e-38], query [1e38,0,-1e38]: the operator says
    -0 (pgvector and the float4 index return the row); the quantised index
    returns no row."""
    db = ext_db(cluster, "r2_sq8_ip_nan", "vecstore")
    q = "[1e38,0,-1e38]"
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE t (id serial, v vector(3))")
        conn.execute("INSERT INTO t (v) VALUES ('[2e-38,1e-38,2e-38]')")
        conn.execute(f"CREATE INDEX t_v ON t USING hnsw (v vector_ip_ops) {SQ8}")
        force_index(conn)
        sq8 = ordered(conn, "<#>", q)
        conn.execute("DROP INDEX t_v")
        conn.execute("CREATE INDEX t_v ON t USING hnsw (v vector_ip_ops)")
        f4 = ordered(conn, "<#>", q)
    print(f"sq8 {sq8}, float4 {f4}")
    assert f4 == [(1, -0.0)]
    assert sq8 == f4


def test_sq8_ip_strict_order_across_batches(cluster):
    """3,000 16-d rows, half with an outlier element (+-50, a coarse code),
    a filter every 7th row passes, LIMIT 50, strict_order at ef_search 1
    and 5: every result list must be sorted by the exact distance."""
    db = ext_db(cluster, "r2_sq8_strict", "vecstore")
    rng = np.random.default_rng(1)
    n, d = 3000, 16
    base = rng.normal(size=(n, d)).astype(np.float32)
    out = rng.random(n) < 0.5
    base[out, 0] = rng.choice([50.0, -50.0], size=out.sum())
    queries = rng.normal(size=(30, d)).astype(np.float32)
    unsorted = 0
    with cluster.connect(db) as conn:
        conn.execute(f"CREATE TABLE t (id int, v vector({d}))")
        copy_rows(conn, "t", np.arange(1, n + 1), base)
        conn.execute(f"CREATE INDEX ON t USING hnsw (v vector_ip_ops) WITH (vecstore_quantize = sq8, m = 8)")
        force_index(conn)
        conn.execute("SET hnsw.iterative_scan = strict_order")
        for ef in (1, 5):
            conn.execute(f"SET hnsw.ef_search = {ef}")
            for q in queries:
                dist = [r[1] for r in ordered(conn, "<#>", vec_text(q), 50, "id %% 7 = 0")]
                unsorted += dist != sorted(dist)
    print(f"result lists out of order: {unsorted} of 60")
    assert unsorted == 0


# ---------------------------------------------------------------- NaN distances (float4 index)


@pytest.mark.parametrize("ext", [
    "vecstore",
    "pgvector",
])
def test_nan_distance_rows_are_returned(cluster, ext):
    """[3e38,3e38] and five small rows, inner product, query [3e38,-3e38]:
    the huge row's distance is NaN; pgvector's scan returns all 6 rows
    (vecstore: none when the huge row is the entry point, else 5)."""
    if ext == "pgvector" and not has_pgvector(cluster):
        pytest.skip("no pgvector")
    db = ext_db(cluster, f"r2_nan_rows_{ext[:3]}", ext)
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE t (id serial, v vector(2))")
        conn.execute("INSERT INTO t (v) VALUES ('[3e38,3e38]')")
        conn.execute("CREATE INDEX ON t USING hnsw (v vector_ip_ops)")
        for v in ("[1,2]", "[2,1]", "[1,1]", "[-1,2]", "[0.5,0.1]"):
            conn.execute("INSERT INTO t (v) VALUES (%s)", (v,))
        force_index(conn)
        got = ordered(conn, "<#>", "[3e38,-3e38]")
    print(f"{ext}: {got}")
    assert sorted(i for i, _ in got) == [1, 2, 3, 4, 5, 6]


def test_insert_with_nan_distance_to_entry_point_is_linked(cluster):
    """Empty index; insert [3e38,3e38] (the entry point), then [3e38,-3e38]
    (NaN inner product with it), then 50 small rows. Query [1,-1]: row 2 is
    the nearest (-Infinity); pgvector returns it first, vecstore never."""
    db = ext_db(cluster, "r2_nan_entry", "vecstore")
    others = np.random.default_rng(5).random((50, 2), dtype=np.float32) + 0.1
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE t (id serial, v vector(2))")
        conn.execute("CREATE INDEX ON t USING hnsw (v vector_ip_ops)")
        conn.execute("INSERT INTO t (v) VALUES ('[3e38,3e38]')")
        conn.execute("INSERT INTO t (v) VALUES ('[3e38,-3e38]')")
        for v in others:
            conn.execute("INSERT INTO t (v) VALUES (%s)", (vec_text(v),))
        force_index(conn)
        conn.execute("SET hnsw.ef_search = 400")
        got = ordered(conn, "<#>", "[1,-1]", 3)
    print(got)
    assert got[0] == (2, float("-inf"))


# ---------------------------------------------------------------- duplicates


def test_inserted_copies_at_ef_search_1_give_a_full_element(cluster):
    """100 random 4-d rows with 15 copies of one vector inserted in the
    middle, all through the index: ef_search = 1 at the copies gives one
    full element (10 rows, as pgvector) or more (elements tied with the
    farthest result come too); vecstore gave the partial 5."""
    db = ext_db(cluster, "r2_insert_pile", "vecstore")
    base = np.random.default_rng(1).random((100, 4), dtype=np.float32)
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE t (id serial, v vector(4))")
        conn.execute("CREATE INDEX ON t USING hnsw (v vector_l2_ops)")
        for v in base[:50]:
            conn.execute("INSERT INTO t (v) VALUES (%s)", (vec_text(v),))
        for _ in range(15):
            conn.execute("INSERT INTO t (v) VALUES ('[0.5,0.5,0.5,0.5]')")
        for v in base[50:]:
            conn.execute("INSERT INTO t (v) VALUES (%s)", (vec_text(v),))
        force_index(conn)
        conn.execute("SET hnsw.ef_search = 1")
        counts = [len(ordered(conn, "<->", q)) for q in ("[0.5,0.5,0.5,0.5]", "[0.5,0.5,0.5,0.51]")]
    print(f"rows at ef_search = 1: {counts}")
    assert all(c >= 10 for c in counts)
