"""hnsw.iterative_scan = strict_order on a quantised index (vecstore_quantize
= sq8). The index reports a lower bound of each row's distance; PostgreSQL
re-checks the exact one and, reading ahead of what it returns (the bounds
are ~20% low at 384-d), has often been told values far beyond the rows it
returned. A continuation batch's row whose bound is below the largest
value told so far may still be at or beyond every returned row: the scan
must then compute its exact distance from the table and keep it, dropping
only rows nearer than that value (as pgvector drops rows nearer than the
last one it returned). Rows must come back in exact order, once, only rows
of the snapshot, and about as many of the true nearest as a float4 index
finds.
"""

import numpy as np
import pytest

from helpers_index import clustered_data, copy_rows, ext_db, force_index, minilm_fixture, vec_text

SQ8 = "WITH (vecstore_quantize = sq8)"
OPS = {"vector_l2_ops": "<->", "vector_ip_ops": "<#>", "vector_cosine_ops": "<=>", "vector_l1_ops": "<+>"}


def filtered_scans(conn, queries, expr, op, k=30, where="id %% 10 = 0", table="t", seen=None):
    """Runs `SELECT id, expr op q FROM table WHERE where ORDER BY expr op q
    LIMIT k` through the index for every query, and the same by seqscan.
    Returns (recall, lists out of order, lists with a row twice, rows
    returned): a returned row counts as a hit when its exact distance is
    within the seqscan's k-th (ties count). The ids returned are added
    to `seen`."""
    hits = total = unsorted = twice = rows = 0
    for q in queries:
        qt = vec_text(q)
        sql = f"SELECT id, {expr} {op} %s::vector FROM {table} WHERE {where} ORDER BY {expr} {op} %s::vector LIMIT {k}"
        got = conn.execute(sql, (qt, qt)).fetchall()
        conn.execute("SET enable_indexscan = off; SET enable_seqscan = on")
        exact = conn.execute(sql, (qt, qt)).fetchall()
        conn.execute("SET enable_indexscan = on; SET enable_seqscan = off")
        if seen is not None:
            seen |= {i for i, _ in got}
        d = [x for _, x in got]
        unsorted += d != sorted(d)
        twice += len({i for i, _ in got}) != len(got)
        kth = exact[-1][1]
        hits += sum(1 for _, x in got if x <= kth + 1e-6 * abs(kth))
        total += len(exact)
        rows += len(got)
    return hits / total, unsorted, twice, rows


def sq8_and_float4(conn, opclass, table="t", column="v", queries=(), expr="v"):
    """Recall of the filtered strict_order scans with an sq8 index, then
    with a float4 index on the same rows (ef_search 10: many batches)."""
    out = {}
    for side, opts in (("sq8", SQ8), ("float4", "")):
        conn.execute(f"DROP INDEX IF EXISTS {table}_i")
        conn.execute(f"CREATE INDEX {table}_i ON {table} USING hnsw ({column} {opclass}) {opts}")
        force_index(conn)
        conn.execute("SET hnsw.iterative_scan = strict_order")
        conn.execute("SET hnsw.ef_search = 10")
        out[side] = filtered_scans(conn, queries, expr, OPS[opclass], table=table)
    return out


def load_minilm(conn, n=3000):
    base, queries = minilm_fixture()
    base = base[:n]
    conn.execute("CREATE TABLE t (id int, v vector(384))")
    copy_rows(conn, "t", np.arange(1, len(base) + 1), base)
    return base, queries


def assert_close_to_float4(out, label):
    (r8, uns8, tw8, n8), (r4, _, _, n4) = out["sq8"], out["float4"]
    print(f"{label}: strict_order recall@30 of the filtered rows: sq8 {r8:.3f} ({n8} rows), float4 {r4:.3f} ({n4} rows)")
    assert uns8 == 0 and tw8 == 0, out
    assert r8 >= r4 - 0.05, out


@pytest.mark.parametrize("opclass", list(OPS))
def test_sq8_strict_order_keeps_rows_behind_the_returned_ones(cluster, opclass):
    """A filter only every 10th row passes, ef_search 10, LIMIT 30, 30
    queries: many continuation batches. sq8 returns rows in exact order,
    none twice, and finds about as many of the true nearest as float4."""
    db = ext_db(cluster, f"strict_{opclass[7:-4]}", "vecstore")
    notices = []
    with cluster.connect(db) as conn:
        conn.add_notice_handler(lambda d: d.severity_nonlocalized == "WARNING" and notices.append(d.message_primary))
        _, queries = load_minilm(conn)
        out = sq8_and_float4(conn, opclass, queries=queries[:30])
    assert_close_to_float4(out, opclass)
    # heap rows fetched by the index scan are released (no "buffer
    # refcount leak" or other resource warning at commit)
    assert not notices, notices


