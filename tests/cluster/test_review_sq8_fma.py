"""Adversarial review of the sq8 scan's bounds (fused L2 code kernel; cheap
bounds from the minimum and step remembered when the search scored an
element): the value an sq8 index reports with a row must never exceed the
operator's float4 distance (PostgreSQL re-checks and errors with "index
returned tuples in wrong order", or strict_order drops rows)."""

import numpy as np
import pytest

from helpers_index import copy_rows, ext_db, force_index, vec_text

SQ8 = "WITH (vecstore_quantize = sq8)"
TINY = np.sqrt(np.float64(np.float32(np.finfo(np.float32).smallest_subnormal)))  # √(2^-149)


def subnormal_pair(dims, step, s, off, shift=0.0):
    """A vector `s` above its code grid point (min and max on the grid) and
    a query `off` above the grid point: the operator's squares (off - s)²
    are below half of 2^-149 and round to 0 (distance 0); the code's
    offsets squared are just above it."""
    pattern = np.array([0, 255, 17, 100, 200], dtype=np.float64)
    grid = shift + step * TINY * pattern[np.arange(dims) % 5]
    x = grid + np.where(np.arange(dims) % 5 < 2, 0.0, s * TINY)
    q = grid + off * TINY
    return q.astype(np.float32), x.astype(np.float32)


@pytest.mark.parametrize("mode", ["off", "strict_order", "relaxed_order"])
def test_sq8_tiny_offsets_do_not_break_the_reported_order(cluster, mode):
    """Rows whose offsets from the query are about 2.6e-23 per element
    (squares below the least normal float4, which round absolutely, not
    relatively): the core bounds were above the operator's value there
    (unit tests in crates/core/src/quant/tests_bounds.rs), by far less
    than the scan's absolute 1e-5 slack, so this held before the fix too;
    kept as a guard that every row comes back in order with the
    operator's distance in every iterative mode."""
    db = ext_db(cluster, f"sq8_tiny_{mode}", "vecstore")
    dims = 384
    rows = []
    for j, (step, s, off) in enumerate([(0.12, 0.05, 0.72), (0.2, 0.07, 0.75), (1.0, 0.3, 0.9)]):
        q, x = subnormal_pair(dims, step, s, off)
        rows.append(x)
    # farther rows at ordinary scale: the tiny ones must come first
    rng = np.random.default_rng(5)
    far = rng.normal(size=(60, dims)).astype(np.float32) * 1e-3
    data = np.vstack([np.array(rows), far])
    q, _ = subnormal_pair(dims, 0.12, 0.05, 0.72)
    with cluster.connect(db, autocommit=False) as conn:
        conn.execute(f"CREATE TABLE t (id int, v vector({dims}))")
        copy_rows(conn, "t", np.arange(1, len(data) + 1), data)
        conn.execute(f"CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops) {SQ8}")
        conn.commit()
        exact = conn.execute("SELECT id, v <-> %s::vector FROM t ORDER BY 2, 1", (vec_text(q), )).fetchall()
        force_index(conn)
        conn.execute(f"SET hnsw.iterative_scan = {mode}")
        conn.execute("SET hnsw.ef_search = 100")
        got = conn.execute("SELECT id, v <-> %s::vector FROM t ORDER BY v <-> %s::vector LIMIT 20",
                           (vec_text(q), vec_text(q))).fetchall()
    dists = [d for _, d in got]
    assert dists == sorted(dists), got
    assert dists == [d for _, d in exact[:20]], (got, exact[:5])
    assert [i for i, _ in got[:3]] == [i for i, _ in exact[:3]] and got[0][1] < 1e-21, got[:3]


def _load(cluster, name, opclass="vector_l2_ops", n=3000, ext="vecstore", opts=SQ8, serial=False):
    from helpers_index import minilm_fixture
    db = ext_db(cluster, name, ext)
    base, queries = minilm_fixture()
    base = base[:n]
    with cluster.connect(db, autocommit=False) as conn:
        conn.execute("CREATE TABLE t (id int, v vector(384))")
        copy_rows(conn, "t", np.arange(1, len(base) + 1), base)
        if serial:
            conn.execute("SET max_parallel_maintenance_workers = 0")
        conn.execute(f"CREATE INDEX t_v ON t USING hnsw (v {opclass}) {opts}")
        conn.commit()
    return db, base, queries


OPS = {"vector_l2_ops": "<->", "vector_ip_ops": "<#>", "vector_cosine_ops": "<=>", "vector_l1_ops": "<+>"}


