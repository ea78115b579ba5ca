"""Review findings on the quantised index (WITH (vecstore_quantize = sq8)),
each a test that failed first.

The index orders rows by their 8-bit codes and reports, with each row, a
value the executor re-checks against the exact distance and re-orders by.
- Those values must never decrease along a batch nor exceed a later row's
  exact distance, else rows come back out of order, silently.
- They must never exceed the operator's own float4 result (cancellation in
  an inner product, an inner product that overflows to -Infinity, small
  terms a float4 sum absorbs), else "index returned tuples in wrong order".
- An iterative scan past its first batch must still report them.
- Distances must stay precise for vectors far from the origin.
"""

import numpy as np
import psycopg
import pytest

from helpers_index import copy_rows, ext_db, force_index, minilm_fixture, recall, vec_text

SQ8 = "WITH (vecstore_quantize = sq8)"


def sq8_table(conn, vecs, ops="vector_l2_ops", ids=None):
    dims = vecs.shape[1]
    conn.execute(f"CREATE TABLE t (id int, v vector({dims}))")
    copy_rows(conn, "t", np.arange(1, len(vecs) + 1) if ids is None else ids, vecs)
    conn.execute(f"CREATE INDEX t_v ON t USING hnsw (v {ops}) {SQ8}")
    force_index(conn)


def test_sq8_rows_come_back_in_exact_order(cluster):
    """3,000 real embeddings, 100 queries, LIMIT 40 at ef_search 40: every
    result list is sorted by the exact distance."""
    db = ext_db(cluster, "sq8_order", "vecstore")
    base, queries = minilm_fixture()
    bad = []
    with cluster.connect(db) as conn:
        sq8_table(conn, base)
        conn.execute("SET hnsw.ef_search = 40")
        for k, q in enumerate(queries[:100]):
            d = [r[0] for r in conn.execute("SELECT v <-> %s::vector FROM t ORDER BY v <-> %s::vector LIMIT 40",
                                            (vec_text(q), vec_text(q)))]
            if d != sorted(d):
                bad.append(k)
    print(f"queries with rows out of order: {len(bad)} of 100 {bad[:10]}")
    assert not bad


@pytest.mark.parametrize("ops,rows,query", [
    ("vector_ip_ops", ["[1,1,1]", "[1,1,0.9]", "[0.5,1,1]"], "[1e8,-1,-1e8]"),
    ("vector_ip_ops", ["[1,1,1]", "[2,2,2]"], "[3e38,3e38,1]"),
    ("vector_l1_ops", None, None),
])
def test_sq8_bounds_never_exceed_the_operator(cluster, ops, rows, query):
    """Inner-product cancellation and overflow, and 16,000 small terms a
    float4 L1 sum absorbs: the scan answers, in exact order, no error."""
    db = ext_db(cluster, f"sq8_bound_{ops[7:9]}{0 if rows is None else len(rows)}", "vecstore")
    if rows is None:
        n = 16000
        big = np.ones(n, dtype=np.float32)
        big[0] = 1e8
        rows = [vec_text(np.zeros(n, dtype=np.float32)), vec_text(np.full(n, 0.5, dtype=np.float32))]
        query = vec_text(big)
    dims = rows[0].count(",") + 1
    with cluster.connect(db) as conn:
        conn.execute(f"CREATE TABLE t (id serial, v vector({dims}))")
        for r in rows:
            conn.execute("INSERT INTO t (v) VALUES (%s)", (r,))
        conn.execute(f"CREATE INDEX ON t USING hnsw (v {ops}) {SQ8}")
        force_index(conn)
        op = {"vector_ip_ops": "<#>", "vector_l1_ops": "<+>"}[ops]
        got = [r[0] for r in conn.execute(f"SELECT v {op} %s::vector FROM t ORDER BY v {op} %s::vector LIMIT 10",
                                          (query, query))]
    print(f"{ops}: distances {got}")
    assert len(got) == len(rows)
    assert got == sorted(got)


@pytest.mark.parametrize("mode", ["strict_order", "relaxed_order"])
def test_sq8_iterative_scan_past_the_first_batch(cluster, mode):
    """A filter only every 10th row passes, ef_search 10, LIMIT 30: the
    scan runs many batches (later ones keep no values in memory), never
    fails, finds the rows in relaxed order and returns them sorted in strict
    order (which skips only rows of later batches nearer than a value
    already reported, by their exact distance)."""
    db = ext_db(cluster, f"sq8_iter_{mode[:3]}", "vecstore")
    base, queries = minilm_fixture()
    ids = np.arange(1, len(base) + 1)
    unsorted = 0
    with cluster.connect(db) as conn:
        sq8_table(conn, base)
        conn.execute(f"SET hnsw.iterative_scan = {mode}")
        conn.execute("SET hnsw.ef_search = 10")
        hits = total = 0
        for q in queries[:30]:
            rows = conn.execute("SELECT id, v <-> %s::vector FROM t WHERE id %% 10 = 0 ORDER BY v <-> %s::vector LIMIT 30",
                                (vec_text(q), vec_text(q))).fetchall()
            d = [r[1] for r in rows]
            unsorted += d != sorted(d)
            keep = ids % 10 == 0
            exact = ids[keep][np.argsort(((base[keep] - q) ** 2).sum(1))[:30]]
            hits += len(set(r[0] for r in rows) & set(exact.tolist()))
            total += 30
    print(f"{mode}: recall@30 of the filtered rows {hits / total:.3f}; result lists out of order: {unsorted} of 30")
    if mode == "strict_order":
        # exact order; a row of a later batch whose bound falls below a
        # value already reported is kept when its exact distance (read from
        # the table) is not (0.6 when all of them were skipped: 0.97 now)
        assert unsorted == 0
        assert hits / total >= 0.9
    else:
        assert hits / total >= 0.9


def test_sq8_recall_with_a_common_offset(cluster):
    """The 3,000 real embeddings shifted by 1000 in every element: recall@10
    of the quantised index stays near the float4 index's."""
    db = ext_db(cluster, "sq8_offset", "vecstore")
    base, queries = minilm_fixture()
    base, queries = base + 1000, queries[:100] + 1000
    ids = np.arange(1, len(base) + 1)
    with cluster.connect(db) as conn:
        sq8_table(conn, base)
        sq8 = recall(conn, "t", ids, base, queries, 10, 100)
        conn.execute("DROP INDEX t_v")
        conn.execute("CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops)")
        f32 = recall(conn, "t", ids, base, queries, 10, 100)
    print(f"recall@10 at ef_search 100 with an offset of 1000: sq8 {sq8:.3f}, float4 {f32:.3f}")
    assert sq8 >= f32 - 0.05
