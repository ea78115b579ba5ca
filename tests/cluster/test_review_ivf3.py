"""Review of ivfflat spherical k-means for L2 (branch ivf3): rows whose
sampled norms all lie within 1% of their mean get spherical k-means with
the centers scaled back onto that sphere.

- a sphere wider than the element type's range (float4 rows at 3e38, halfvec
  rows at 60000) must not take that path: a unit center scaled back onto
  it overflows to infinity (pgvector's Euclidean means stay finite);
- rows inserted after the build off the sphere (scaled, zero) are still
  found, and scaled queries read the lists unscaled ones do;
- one dimension, all-identical rows, fewer rows than lists;
- the lists do not depend on the number of build threads;
- a cancel stops a build on the sphere.
"""

import threading
import time

import numpy as np
import psycopg
import pytest

from helpers_index import copy_rows, minilm_fixture, vec_text

CLUSTER_CONF = {"maintenance_work_mem": "'256MB'", "max_worker_processes": "8"}


def unit(x):
    x = x.astype(np.float64)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def build_messages(conn, sql):
    seen = []
    conn.add_notice_handler(lambda d: seen.append(d.message_primary))
    conn.execute("SET client_min_messages = debug1")
    conn.execute(sql)
    conn.execute("RESET client_min_messages")
    return [m for m in seen if m.startswith("ivfflat build:") and "k-means" in m]


def first_id(conn, table, op, typ, q, probes=1):
    conn.execute("SET enable_seqscan = off")
    conn.execute(f"SET ivfflat.probes = {probes}")
    return conn.execute(f"SELECT id FROM {table} ORDER BY v {op} %s::{typ} LIMIT 1", (vec_text(q),)).fetchone()[0]


@pytest.mark.parametrize("typ,big", [("vector", 3e38), ("halfvec", 60000.0)])
def test_a_sphere_beyond_the_element_range_uses_euclidean_means(cluster, db, typ, big):
    """Rows (+-big, +-big, ...) lie on one sphere of radius big*sqrt(dims),
    past the type's largest value: spherical centers scaled back onto it
    would overflow. The build must not cluster on the sphere, and every
    row is still found at probes 1 (halfvec: distances stay finite)."""
    rng = np.random.default_rng(3)
    signs = rng.choice([-1.0, 1.0], size=(200, 4))
    rows = (signs * big).astype(np.float32)
    with cluster.connect(db) as conn:
        conn.execute(f"CREATE TABLE big_{typ} (id int, v {typ}(4))")
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO big_{typ} VALUES (%s, %s::{typ})", [(i + 1, vec_text(r)) for i, r in enumerate(rows)])
        msgs = build_messages(conn, f"CREATE INDEX ON big_{typ} USING ivfflat (v {typ}_l2_ops) WITH (lists = 4)")
        assert msgs and "on the sphere" not in msgs[0], msgs
        if typ == "halfvec":
            for i in (0, 7, 100):
                got = first_id(conn, f"big_{typ}", "<->", typ, rows[i])
                assert np.array_equal(rows[got - 1], rows[i]), (i, got)


def test_rows_off_the_sphere_inserted_later_are_found(cluster, db):
    """Index built on unit rows; then rows scaled by 0.3 and 3 and a zero
    row are inserted. Each is its own nearest row at probes 1, and queries
    scaled by 3 read the same lists (same L2 order) as unscaled ones."""
    base, queries = minilm_fixture()
    base, queries = unit(base[:2000]), unit(queries[:60])
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE late (id int, v vector(384))")
        copy_rows(conn, "late", np.arange(1, len(base) + 1), base)
        msgs = build_messages(conn, "CREATE INDEX ON late USING ivfflat (v vector_l2_ops) WITH (lists = 20)")
        assert msgs and "on the sphere of radius 1.0000" in msgs[0], msgs
        extra = np.concatenate([0.3 * queries[:20], 3.0 * queries[20:40], np.zeros((1, 384), np.float32)])
        copy_rows(conn, "late", np.arange(10001, 10001 + len(extra)), extra)
        for i, x in enumerate(extra):
            assert first_id(conn, "late", "<->", "vector", x) == 10001 + i, i
        # scaled queries: same neighbours among the unit rows at probes 2
        conn.execute("DELETE FROM late WHERE id > 10000")
        for q in queries[40:]:
            conn.execute("SET ivfflat.probes = 2")
            a = [r[0] for r in conn.execute("SELECT id FROM late ORDER BY v <-> %s::vector LIMIT 10", (vec_text(q),))]
            b = [r[0] for r in conn.execute("SELECT id FROM late ORDER BY v <-> %s::vector LIMIT 10", (vec_text(3 * q),))]
            assert len(set(a) & set(b)) >= 9, (a, b)


