"""Adversarial review of the strict sq8 'behind every row the executor may
have returned' rule (rows below the largest value reported are kept, and
reported just below their exact distance): cursors fetched a row at a
time while the same transaction and others change the table, LATERAL
rescans, and rows whose exact distance overflows float4.
"""

import numpy as np
import pytest

from helpers_index import copy_rows, ext_db, force_index, vec_text
from test_review_strict_sq8 import OPS, SQ8, strict


def fetch_singly(conn, n):
    """Up to `n` rows of cursor c, one FETCH each."""
    rows = []
    for _ in range(n):
        r = conn.execute("FETCH 1 FROM c").fetchall()
        if not r:
            break
        rows += r
    return rows


def sq8_table(cluster, name, opclass, n=3000, dims=32, seed=5):
    db = ext_db(cluster, name, "vecstore")
    rng = np.random.default_rng(seed)
    data = (rng.normal(0, 1, (n, dims)) * rng.choice([0.2, 1, 10], (n, 1))).astype(np.float32)
    with cluster.connect(db) as conn:
        conn.execute(f"CREATE TABLE t (id int, note text, v vector({dims})) WITH (fillfactor = 50)")
        copy_rows(conn, "t", np.arange(1, n + 1), data)
        conn.execute(f"CREATE INDEX t_i ON t USING hnsw (v {opclass}) {SQ8}")
        conn.execute("ANALYZE t")
    return db, data, rng


def assert_exact_order(rows):
    d = [r[1] for r in rows]
    bad = [i for i in range(1, len(d)) if d[i] < d[i - 1]]
    assert not bad, f"out of order at {bad[:5]}: {[(d[i - 1], d[i]) for i in bad[:5]]}"
    ids = [r[0] for r in rows]
    assert len(set(ids)) == len(ids), "a row twice"


@pytest.mark.parametrize("opclass", list(OPS))
def test_cursor_one_row_at_a_time_while_table_changes(cluster, opclass):
    """A strict sq8 cursor fetched one row at a time (the executor returns
    far fewer rows than handed out, so many rows are kept below the largest
    value reported) while, between FETCHes, this transaction HOT-updates and
    deletes rows and another session inserts near rows and deletes some:
    exact nondecreasing order, no row twice, no 'wrong order' ERROR, and the
    rows are those of the cursor's snapshot (the seqscan at open time)."""
    db, data, rng = sq8_table(cluster, f"cur_{opclass[7:-4]}", opclass)
    op = OPS[opclass]
    queries = (rng.normal(0, 1, (4, data.shape[1])) * 3).astype(np.float32)
    with cluster.connect(db) as conn, cluster.connect(db) as other:
        # autocommit: the settings outlive each query's transaction
        strict(conn, 5)
        for qi, q in enumerate(queries):
            qt = vec_text(q)
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            snap = dict(conn.execute(f"SELECT id, v {op} '{qt}' FROM t").fetchall())
            conn.execute(f"DECLARE c NO SCROLL CURSOR FOR SELECT id, v {op} '{qt}' FROM t WHERE id % 3 <> 0 ORDER BY v {op} '{qt}'")
            got = []
            for step in range(150):
                r = conn.execute("FETCH 1 FROM c").fetchall()
                if not r:
                    break
                got += r
                if step % 7 == 0:
                    # HOT update (non-indexed column, fillfactor 50) and a
                    # delete of rows near the query, in this transaction
                    conn.execute(f"UPDATE t SET note = 'x{step}' WHERE id IN (SELECT id FROM t ORDER BY v {op} '{qt}' LIMIT 3 OFFSET {step})")
                    conn.execute(f"DELETE FROM t WHERE id = (SELECT id FROM t ORDER BY v {op} '{qt}' LIMIT 1 OFFSET {step + 5})")
                if step % 11 == 0:
                    near = (q + rng.normal(0, 0.01, q.shape)).astype(np.float32)
                    other.execute(f"INSERT INTO t VALUES ({100000 + qi * 1000 + step}, 'new', '{vec_text(near)}')")
            conn.execute("CLOSE c")
            conn.execute("ROLLBACK")
            assert len(got) == 150
            assert_exact_order(got)
            for i, d in got:
                assert i in snap, f"row {i} not in the cursor's snapshot"
                assert d == snap[i]


