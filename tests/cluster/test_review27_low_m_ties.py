"""Review (a defect older than the s27 change): sparse one-hot rows (every
pair at sqrt(2)) indexed with a small m keep rows no search reaches after
CREATE INDEX; test_reach_ties.py builds with the default m = 16 only. In
the core, crates/core/tests/one_hot_low_m_review.rs: m 2 ef_construction
16, one build thread, 336 of 2,732 unreachable.
"""

import pytest

from test_reach_ties import N_SPARSE, scanned


@pytest.mark.parametrize("m,ef", [(2, 16), (4, 16)])
def test_sparse_one_hot_rows_all_reachable_low_m(cluster, db, m, ef):
    cluster.sql("CREATE TABLE t (id int, v sparsevec(30522))", db)
    cluster.sql(f"INSERT INTO t SELECT g, ('{{' || g || ':1}}/30522')::sparsevec FROM generate_series(1, {N_SPARSE}) g", db)
    cluster.sql(f"CREATE INDEX t_idx ON t USING hnsw (v sparsevec_l2_ops) WITH (m = {m}, ef_construction = {ef})", db)
    got = scanned(cluster, db, "'{7:1}/30522'::sparsevec")
    assert got == N_SPARSE, f"m {m} ef_construction {ef}: an index scan reaches {got} of {N_SPARSE} rows"
