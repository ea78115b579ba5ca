"""A backend's scans and inserts reuse memory between statements and find
pages through the shared buffers they were last seen in (PostgreSQL's
ReadRecentBuffer), pinning a hop's pages a few at a time and prefetching
their tuples. None of that may change an answer: a backend that has run many
statements (over other indexes, after REINDEX, with pages evicted from a
tiny shared_buffers, inside a nested scan) must return exactly what a fresh
backend returns for the same query.
"""

import numpy as np
import pytest

from helpers_index import clustered_data, force_index, load_table, minilm_fixture, vec_text

# 2 MB of shared buffers for indexes of ~12 MB: pages are evicted and their
# buffers reused by other pages all the time
CLUSTER_CONF = {"shared_buffers": "2MB"}


def fresh_answer(cluster, db, sql, params, ef=40):
    """The answer of a backend that never ran a scan before."""
    with cluster.connect(db) as c:
        force_index(c)
        c.execute(f"SET hnsw.ef_search = {ef}")
        return [r[0] for r in c.execute(sql, params).fetchall()]


@pytest.fixture(scope="module")
def loaded(cluster):
    db = cluster.create_db("reuse")
    base, queries = minilm_fixture()
    small = clustered_data(3000, 3, seed=3)
    with cluster.connect(db) as c:
        load_table(c, "big", base, dims=384)
        c.execute("CREATE INDEX big_idx ON big USING hnsw (v vector_l2_ops)")
        load_table(c, "big_cos", base, dims=384)
        c.execute("CREATE INDEX big_cos_idx ON big_cos USING hnsw (v vector_cosine_ops) WITH (m = 8)")
        load_table(c, "small", small, dims=3)
        c.execute("CREATE INDEX small_idx ON small USING hnsw (v vector_l2_ops) WITH (m = 4)")
        assert c.execute("SELECT pg_relation_size('big_idx') + pg_relation_size('big_cos_idx')").fetchone()[0] > 4 * (2 << 20)
    return db, base, queries, small


BIG = "SELECT id FROM big ORDER BY v <-> %s::vector LIMIT 10"
BIG_COS = "SELECT id FROM big_cos ORDER BY v <=> %s::vector LIMIT 10"
SMALL = "SELECT id FROM small ORDER BY v <-> %s::vector LIMIT 10"


def test_a_busy_backend_answers_as_a_fresh_one(cluster, loaded):
    db, _, queries, small = loaded
    probes = [(BIG, q) for q in queries[:12]] + [(BIG_COS, q) for q in queries[12:24]] + [(SMALL, q) for q in small[:12] + 0.01]
    expected = [fresh_answer(cluster, db, sql, (vec_text(q),)) for sql, q in probes]
    assert all(len(e) == 10 for e in expected)
    with cluster.connect(db) as c:
        force_index(c)
        c.execute("SET hnsw.ef_search = 40")
        # interleaved: indexes of other dimensions and opclasses in between,
        # every page evicted many times over
        for rnd in range(3):
            order = np.random.default_rng(rnd).permutation(len(probes))
            for i in order:
                sql, q = probes[i]
                got = [r[0] for r in c.execute(sql, (vec_text(q),)).fetchall()]
                assert got == expected[i], f"round {rnd}, probe {i}"


def test_reindex_truncate_and_drop_between_statements(cluster, loaded):
    db, _, _, small = loaded
    with cluster.connect(db) as c:
        force_index(c)
        load_table(c, "churn", small, dims=3)
        c.execute("CREATE INDEX churn_idx ON churn USING hnsw (v vector_l2_ops) WITH (m = 4)")
        q = vec_text(small[7] + 0.02)
        sql = "SELECT id FROM churn ORDER BY v <-> %s::vector LIMIT 10"
        first = [r[0] for r in c.execute(sql, (q,)).fetchall()]
        assert first == fresh_answer(cluster, db, sql, (q,))
        c.execute("REINDEX INDEX churn_idx")
        assert [r[0] for r in c.execute(sql, (q,)).fetchall()] == fresh_answer(cluster, db, sql, (q,))
        # the same blocks now hold other rows
        c.execute("TRUNCATE churn")
        rows = small[::-1] * 2
        c.execute("INSERT INTO churn (id, v) SELECT 10000 + g, v FROM unnest(%s::vector[]) WITH ORDINALITY AS t(v, g)",
                  ([vec_text(r) for r in rows],))
        got = [r[0] for r in c.execute(sql, (q,)).fetchall()]
        assert got == fresh_answer(cluster, db, sql, (q,))
        assert all(i > 10000 for i in got)
        c.execute("DROP INDEX churn_idx")
        c.execute("CREATE INDEX churn_idx ON churn USING hnsw (v vector_l2_ops) WITH (m = 4)")
        assert [r[0] for r in c.execute(sql, (q,)).fetchall()] == fresh_answer(cluster, db, sql, (q,))


def test_nested_scans(cluster, loaded):
    """An index scan inside a function called for every row of an outer
    index scan: two searches of the same backend at the same time."""
    db, _, queries, small = loaded
    with cluster.connect(db) as c:
        force_index(c)
        c.execute(
            "CREATE FUNCTION nearest_small(q vector) RETURNS int LANGUAGE sql STABLE AS "
            "$$ SELECT id FROM small ORDER BY v <-> q LIMIT 1 $$"
        )
        q = vec_text(queries[0])
        rows = c.execute(
            "SELECT id, nearest_small(('[' || (id %% 7) || ',' || (id %% 5) || ',' || (id %% 3) || ']')::vector) "
            "FROM big ORDER BY v <-> %s::vector LIMIT 10",
            (q,),
        ).fetchall()
        assert [r[0] for r in rows] == fresh_answer(cluster, db, BIG, (q,))
        for big_id, inner in rows:
            probe = f"[{big_id % 7},{big_id % 5},{big_id % 3}]"
            assert inner == fresh_answer(cluster, db, "SELECT id FROM small ORDER BY v <-> %s::vector LIMIT 1", (probe,))[0]


def test_inserts_from_a_busy_backend_are_found(cluster, loaded):
    """Inserts go through the same page hints: rows a long-lived backend
    inserts between its queries are found by a fresh backend."""
    db, base, queries, _ = loaded
    with cluster.connect(db) as c:
        force_index(c)
        new = (base[:300] * 0.5 + queries[:1] * 0.5).astype(np.float32)
        new /= np.linalg.norm(new, axis=1, keepdims=True)
        for i, v in enumerate(new):
            c.execute("INSERT INTO big (id, v) VALUES (%s, %s::vector)", (900000 + i, vec_text(v)))
            if i % 30 == 0:
                c.execute(BIG, (vec_text(queries[i % 50]),)).fetchall()
    with cluster.connect(db) as c:
        force_index(c)
        c.execute("SET hnsw.ef_search = 100")
        found = sum(
            c.execute("SELECT id FROM big ORDER BY v <-> %s::vector LIMIT 1", (vec_text(v),)).fetchone()[0] == 900000 + i
            for i, v in enumerate(new)
        )
    assert found >= 297, found