def test_sq8_strict_order_on_an_expression_index(cluster):
    """An sq8 index on an expression (`(a::vector(384))` over a real[]
    column): the exact distance is the expression's, as the executor
    computes it; rows in exact order, recall as float4's."""
    db = ext_db(cluster, "strict_expr", "vecstore")
    with cluster.connect(db) as conn:
        base, queries = load_minilm(conn)
        conn.execute("CREATE TABLE e AS SELECT id, v::real[] AS a FROM t")
        out = sq8_and_float4(conn, "vector_l2_ops", table="e", column="(a::vector(384))", queries=queries[:30],
                             expr="a::vector(384)")
    assert_close_to_float4(out, "expression index")


@pytest.mark.parametrize("storage", ["external", "main"])
def test_sq8_strict_order_with_toasted_vectors(cluster, storage):
    """1,000-d rows stored out of line (EXTERNAL) or compressed in line
    (MAIN, values on a coarse grid so they compress): the exact distance
    is computed from the detoasted value; rows in exact order, recall as
    float4's."""
    db = ext_db(cluster, f"strict_toast_{storage}", "vecstore")
    data = clustered_data(2000, 1000, 41, clusters=20, spread=0.05)
    if storage == "main":
        data = np.round(data * 8) / 8
    queries = data[np.random.default_rng(3).integers(0, len(data), 20)] + 0.01
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE t (id int, v vector(1000))")
        conn.execute(f"ALTER TABLE t ALTER v SET STORAGE {storage}")
        copy_rows(conn, "t", np.arange(1, len(data) + 1), data)
        if storage == "external":
            assert conn.execute("SELECT pg_relation_size(reltoastrelid) > 4000000 FROM pg_class WHERE relname = 't'").fetchone()[0]
        else:
            assert conn.execute("SELECT max(pg_column_size(v)) < 4000 FROM t").fetchone()[0]
        out = sq8_and_float4(conn, "vector_l2_ops", queries=queries)
    assert_close_to_float4(out, f"storage {storage}")


def test_sq8_strict_order_sees_only_the_snapshot(cluster):
    """Near rows deleted (not vacuumed), HOT-updated (a new version of the
    row with the same vector: the index entry leads to it through the HOT
    chain), and inserted by a transaction still open elsewhere: a strict
    scan returns only rows the snapshot sees, each once, in exact order,
    and the snapshot's nearest about as well as float4."""
    db = ext_db(cluster, "strict_snap", "vecstore")
    with cluster.connect(db) as conn:
        base, queries = load_minilm(conn)
        conn.execute("ALTER TABLE t ADD COLUMN note int DEFAULT 0, SET (fillfactor = 50)")
        conn.execute("VACUUM FULL t")
        conn.execute("CREATE TABLE t4 WITH (fillfactor = 50) AS SELECT * FROM t")
        conn.execute(f"CREATE INDEX t_i ON t USING hnsw (v vector_l2_ops) {SQ8}")
        conn.execute("CREATE INDEX t4_i ON t4 USING hnsw (v vector_l2_ops)")
    qs = queries[:20]
    near = set()
    for q in qs:
        near |= set((np.argsort(((base - q) ** 2).sum(1))[:80] + 1).tolist())
    near = sorted(i for i in near if i % 10 == 0)
    gone, moved = near[::3], near[1::3]
    out = {}
    with cluster.connect(db, autocommit=False) as w, cluster.connect(db) as conn:
        for table in ("t", "t4"):
            w.execute(f"DELETE FROM {table} WHERE id = ANY(%s)", (gone, ))
            w.execute(f"UPDATE {table} SET note = note + 1 WHERE id = ANY(%s)", (moved, ))
        w.commit()
        w.execute("SELECT pg_stat_force_next_flush()")
        w.commit()
        conn.execute("SELECT pg_stat_clear_snapshot()")
        hot = conn.execute("SELECT sum(n_tup_hot_upd) FROM pg_stat_user_tables WHERE relname IN ('t', 't4')").fetchone()[0]
        # an open transaction's rows, right on the queries
        for table in ("t", "t4"):
            copy_rows(w, table, 100000 + np.arange(len(qs)) * 10, np.asarray(qs, dtype=np.float32))
        force_index(conn)
        conn.execute("SET hnsw.iterative_scan = strict_order")
        conn.execute("SET hnsw.ef_search = 10")
        seen = set()
        for side, table in (("sq8", "t"), ("float4", "t4")):
            out[side] = filtered_scans(conn, qs, "v", "<->", table=table, seen=seen)
        w.rollback()
    print(f"HOT updates: {hot} of {2 * len(moved)}; deleted {len(gone)} per table")
    assert hot >= len(moved), hot
    assert not (seen & set(gone)) and max(seen) <= 3000, sorted(seen)
    assert seen & set(moved), "no HOT-updated row came back"
    assert_close_to_float4(out, "snapshot")