@pytest.mark.parametrize("opclass", ["vector_l2_ops", "vector_ip_ops"])
def test_lateral_rescans_each_in_exact_order(cluster, opclass):
    """LATERAL: the inner strict sq8 scan is rescanned for every outer row
    (amrescan must forget what the previous query's executor returned);
    each group in exact order, and the same rows as one query at a time."""
    db, data, rng = sq8_table(cluster, f"lat_{opclass[7:-4]}", opclass)
    op = OPS[opclass]
    queries = (rng.normal(0, 1, (12, data.shape[1])) * 3).astype(np.float32)
    with cluster.connect(db) as conn:
        conn.execute("CREATE TEMP TABLE q (qid int, qv vector(32))")
        for i, q in enumerate(queries):
            conn.execute(f"INSERT INTO q VALUES ({i}, '{vec_text(q)}')")
        strict(conn, 5)
        conn.execute("SET enable_material = off")
        rows = conn.execute(
            f"SELECT q.qid, s.id, s.d FROM q CROSS JOIN LATERAL "
            f"(SELECT id, v {op} q.qv AS d FROM t WHERE id % 5 <> 0 ORDER BY v {op} q.qv LIMIT 60) s ORDER BY q.qid"
        ).fetchall()
        by = {}
        for qid, i, d in rows:
            by.setdefault(qid, []).append((i, d))
        assert sorted(by) == list(range(len(queries)))
        for qid, got in by.items():
            assert_exact_order(got)
            qt = vec_text(queries[qid])
            alone = conn.execute(f"SELECT id, v {op} '{qt}' FROM t WHERE id % 5 <> 0 ORDER BY v {op} '{qt}' LIMIT 60").fetchall()
            assert [r[0] for r in got] == [r[0] for r in alone]


@pytest.mark.parametrize("opclass", list(OPS))
def test_float4_overflow_distances_no_wrong_order_error(cluster, opclass):
    """Rows near float4's limit: exact distances are +-Infinity or NaN
    (float4 overflow in the operator) while the index's bounds are finite or
    not. A strict sq8 scan with many batches: a clean result in the order a
    seqscan gives (NaN last), never 'index returned tuples in wrong order'."""
    db = ext_db(cluster, f"huge_{opclass[7:-4]}", "vecstore")
    rng = np.random.default_rng(3)
    n, dims = 1500, 8
    data = rng.normal(0, 1, (n, dims)).astype(np.float32)
    big = rng.choice(n, 300, replace=False)
    data[big] = (np.sign(rng.normal(0, 1, (300, dims))) * rng.uniform(1e37, 3.3e38, (300, dims))).astype(np.float32)
    op = OPS[opclass]
    with cluster.connect(db) as conn:
        conn.execute(f"CREATE TABLE t (id int, v vector({dims}))")
        copy_rows(conn, "t", np.arange(1, n + 1), data)
        conn.execute(f"CREATE INDEX t_i ON t USING hnsw (v {opclass}) {SQ8}")
        conn.execute("ANALYZE t")
        qs = [data[big[0]], -data[big[1]], data[0] * 1e37, data[1]]
        for q in qs:
            qt = vec_text(q.astype(np.float32))
            strict(conn, ef=4)
            got = conn.execute(f"SELECT id, v {op} '{qt}' FROM t WHERE id % 2 = 0 ORDER BY v {op} '{qt}' LIMIT 200").fetchall()
            vals = [float(d) for _, d in got]
            finite = [v for v in vals if v == v]
            assert finite == sorted(finite)
            # NaNs (float8 order: after every number) only at the end
            first_nan = next((i for i, v in enumerate(vals) if v != v), len(vals))
            assert all(v != v for v in vals[first_nan:])
            assert len({r[0] for r in got}) == len(got)


@pytest.mark.parametrize("before", ["relaxed_order", "off"])
def test_switch_to_strict_mid_cursor_nothing_before_returned_rows(cluster, before):
    """A cursor fetched under relaxed_order (or off), then
    `SET hnsw.iterative_scan = strict_order` and fetched on: the GUC is read
    on every amgettuple, so the rows handed out before the switch were not
    recorded as ones the executor may have returned. No row fetched after
    the switch may be nearer than a row fetched before it, and the rows
    after the switch are in exact order (the rule before reuse-fix, 'exact
    distance at or beyond the largest value reported', guaranteed both)."""
    db, data, rng = sq8_table(cluster, f"sw_{before[:3]}", "vector_l2_ops")
    queries = (rng.normal(0, 1, (6, data.shape[1])) * 3).astype(np.float32)
    with cluster.connect(db) as conn:
        force_index(conn)
        conn.execute("SET hnsw.ef_search = 5")
        for q in queries:
            qt = vec_text(q)
            conn.execute(f"SET hnsw.iterative_scan = {before}")
            conn.execute("BEGIN")
            conn.execute(f"DECLARE c NO SCROLL CURSOR FOR SELECT id, v <-> '{qt}' FROM t ORDER BY v <-> '{qt}'")
            first = fetch_singly(conn, 4)
            conn.execute("SET hnsw.iterative_scan = strict_order")
            after = fetch_singly(conn, 80)
            conn.execute("ROLLBACK")
            assert first
            top = max(d for _, d in first)
            nearer = [(i, d) for i, d in after if d < top]
            assert not nearer, f"after the switch, {len(nearer)} rows nearer than {top} returned before: {nearer[:3]}"
            assert_exact_order(after)
