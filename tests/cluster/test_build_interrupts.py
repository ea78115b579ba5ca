"""Issue item 1: an hnsw build must survive interrupts that are not a cancel.

PostgreSQL sets `InterruptPending` for many things besides a cancel: the
client_connection_check_interval timer, the idle-stats flush timer (armed
when a statement ends with unflushed statistics, e.g. right after a COPY),
ProcSignal barriers (DROP DATABASE anywhere), pg_log_backend_memory_contexts.
CHECK_FOR_INTERRUPTS handles those and returns; a build that treats every
pending interrupt as a cancel fails with "hnsw build stopped without an
interrupt". A real cancel must still stop the build promptly.

Each signal is sent 0.5 s into the graph linking and the test checks the
build was still linking then; the idle-stats timer is aimed at about 3 s
into the linking of 100k rows. The figures are printed.
"""

import threading
import time

import psycopg
import pytest

from helpers import copy_vectors, load_table, random_vectors, wait_for

N, DIMS = 25000, 64
# LOG level, to see pg_log_backend_memory_contexts' output
CLUSTER_CONF = {"log_min_messages": "log"}
BUILD = "CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops)"


@pytest.fixture(scope="module")
def table_db(cluster):
    db = cluster.create_db("interrupts")
    load_table(cluster, db, "t", random_vectors(N, DIMS, seed=7))
    return db


def build_phase(cluster, db, pid):
    return cluster.scalar("SELECT phase FROM pg_stat_progress_create_index WHERE pid = %s", db, (pid,))


def linking_started(cluster, db, pid):
    return wait_for(lambda: build_phase(cluster, db, pid) == "building index: linking graph", timeout=60, interval=0.02)


def build_with(cluster, db, during=None, settings=(), delay=0.5):
    """Builds the index in one session; `during(pid)` runs from another
    session `delay` seconds into the graph linking. Returns a dict: seconds,
    error, ended (monotonic time the statement returned), landed (the
    build was still linking right after `during` ran)."""
    out = {"error": None, "landed": False}
    with cluster.connect(db) as conn:
        for s in settings:
            conn.execute(s)
        pid = conn.info.backend_pid
        helper = None
        if during:
            def run():
                if linking_started(cluster, db, pid):
                    time.sleep(delay)
                    during(pid)
                    out["landed"] = build_phase(cluster, db, pid) == "building index: linking graph" or \
                        out["error"] is not None
            helper = threading.Thread(target=run)
            helper.start()
        start = time.monotonic()
        try:
            conn.execute(BUILD)
        except psycopg.Error as e:
            out["error"] = e
        out["ended"] = time.monotonic()
        out["seconds"] = out["ended"] - start
        if helper:
            helper.join()
    if out["error"] is None:
        cluster.sql("DROP INDEX t_v", db)
    return out


def test_client_connection_check_interval_does_not_stop_the_build(cluster, table_db):
    r = build_with(cluster, table_db, settings=["SET client_connection_check_interval = '100ms'"])
    print(f"build with client_connection_check_interval = 100ms: {r['seconds']:.2f} s, error: {r['error']}")
    assert r["error"] is None
    assert r["seconds"] > 1, "the build was long enough for the 100 ms check to fire"


def test_log_backend_memory_contexts_does_not_stop_the_build(cluster, table_db):
    def signal(pid):
        assert cluster.scalar("SELECT pg_log_backend_memory_contexts(%s)", table_db, (pid,))
    r = build_with(cluster, table_db, during=signal)
    print(f"build with pg_log_backend_memory_contexts 0.5 s into linking: {r['seconds']:.2f} s, error: {r['error']}")
    assert r["error"] is None
    assert r["landed"], "the signal arrived while the graph was being linked"
    assert "logging memory contexts of PID" in cluster.log(), "the signal was delivered"


def test_procsignal_barrier_does_not_stop_the_build(cluster, table_db):
    cluster.sql("CREATE DATABASE scratch")

    def barrier(pid):
        # DROP DATABASE emits a ProcSignal barrier (smgr release) to every backend
        cluster.sql("DROP DATABASE scratch")
    r = build_with(cluster, table_db, during=barrier)
    print(f"build with a ProcSignal barrier 0.5 s into linking: {r['seconds']:.2f} s, error: {r['error']}")
    assert r["error"] is None
    assert r["landed"], "the barrier arrived while the graph was being linked"