@pytest.mark.parametrize("opclass", list(OPS))
@pytest.mark.parametrize("mode", ["off", "strict_order"])
def test_sq8_every_metric_returns_exact_order(cluster, opclass, mode):
    """sq8 indexes of every metric (the cheap bound is L2's only; the
    others report the full bound): rows come back in the operator's exact
    order, no error, and near the seqscan's top 20 (ef_search 100)."""
    op = OPS[opclass]
    db, base, queries = _load(cluster, f"sq8_{opclass}_{mode}", opclass)
    with cluster.connect(db) as conn:
        force_index(conn)
        conn.execute(f"SET hnsw.iterative_scan = {mode}")
        conn.execute("SET hnsw.ef_search = 100")
        hits = []
        for q in queries[:15]:
            qt = vec_text(q)
            got = conn.execute(f"SELECT id, v {op} %s::vector FROM t ORDER BY v {op} %s::vector LIMIT 20", (qt, qt)).fetchall()
            conn.execute("SET enable_indexscan = off; SET enable_seqscan = on")
            exact = conn.execute(f"SELECT id FROM t ORDER BY v {op} %s::vector LIMIT 20", (qt, )).fetchall()
            conn.execute("SET enable_indexscan = on; SET enable_seqscan = off")
            d = [x for _, x in got]
            assert len(got) == 20 and d == sorted(d), got
            hits.append(len({i for i, _ in got} & {i for (i, ) in exact}) / 20)
    assert np.mean(hits) >= 0.9, hits


def test_sq8_cursor_fetch_rescan_and_backward(cluster):
    """A cursor over an sq8 scan: FETCH in pieces gives the rows of one
    query in order; FETCH BACKWARD on a NO SCROLL cursor is PostgreSQL's
    error (55000); a SCROLL cursor goes back over the same rows; a
    lateral join rescans the index once per outer row and each rescan
    gives that query's own rows."""
    db, base, queries = _load(cluster, "sq8_cursor")
    q = vec_text(queries[0])
    with cluster.connect(db, autocommit=False) as conn:
        force_index(conn)
        conn.execute("SET hnsw.ef_search = 100")
        whole = conn.execute("SELECT id FROM t ORDER BY v <-> %s::vector LIMIT 30", (q, )).fetchall()
        conn.execute(f"DECLARE c NO SCROLL CURSOR FOR SELECT id FROM t ORDER BY v <-> '{q}'::vector LIMIT 30")
        pieces = []
        for _ in range(3):
            pieces += conn.execute("FETCH 10 FROM c").fetchall()
        assert pieces == whole
        import psycopg
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="cursor can only scan forward"):
            conn.execute("FETCH BACKWARD 1 FROM c")
        conn.rollback()
        force_index(conn)
        conn.execute("SET hnsw.ef_search = 100")
        conn.execute(f"DECLARE s SCROLL CURSOR FOR SELECT id FROM t ORDER BY v <-> '{q}'::vector LIMIT 30")
        fwd = conn.execute("FETCH 20 FROM s").fetchall()
        back = conn.execute("FETCH BACKWARD 5 FROM s").fetchall()
        assert fwd == whole[:20] and back == whole[14:19][::-1], (back, whole[14:19])
        conn.rollback()
        force_index(conn)
        conn.execute("SET hnsw.ef_search = 100")
        qs = [vec_text(x) for x in queries[1:6]]
        separate = [conn.execute("SELECT id FROM t ORDER BY v <-> %s::vector LIMIT 5", (x, )).fetchall() for x in qs]
        arr = "ARRAY[" + ",".join(f"'{x}'::vector" for x in qs) + "]"
        joined = conn.execute(f"SELECT o.n, l.id FROM unnest({arr}) WITH ORDINALITY o(q, n), "
                              "LATERAL (SELECT id FROM t ORDER BY v <-> o.q LIMIT 5) l ORDER BY o.n").fetchall()
        by = [[(i, ) for n, i in joined if n == k + 1] for k in range(5)]
        assert by == separate


