"""Issue 9: hnsw over halfvec and bit keeps recall through the index's life.

For each new opclass: build on 10,000 rows, insert 2,000 more through
aminsert, delete 10 % of all rows, VACUUM, then recall@10 at
hnsw.ef_search = 100 over 50 probes must be >= 0.9 against exact search
(the same query with index scans disabled). Rows are the MiniLM fixture
(3,000 real 384-d embeddings) and three noisy copies of it (12,000 rows;
Gaussian noise of 0.05 per element, as far from the original as two
unrelated sentences are, so the copies do not make the search easy);
bit opclasses index binary_quantize of them as bit(384). A returned row is
a hit when its exact distance is within the exact 10th distance (ties count).
"""

import numpy as np
import pytest

from helpers_index import copy_rows, minilm_fixture, vec_text

CLUSTER_CONF = {"maintenance_work_mem": "'256MB'"}

K, EF_SEARCH, PROBES, BUILD_ROWS, MIN_RECALL, NOISE = 10, 100, 50, 10000, 0.9, 0.05

# opclass -> (column expression type, operator)
OPCLASSES = {
    "halfvec_l2_ops": ("halfvec(384)", "<->"),
    "halfvec_ip_ops": ("halfvec(384)", "<#>"),
    "halfvec_cosine_ops": ("halfvec(384)", "<=>"),
    "halfvec_l1_ops": ("halfvec(384)", "<+>"),
    "bit_hamming_ops": ("bit(384)", "<~>"),
    "bit_jaccard_ops": ("bit(384)", "<%>"),
}


def rows_and_probes():
    base, queries = minilm_fixture()
    rng = np.random.default_rng(909)
    copies = [base] + [base + rng.normal(0, NOISE, base.shape).astype(np.float32) for _ in range(3)]
    data = np.concatenate(copies)
    return data[rng.permutation(len(data))], queries[:PROBES]


def value_sql(coltype, text):
    """SQL for a probe as the indexed column's type."""
    if coltype.startswith("bit"):
        return f"binary_quantize('{text}'::vector)::{coltype}"
    return f"'{text}'::{coltype}"


def plan(conn, sql):
    return "\n".join(r[0] for r in conn.execute("EXPLAIN (COSTS OFF) " + sql))


def exact_mode(conn, on):
    """Exact search: sequential scan and sort (both switches flip, or the
    planner may pick the index anyway when every path is disabled)."""
    conn.execute(f"SET enable_seqscan = {'on' if on else 'off'}")
    conn.execute(f"SET enable_indexscan = {'off' if on else 'on'}")


def recall_at_k(conn, coltype, op, probes):
    total, checked = 0.0, False
    for q in probes:
        qs = value_sql(coltype, vec_text(q))
        exact_sql = f"SELECT v {op} {qs} FROM t ORDER BY v {op} {qs} LIMIT {K}"
        index_sql = f"SELECT id, v {op} {qs} FROM t ORDER BY v {op} {qs} LIMIT {K}"
        exact_mode(conn, True)
        if not checked:
            assert "Index" not in plan(conn, exact_sql), plan(conn, exact_sql)
        exact = [r[0] for r in conn.execute(exact_sql)]
        exact_mode(conn, False)
        if not checked:
            assert "Index Scan using t_v" in plan(conn, index_sql), plan(conn, index_sql)
            checked = True
        got = conn.execute(index_sql).fetchall()
        kth = exact[-1]
        tol = 1e-6 * max(abs(kth), 1.0)
        total += sum(1 for _, d in dict(got).items() if d <= kth + tol) / K
    return total / len(probes)


@pytest.mark.parametrize("opclass", list(OPCLASSES))
def test_recall_after_insert_delete_vacuum(cluster, opclass):
    coltype, op = OPCLASSES[opclass]
    data, probes = rows_and_probes()
    db = cluster.create_db("oc_" + opclass.lower())
    n = len(data)
    ids = np.arange(1, n + 1)
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE src (id int, v vector(384))")
        copy_rows(conn, "src", ids, data)
        conn.execute(f"CREATE TABLE t (id int, v {coltype})")
        conv = "binary_quantize(v)::bit(384)" if coltype.startswith("bit") else f"v::{coltype}"
        conn.execute(f"INSERT INTO t SELECT id, {conv} FROM src WHERE id <= {BUILD_ROWS}")
        conn.execute(f"CREATE INDEX t_v ON t USING hnsw (v {opclass})")
        conn.execute(f"INSERT INTO t SELECT id, {conv} FROM src WHERE id > {BUILD_ROWS}")
        conn.execute("DELETE FROM t WHERE id % 10 = 3")
        conn.execute("VACUUM t")
        conn.execute("SET enable_bitmapscan = off")
        conn.execute(f"SET hnsw.ef_search = {EF_SEARCH}")
        got = recall_at_k(conn, coltype, op, probes)
    print(f"{opclass:20s} rows {n} (built {BUILD_ROWS}, inserted {n - BUILD_ROWS}, deleted 10%), "
          f"recall@{K} at ef_search {EF_SEARCH}: {got:.4f}")
    assert got >= MIN_RECALL, f"{opclass}: recall@{K} {got:.4f} < {MIN_RECALL}"