def test_copy_then_create_index_in_the_same_session(cluster):
    """COPY 100k rows, then CREATE INDEX in the same session: the build must
    finish and the index answer. A quick statement right after the COPY
    leaves its statistics pending and arms the idle-stats timer (10 s); the
    session waits 7 s so that, on servers where the timer interrupts a busy
    session, it fires about 3 s into the build. Another session watches the
    statistics of a table only this session reads to see when it fired."""
    db = cluster.create_db("copy_then_build")
    rows, dims = 100000, 32
    seen = {}
    with cluster.connect(db) as conn:
        conn.execute(f"CREATE TABLE t (id int, v vector({dims}))")
        # The statistics watched belong to a one-row table only this session
        # reads, in a plan without parallel workers (a worker flushes its own
        # statistics when it exits, and the build scans t, not this table).
        conn.execute("CREATE TABLE probe (x int)")
        conn.execute("INSERT INTO probe VALUES (1)")
        conn.execute("SET max_parallel_workers_per_gather = 0")
        copy_vectors(conn, "t", random_vectors(rows, dims, seed=3))
        scans = "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'probe'"
        # A statement whose statistics are flushed at once (the previous flush
        # was over a second ago) arms nothing; the next one, run right after
        # that flush, stays pending and arms the timer. Repeat until another
        # session sees the count stay put.
        for attempt in range(20):
            before = cluster.scalar(scans, db)
            assert conn.execute("SELECT count(*) FROM probe").fetchone()[0] == 1
            armed_at = time.monotonic()
            time.sleep(0.3)
            if cluster.scalar(scans, db) == before:
                break
        else:
            raise AssertionError("no statement left its statistics pending")
        time.sleep(max(0.0, armed_at + 7 - time.monotonic()))
        assert cluster.scalar(scans, db) == before, \
            "statistics stayed pending while idle (the timer is armed)"
        pid = conn.info.backend_pid
        stop = threading.Event()

        def observe():
            while not stop.is_set():
                scans, phase = cluster.sql(
                    """SELECT (SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'probe'),
                              (SELECT phase FROM pg_stat_progress_create_index WHERE pid = %s)""", db, (pid,))[0]
                if scans != before:
                    seen["phase"] = phase
                    seen["at"] = time.monotonic() - start
                    return
                time.sleep(0.05)
        start = time.monotonic()
        observer = threading.Thread(target=observe)
        observer.start()
        error = None
        try:
            conn.execute(BUILD)
        except psycopg.Error as e:
            error = e
        elapsed = time.monotonic() - start
        time.sleep(0.2)
        stop.set()
        observer.join()
    print(f"COPY {rows} rows, then CREATE INDEX in the same session: {elapsed:.2f} s, error: {error}; "
          f"statistics flushed {seen.get('at', -1):.2f} s into the build, build phase then: {seen.get('phase')}")
    assert error is None
    # Whether the armed timer interrupts a running statement depends on the
    # PostgreSQL minor release (the deterministic tests above cover every
    # non-cancel interrupt); this one is the user's scenario end to end.
    if not (seen.get("phase") or "").startswith("building index"):
        print("the idle-stats timer did not fire during the build on this server")
    with cluster.connect(db) as conn:
        conn.execute("SET enable_seqscan = off")
        assert len(conn.execute("SELECT id FROM t ORDER BY v <-> (SELECT v FROM t WHERE id = 1) LIMIT 5").fetchall()) == 5


def test_cancel_still_stops_the_build_promptly(cluster, table_db):
    cancelled_at = []

    def cancel(pid):
        cancelled_at.append(time.monotonic())
        assert cluster.scalar("SELECT pg_cancel_backend(%s)", table_db, (pid,))
    r = build_with(cluster, table_db, during=cancel)
    assert cancelled_at, "the build reached the linking phase"
    took = r["ended"] - cancelled_at[0]
    print(f"pg_cancel_backend 0.5 s into linking: error {r['error']!r} within {took:.2f} s of the cancel")
    assert isinstance(r["error"], psycopg.errors.QueryCanceled)
    assert "canceling statement due to user request" in str(r["error"])
    assert took < 2, "the build stops within 2 s of the cancel"
    assert cluster.scalar("SELECT count(*) FROM pg_class WHERE relname = 't_v'", table_db) == 0
