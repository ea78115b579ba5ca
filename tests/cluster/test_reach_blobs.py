"""Rows in tight groups far apart (8 blobs of 4-d rows, spread 0.001)
indexed with a small m: pruning cuts every layer-0 link between blobs, and
the final reachability pass could not join them again (its search for a
row of a cut-off blob came down the upper layers into that blob). An
iterative index scan then returned only part of the table. Core test:
crates/core/tests/connect_reach_review.rs, tight_clusters_*.
"""

import pytest

from test_reach_ties import scanned

N = 3000


def blob_rows(cluster, db):
    cluster.sql("CREATE TABLE t (id int, v vector(4))", db)
    cluster.sql(
        "SELECT setseed(0.25); "
        "INSERT INTO t SELECT g, ARRAY[c * 10 + 0.001 * random(), (c % 3) * 7 + 0.001 * random(), "
        "(c % 2) * 5 + 0.001 * random(), 0.001 * random()]::vector "
        f"FROM (SELECT g, g % 8 AS c FROM generate_series(1, {N}) g) s",
        db,
    )


@pytest.mark.parametrize("m,ef", [(2, 16), (4, 16), (8, 16)])
def test_tight_blobs_all_reachable_after_build(cluster, db, m, ef):
    blob_rows(cluster, db)
    cluster.sql(f"CREATE INDEX t_idx ON t USING hnsw (v vector_l2_ops) WITH (m = {m}, ef_construction = {ef})", db)
    got = scanned(cluster, db, "'[0,0,0,0]'")
    assert got == N, f"m {m}: an index scan reaches {got} of {N} rows"


@pytest.mark.parametrize("m", [2, 8])
def test_tight_blobs_all_reachable_after_vacuum(cluster, db, m):
    """Rows inserted one by one after an empty build, then a third deleted
    and VACUUMed: VACUUM's pass joins the blobs again."""
    blob_rows(cluster, db)
    cluster.sql("CREATE TABLE u AS SELECT * FROM t; TRUNCATE t", db)
    cluster.sql(f"CREATE INDEX t_idx ON t USING hnsw (v vector_l2_ops) WITH (m = {m}, ef_construction = 16)", db)
    cluster.sql("INSERT INTO t SELECT * FROM u ORDER BY id", db)
    cluster.sql("DELETE FROM t WHERE id % 3 = 0", db)
    cluster.sql("VACUUM t", db)
    left = N - N // 3
    got = scanned(cluster, db, "'[70,0,0,0]'")
    assert got == left, f"m {m}: after VACUUM an index scan reaches {got} of {left} rows"


@pytest.mark.parametrize("m", [2, 4, 8, 16])
def test_tight_blobs_all_reachable_after_inserts(cluster, db, m):
    """Rows inserted one by one into an index built empty."""
    blob_rows(cluster, db)
    cluster.sql("CREATE TABLE u AS SELECT * FROM t; TRUNCATE t", db)
    cluster.sql(f"CREATE INDEX t_idx ON t USING hnsw (v vector_l2_ops) WITH (m = {m}, ef_construction = {max(16, 2 * m)})", db)
    cluster.sql("INSERT INTO t SELECT * FROM u ORDER BY id", db)
    got = scanned(cluster, db, "'[70,0,0,0]'")
    assert got == N, f"m {m}: after inserts an index scan reaches {got} of {N} rows"