@pytest.mark.parametrize("side", ["sq8", "float4", "pgvector"])
@pytest.mark.parametrize("reuse", [False, True])
@pytest.mark.parametrize("mode", ["strict_order", "relaxed_order"])
def test_sq8_slots_reused_during_a_cursor_scan(cluster, mode, reuse, side):
    """The cheap bound's minimum and step are remembered when the search
    scores an element; here the element's slot is reused mid-scan: rows
    near the query are deleted (committed) before a cursor's snapshot, the
    cursor hands out a few rows (its first batch scored those elements),
    then VACUUM frees the slots and 1,000 new rows near the query take
    them over, then the cursor goes on (continuation batches, lean
    re-reads). Rows must stay in exact order with no error, only rows of
    the cursor's snapshot, none twice, and near the snapshot's seqscan."""
    if side == "pgvector":
        from helpers_index import need_pgvector
        need_pgvector(cluster)
    db, base, queries = _load(cluster, f"reuse_{side}_{mode}_{int(reuse)}", ext="pgvector" if side == "pgvector" else "vecstore",
                              opts=SQ8 if side == "sq8" else "")
    check(*_reuse_cursor(cluster, db, base, queries[3], mode, reuse), mode, side, reuse)


def _reuse_cursor(cluster, db, base, q, mode, reuse=True):
    """The cursor of the test above: (rows it returns, ids deleted before
    it opened, the snapshot's seqscan top 60)."""
    qt = vec_text(q)
    near = np.argsort(((base - q) ** 2).sum(1))[:400] + 1
    gone = [int(i) for i in near[::2]]
    with cluster.connect(db) as w:
        w.execute("DELETE FROM t WHERE id = ANY(%s)", (gone, ))
    rng = np.random.default_rng(8)
    new = base[near[:250] - 1].repeat(4, axis=0) + rng.normal(scale=0.01, size=(1000, 384)).astype(np.float32)
    with cluster.connect(db, autocommit=False) as r:
        r.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        r.execute("SET enable_indexscan = off")
        exact = r.execute("SELECT id FROM t ORDER BY v <-> %s::vector LIMIT 60", (qt, )).fetchall()
        r.execute("SET enable_indexscan = on")
        force_index(r)
        r.execute(f"SET hnsw.iterative_scan = {mode}")
        r.execute("SET hnsw.ef_search = 20")
        r.execute(f"DECLARE c NO SCROLL CURSOR FOR SELECT id, v <-> '{qt}'::vector FROM t ORDER BY v <-> '{qt}'::vector LIMIT 60")
        got = r.execute("FETCH 5 FROM c").fetchall()
        with cluster.connect(db) as w:
            if reuse:
                w.execute("VACUUM t")
                copy_rows(w, "t", np.arange(10001, 11001), new)
                w.execute("VACUUM t")
            w.execute("SELECT 1")
        got += r.execute("FETCH 55 FROM c").fetchall()
        r.rollback()
    return got, gone, exact


def check(got, gone, exact, mode, side, reuse):
    ids = [i for i, _ in got]
    d = [x for _, x in got]
    assert len(ids) == len(set(ids)) == 60, got
    assert not (set(ids) & set(gone)) and max(ids) <= 3000, ids
    if mode == "strict_order":
        assert d == sorted(d), got
    overlap = len(set(ids) & {i for (i, ) in exact}) / 60
    print(f"{side} {mode} reuse {reuse}: overlap with the snapshot's seqscan {overlap:.2f}")
    assert overlap >= 0.8


def _reuse_overlap(cluster, name, opts, q, mode="strict_order"):
    """The slot-reuse cursor of the test above on a serial build (one
    graph whatever the machine's load): the share of the snapshot's true
    top 60 among the 60 rows the cursor returns, which must be in order."""
    db, base, _ = _load(cluster, name, opts=opts, serial=True)
    got, _, exact = _reuse_cursor(cluster, db, base, q, mode)
    d = [x for _, x in got]
    assert len(got) == 60 and d == sorted(d), got
    return len({i for i, _ in got} & {i for (i, ) in exact}) / 60


def test_sq8_strict_keeps_rows_behind_only_what_was_returned(cluster):
    """CI once saw 0.75 in the test above: the executor pulls a whole batch
    of an sq8 index to return the first 5 rows of a cursor (the bounds are
    below the exact distances), so the largest value reported runs ahead of
    the rows actually returned; rows the continued search then finds below
    that value were all dropped, though they are beyond every row the
    cursor returned (0.38-0.90 of the true top 60 over these queries,
    float4 0.90-0.97). A row is dropped only when it is below a row the
    executor may have returned: sq8 keeps about what float4 keeps."""
    from helpers_index import minilm_fixture
    queries = minilm_fixture()[1]
    res = {}
    for side, opts in (("sq8", SQ8), ("float4", "")):
        res[side] = [_reuse_overlap(cluster, f"behind_{side}_{i}", opts, queries[i]) for i in (2, 4, 9, 11)]
    print("overlap with the snapshot's top 60 per query:", res)
    assert min(res["sq8"]) >= 0.8 and np.mean(res["sq8"]) >= np.mean(res["float4"]) - 0.03, res
