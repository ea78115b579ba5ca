"""Issue item 1: an hnsw build must survive interrupts that are not a cancel.

PostgreSQL sets `InterruptPending` for many things besides a cancel: the
client_connection_check_interval timer, the idle-stats flush timer (armed
when a statement ends with unflushed statistics, e.g. right after a COPY),
ProcSignal barriers (DROP DATABASE anywhere), pg_log_backend_memory_contexts.
CHECK_FOR_INTERRUPTS handles those and returns; a build that treats every
pending interrupt as a cancel fails with "hnsw build stopped without an
interrupt". A real cancel must still stop the build promptly.

Each build here links long enough (asserted: > 1 s) for the interrupt to
land in the middle of the graph linking.
"""

import threading
import time

import psycopg
import pytest

from helpers import copy_vectors, load_table, random_vectors, wait_for

N, DIMS = 40000, 64
# LOG level, to see pg_log_backend_memory_contexts' output
CLUSTER_CONF = {"log_min_messages": "log"}
BUILD = "CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops)"


@pytest.fixture(scope="module")
def table_db(cluster):
    db = cluster.create_db("interrupts")
    load_table(cluster, db, "t", random_vectors(N, DIMS, seed=7))
    return db


def linking_started(cluster, db, pid):
    return wait_for(lambda: cluster.scalar(
        "SELECT phase FROM pg_stat_progress_create_index WHERE pid = %s", db, (pid,)) == "building index: linking graph",
        timeout=60, interval=0.02)


def build_with(cluster, db, during=None, settings=(), delay=0.5, ended=None):
    """Builds the index in one session; `during(pid)` runs from another
    session `delay` seconds into the graph linking. Returns (seconds, error);
    `ended` gets the monotonic time the statement returned."""
    error = None
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
            helper = threading.Thread(target=run)
            helper.start()
        start = time.monotonic()
        try:
            conn.execute(BUILD)
        except psycopg.Error as e:
            error = e
        elapsed = time.monotonic() - start
        if ended is not None:
            ended.append(time.monotonic())
        if helper:
            helper.join()
    if error is None:
        cluster.sql("DROP INDEX t_v", db)
    return elapsed, error


def test_client_connection_check_interval_does_not_stop_the_build(cluster, table_db):
    elapsed, error = build_with(cluster, table_db, settings=["SET client_connection_check_interval = '100ms'"])
    print(f"build with client_connection_check_interval = 100ms: {elapsed:.2f} s, error: {error}")
    assert error is None
    assert elapsed > 1, "the build was long enough for the 100 ms check to fire"


def test_log_backend_memory_contexts_does_not_stop_the_build(cluster, table_db):
    def signal(pid):
        assert cluster.scalar("SELECT pg_log_backend_memory_contexts(%s)", table_db, (pid,))
    elapsed, error = build_with(cluster, table_db, during=signal)
    print(f"build with pg_log_backend_memory_contexts 0.5 s into linking: {elapsed:.2f} s, error: {error}")
    assert error is None
    assert "logging memory contexts of PID" in cluster.log(), "the signal was delivered"


def test_procsignal_barrier_does_not_stop_the_build(cluster, table_db):
    cluster.sql("CREATE DATABASE scratch")

    def barrier(pid):
        # DROP DATABASE emits a ProcSignal barrier (smgr release) to every backend
        cluster.sql("DROP DATABASE scratch")
    elapsed, error = build_with(cluster, table_db, during=barrier)
    print(f"build with a ProcSignal barrier 0.5 s into linking: {elapsed:.2f} s, error: {error}")
    assert error is None


def test_copy_then_create_index_in_the_same_session(cluster):
    """COPY leaves statistics unflushed when it ends within a second of the
    previous flush, which arms the idle-stats timer (10 s). The session
    waits 9 s, so the timer fires early in the build; another session sees
    the flush (seq_scan of the table moves) while the build runs."""
    db = cluster.create_db("copy_then_build")
    rows = 100000
    flushed_during_build = []
    with cluster.connect(db) as conn:
        conn.execute(f"CREATE TABLE t (id int, v vector({DIMS}))")
        copy_vectors(conn, "t", random_vectors(rows, DIMS, seed=3))
        # a quick statement with pending stats right after COPY's flush
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == rows
        before = cluster.scalar("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 't'", db)
        time.sleep(9)
        assert cluster.scalar("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 't'", db) == before, \
            "statistics stayed pending while idle (the timer is armed)"
        pid = conn.info.backend_pid
        stop = threading.Event()

        def observe():
            if not linking_started(cluster, db, pid):
                return
            while not stop.is_set():
                now = cluster.scalar("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 't'", db)
                building = cluster.scalar("SELECT count(*) FROM pg_stat_progress_create_index WHERE pid = %s", db, (pid,))
                if now != before and building:
                    flushed_during_build.append(now)
                    return
                time.sleep(0.05)
        observer = threading.Thread(target=observe)
        observer.start()
        start = time.monotonic()
        error = None
        try:
            conn.execute(BUILD)
        except psycopg.Error as e:
            error = e
        elapsed = time.monotonic() - start
        stop.set()
        observer.join()
    print(f"COPY {rows} rows, then CREATE INDEX in the same session: {elapsed:.2f} s, error: {error}, "
          f"stats flushed during the build: {bool(flushed_during_build)}")
    assert error is None
    assert flushed_during_build, "the idle-stats timer fired during the build (the test exercised it)"
    assert cluster.scalar("SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> (SELECT v FROM t WHERE id = 1) LIMIT 5) s", db) == 5


def test_cancel_still_stops_the_build_promptly(cluster, table_db):
    cancelled_at, ended = [], []

    def cancel(pid):
        cancelled_at.append(time.monotonic())
        assert cluster.scalar("SELECT pg_cancel_backend(%s)", table_db, (pid,))
    elapsed, error = build_with(cluster, table_db, during=cancel, delay=1.0, ended=ended)
    assert cancelled_at, "the build reached the linking phase"
    took = ended[0] - cancelled_at[0]
    print(f"pg_cancel_backend 1 s into linking: error {error!r} within {took:.2f} s of the cancel")
    assert isinstance(error, psycopg.errors.QueryCanceled)
    assert "canceling statement due to user request" in str(error)
    assert took < 2, "the build stops within 2 s of the cancel"
    assert cluster.scalar("SELECT count(*) FROM pg_class WHERE relname = 't_v'", table_db) == 0