@pytest.mark.parametrize("rows,dims,lists", [
    ([[1.0], [-1.0]] * 50, 1, 4),
    ([[2.0, 0.0, 0.0]] * 300, 3, 5),
    ([[0.6, 0.8], [0.8, 0.6]], 2, 10),
])
def test_degenerate_rows_on_a_sphere(cluster, db, rows, dims, lists):
    """One dimension (the sphere is {-1, 1}), identical rows, fewer rows
    than lists: the build clusters on the sphere and every row is found
    at probes 1, all rows at probes = lists."""
    rows = np.array(rows, dtype=np.float32)
    t = f"deg_{dims}_{lists}"
    with cluster.connect(db) as conn:
        conn.execute(f"CREATE TABLE {t} (id int, v vector({dims}))")
        copy_rows(conn, t, np.arange(1, len(rows) + 1), rows)
        msgs = build_messages(conn, f"CREATE INDEX ON {t} USING ivfflat (v vector_l2_ops) WITH (lists = {lists})")
        assert msgs and "on the sphere" in msgs[0], msgs
        for x in {tuple(r) for r in rows.tolist()}:
            got = first_id(conn, t, "<->", "vector", np.array(x, np.float32))
            assert tuple(rows[got - 1].tolist()) == x
        conn.execute(f"SET ivfflat.probes = {lists}")
        n = conn.execute(f"SELECT count(*) FROM (SELECT id FROM {t} ORDER BY v <-> %s::vector LIMIT 1000) s", (vec_text(rows[0]),)).fetchone()[0]
        assert n == len(rows)


def test_lists_do_not_depend_on_build_threads(cluster, db):
    """The same rows give the same lists (the same probes-1 results) with
    no helper thread and with two."""
    base, queries = minilm_fixture()
    base, queries = unit(base[:1500]), unit(queries[:40])
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE thr (id int, v vector(384))")
        copy_rows(conn, "thr", np.arange(1, len(base) + 1), base)
        results = []
        for workers in (0, 2):
            conn.execute(f"SET max_parallel_maintenance_workers = {workers}")
            conn.execute("DROP INDEX IF EXISTS thr_v")
            conn.execute("CREATE INDEX thr_v ON thr USING ivfflat (v vector_l2_ops) WITH (lists = 15)")
            conn.execute("SET ivfflat.probes = 1")
            conn.execute("SET enable_seqscan = off")
            results.append([[r[0] for r in conn.execute("SELECT id FROM thr ORDER BY v <-> %s::vector LIMIT 5", (vec_text(q),))] for q in queries])
        assert results[0] == results[1]


def test_cancel_stops_a_build_on_the_sphere(cluster, db):
    """statement_timeout during spherical k-means (many lists) cancels the
    build promptly and the session stays usable."""
    rng = np.random.default_rng(5)
    data = unit(rng.normal(size=(20000, 128)).astype(np.float32))
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE slow (id int, v vector(128))")
        copy_rows(conn, "slow", np.arange(1, len(data) + 1), data)
        conn.execute("SET statement_timeout = '300ms'")
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("CREATE INDEX ON slow USING ivfflat (v vector_l2_ops) WITH (lists = 2000)")
        took = time.monotonic() - started
        assert took < 5, took
        conn.execute("RESET statement_timeout")
        assert conn.execute("SELECT 1").fetchone()[0] == 1