def test_sq8_strict_order_lateral_rescans(cluster):
    """A LATERAL subquery rescans one sq8 index scan per outer row under
    strict_order with a filter: each rescan gives that query's own rows,
    as separate statements do."""
    db = ext_db(cluster, "strict_lateral", "vecstore")
    with cluster.connect(db) as conn:
        _, queries = load_minilm(conn)
        conn.execute(f"CREATE INDEX t_i ON t USING hnsw (v vector_l2_ops) {SQ8}")
        force_index(conn)
        conn.execute("SET hnsw.iterative_scan = strict_order")
        conn.execute("SET hnsw.ef_search = 10")
        qs = [vec_text(x) for x in queries[:6]]
        separate = [conn.execute("SELECT id FROM t WHERE id %% 7 = 0 ORDER BY v <-> %s::vector LIMIT 15", (x, )).fetchall()
                    for x in qs]
        arr = "ARRAY[" + ",".join(f"'{x}'::vector" for x in qs) + "]"
        joined = conn.execute(f"SELECT o.n, l.id FROM unnest({arr}) WITH ORDINALITY o(q, n), "
                              "LATERAL (SELECT id FROM t WHERE id % 7 = 0 ORDER BY v <-> o.q LIMIT 15) l ORDER BY o.n").fetchall()
    by = [[(i, ) for n, i in joined if n == k + 1] for k in range(6)]
    assert by == separate
    assert all(len(s) == 15 for s in separate), [len(s) for s in separate]


def test_sq8_strict_order_errors_in_an_index_expression_are_clean(cluster):
    """The exact distance evaluates the index expression on the table's
    row; when the expression raises for some rows, the statement fails
    with that ERROR (whether the scan or the executor evaluates it first),
    the session goes on, and the same scan without the failure answers in
    exact order."""
    db = ext_db(cluster, "strict_expr_error", "vecstore")
    with cluster.connect(db) as conn:
        base, queries = load_minilm(conn)
        conn.execute("CREATE TABLE e AS SELECT id, v::real[] AS a FROM t")
        conn.execute("""CREATE FUNCTION picky(a real[]) RETURNS vector IMMUTABLE STRICT LANGUAGE plpgsql AS $$
            BEGIN
              IF current_setting('picky.fail', true) = 'on' AND a[1] > 0.02 THEN
                RAISE EXCEPTION 'picky row %', a[1];
              END IF;
              RETURN a::vector(384);
            END $$""")
        conn.execute(f"CREATE INDEX e_i ON e USING hnsw ((picky(a)::vector(384)) vector_l2_ops) {SQ8}")
        force_index(conn)
        conn.execute("SET hnsw.iterative_scan = strict_order")
        conn.execute("SET hnsw.ef_search = 10")
        qt = vec_text(queries[0])
        sql = ("SELECT id, picky(a)::vector(384) <-> %s::vector FROM e WHERE id %% 10 = 0 "
               "ORDER BY picky(a)::vector(384) <-> %s::vector LIMIT 30")
        import psycopg
        conn.execute("SET picky.fail = on")
        with pytest.raises(psycopg.errors.RaiseException, match="picky row"):
            conn.execute(sql, (qt, qt))
        conn.execute("SET picky.fail = off")
        got = conn.execute(sql, (qt, qt)).fetchall()
    d = [x for _, x in got]
    assert len(got) == 30 and d == sorted(d), got


def test_sq8_strict_order_cosine_with_zero_vectors(cluster):
    """Cosine over a table with zero rows (cosine cannot index them): a
    strict filtered scan answers in exact order without them; a zero
    query (no distances, as pgvector: rows in no particular order) still
    returns rows and no error."""
    db = ext_db(cluster, "strict_cos_zero", "vecstore")
    with cluster.connect(db) as conn:
        base, queries = load_minilm(conn)
        copy_rows(conn, "t", np.arange(5000, 5100, 10), np.zeros((10, 384), dtype=np.float32))
        conn.execute(f"CREATE INDEX t_i ON t USING hnsw (v vector_cosine_ops) {SQ8}")
        force_index(conn)
        conn.execute("SET hnsw.iterative_scan = strict_order")
        conn.execute("SET hnsw.ef_search = 10")
        r, unsorted, twice, rows = filtered_scans(conn, queries[:10], "v", "<=>")
        zero = vec_text(np.zeros(384, dtype=np.float32))
        n = conn.execute("SELECT count(*) FROM (SELECT id FROM t WHERE id %% 10 = 0 ORDER BY v <=> %s::vector LIMIT 50) s",
                         (zero, )).fetchone()[0]
    print(f"cosine with zero rows: recall@30 {r:.3f}; zero query: {n} rows")
    assert unsorted == 0 and twice == 0 and rows == 300 and r >= 0.9
    assert n == 50
