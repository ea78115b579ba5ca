"""Review findings on the default (float4) index, each a test that failed first.

- Rows whose distance to the query overflows to +Infinity (e.g. [3e38,3e38]
  under L2: the float4 sum overflows) were never returned by an index scan,
  and when such a row was the graph's entry point scans and inserts found
  nothing at all. pgvector returns them, last.
- A pile of 286 copies of one vector built into an index gave 6 rows at
  ef_search = 1 (the pile's last, partial group of copies won the tie);
  pgvector gives 10.
- After VACUUM at small m some live rows were left without any path to them.
"""

import numpy as np
import pytest

from helpers_index import copy_rows, ext_db, force_index, has_pgvector, random_data, vec_text

HUGE = ["[3e+38,3e+38]", "[-3e+38,-3e+38]", "[3e+38,-3e+38]"]


def small_rows():
    return [f"[{x},{y}]" for x in range(5) for y in range(5)]


def scan(conn, q, ef_search=40, limit=1000):
    force_index(conn)
    conn.execute(f"SET hnsw.ef_search = {ef_search}")
    return conn.execute(f"SELECT v::text, v <-> %s::vector FROM t ORDER BY v <-> %s::vector LIMIT {limit}",
                        (q, q)).fetchall()


@pytest.mark.parametrize("path", ["build", "insert"])
def test_rows_with_infinite_distance_are_returned(cluster, path):
    """25 ordinary rows and 3 whose distance to the query is Infinity: the
    index scan returns all 28, the infinite ones last, like a sequential scan."""
    db = ext_db(cluster, f"inf_rows_{path}", "vecstore")
    rows = small_rows() + HUGE
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE t (id serial, v vector(2))")
        if path == "insert":
            conn.execute("CREATE INDEX ON t USING hnsw (v vector_l2_ops)")
        for r in rows:
            conn.execute("INSERT INTO t (v) VALUES (%s)", (r,))
        if path == "build":
            conn.execute("CREATE INDEX ON t USING hnsw (v vector_l2_ops)")
        got = scan(conn, "[0,0]")
    dists = [d for _, d in got]
    print(f"{path}: {len(got)} of {len(rows)} rows; last three: {got[-3:]}")
    assert len(got) == len(rows)
    assert sorted(v for v, _ in got) == sorted(rows)
    assert dists == sorted(dists)
    assert dists[-3:] == [float("inf")] * 3


@pytest.mark.parametrize("path", ["build", "insert"])
def test_one_huge_row_does_not_hide_the_others(cluster, path):
    """The first row (the entry point of the first insert, or of a build of
    one row followed by inserts) is at infinite distance from everything
    else: every other row must still be linked and found."""
    db = ext_db(cluster, f"inf_entry_{path}", "vecstore")
    others = random_data(300, 2, 5)
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE t (id serial, v vector(2))")
        conn.execute("INSERT INTO t (v) VALUES ('[3e38,3e38]')")
        if path == "build":
            conn.execute("CREATE INDEX ON t USING hnsw (v vector_l2_ops)")
        else:
            conn.execute("CREATE INDEX ON t USING hnsw (v vector_l2_ops)")
            conn.execute("TRUNCATE t")
            conn.execute("INSERT INTO t (v) VALUES ('[3e38,3e38]')")
        for v in others:
            conn.execute("INSERT INTO t (v) VALUES (%s)", (vec_text(v),))
        got = scan(conn, "[0.5,0.5]", ef_search=400)
        near = scan(conn, vec_text(others[17]), ef_search=10, limit=1)
    print(f"{path}: {len(got)} of 301 rows through the index; nearest to row 17: {near}")
    assert len(got) == 301
    assert got[-1][1] == float("inf")
    assert near and near[0][1] == 0


def test_pile_of_copies_at_ef_search_1_gives_ten_rows(cluster):
    """286 copies of one vector among 500 random rows, built: ef_search = 1
    returns at least 10 rows (a full element of copies). pgvector is not
    asked: it returns the copies of whichever element its search meets
    (up to 10 per element), which its random levels decide build to build
    (6 in a run on 2026-12-05, 10 in earlier ones)."""
    db = ext_db(cluster, "pile286_vec", "vecstore")
    rng = np.random.default_rng(286)
    pile = np.tile(np.array([[0.5, 0.5, 0.5, 0.5]], dtype=np.float32), (286, 1))
    vecs = np.concatenate([rng.random((250, 4), dtype=np.float32), pile, rng.random((250, 4), dtype=np.float32)])
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE t (id int, v vector(4))")
        copy_rows(conn, "t", np.arange(1, len(vecs) + 1), vecs)
        conn.execute("CREATE INDEX ON t USING hnsw (v vector_l2_ops)")
        counts = [len(scan(conn, q, ef_search=1, limit=20)) for q in ("[0.5,0.5,0.5,0.5]", "[0.5,0.5,0.5,0.51]")]
    print(f"rows at ef_search = 1 near the pile: {counts}")
    assert all(c >= 10 for c in counts)


@pytest.mark.parametrize("m", [2, 4])
def test_every_row_reachable_after_vacuum_at_small_m(cluster, m):
    """4,000 clustered 8-d rows at m = 2 and 4, 40 % deleted, VACUUM: a scan
    for a live row's own vector (ef_search 1000) finds it. Repair used to
    strand rows (3 and 2 of 2,400 in the first run of this test, and a
    descent ending in a closed pocket hid all but 62 rows from some
    queries). Multi-threaded builds differ run to run: at m = 4 a few rows
    (up to 15 of 2,400 seen) are only reached through far elements; the bar
    is pgvector's figure on the same rows, and under 1 %."""
    from helpers import unreachable_rows
    from helpers_index import clustered_data
    vecs = clustered_data(4000, 8, 40 + m)
    ids = np.arange(1, len(vecs) + 1)
    lost = {}
    for ext in ("vecstore", "pgvector"):
        if ext == "pgvector" and not has_pgvector(cluster):
            continue
        db = ext_db(cluster, f"reach_m{m}_{ext[:3]}", ext)
        with cluster.connect(db) as conn:
            conn.execute("CREATE TABLE t (id int, v vector(8))")
            copy_rows(conn, "t", ids, vecs)
            conn.execute(f"CREATE INDEX ON t USING hnsw (v vector_l2_ops) WITH (m = {m}, ef_construction = 16)")
            conn.execute("DELETE FROM t WHERE id % 5 IN (1, 3)")
            conn.execute("VACUUM t")
            live = conn.execute("SELECT count(*) FROM t").fetchone()[0]
        lost[ext] = unreachable_rows(cluster, db, "t")
    print(f"m = {m}: live rows unreachable after VACUUM (of {live}): {lost}")
    assert lost["vecstore"] <= 0.01 * live
    if "pgvector" in lost:
        assert lost["vecstore"] <= lost["pgvector"]
