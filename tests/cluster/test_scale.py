"""Scale: 100,000 clustered 64-d rows (100 overlapping blobs; tightly
separated blobs make recall swing with how the build happens to link them),
COPY and CREATE INDEX (m = 16, ef_construction = 40) in one session,
then 2 inserting clients and 2 querying clients while 10 % of the rows are
deleted and VACUUM runs; at the end recall@10 at ef_search = 100 against
exact search, every sampled live row reachable, and a clean server log.

SCALE_EXT=pgvector runs the same scenario on pgvector (to recalibrate the
recall bar below); the default is vecstore.
"""

import os
import re
import threading
import time

import numpy as np
import psycopg

from helpers_index import assert_uses_index, clustered_data, copy_rows, ext_db, force_index, recall, vec_text

# autovacuum off: an autovacuum of t racing the explicit VACUUM would leave
# it nothing to do, and what is measured would change from run to run.
CLUSTER_CONF = {"maintenance_work_mem": "'512MB'", "autovacuum": "off", "max_wal_size": "'4GB'", "checkpoint_timeout": "'30min'"}

EXT = os.environ.get("SCALE_EXT", "vecstore")
N, DIMS = 100_000, 64
PER_INSERTER = 2_500
# pgvector 0.8.6 on exactly this scenario (SCALE_EXT=pgvector): recall@10 =
# 0.9935 (200 probes, ef_search 100, tie-tolerant), 3 of the 1,000 sampled
# live rows not found first at ef_search 1000, clean log, 60 s on a loaded
# 2-core machine (a second run: 0.9995, 0 of 1,000). The recall bar leaves
# ~0.02 below pgvector's lower figure for graph randomness. Every sampled live
# row must be reachable (found by a beam of 1,000, or failing that by an
# iterative scan filtered on its id).
RECALL_PGVECTOR = 0.9935
RECALL_BAR = 0.97


def data_set():
    both = clustered_data(N + 2 * PER_INSERTER + 200, DIMS, 64, clusters=100, spread=0.2)
    return both[:N], both[N:N + 2 * PER_INSERTER], both[N + 2 * PER_INSERTER:]


def deleted_ids():
    return np.random.default_rng(10).choice(np.arange(1, N + 1), N // 10, replace=False)


def delete_and_vacuum(cluster, db):
    """Deletes 10 % of the loaded rows and VACUUMs, while the other clients
    run; returns (index scans, dead items removed (rows pruned earlier count
    too), VACUUM VERBOSE report, start
    time, seconds taken)."""
    t1 = time.time()
    with cluster.connect(db) as conn:
        with conn.transaction():
            conn.execute("DELETE FROM t WHERE id = ANY(%s)", (deleted_ids().tolist(),))
            xid = int(conn.execute("SELECT pg_current_xact_id()::text").fetchone()[0])
        # The inserters' transactions are short but constant: one that began
        # before the DELETE committed would make every deleted row "recently
        # dead" and VACUUM would skip the index. Wait for them to end.
        for _ in range(600):
            if conn.execute("SELECT coalesce(bool_and(backend_xmin::text::bigint > %s), true) FROM pg_stat_activity "
                            "WHERE pid <> pg_backend_pid()", (xid,)).fetchone()[0]:
                break
            time.sleep(0.05)
        notices = []
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        conn.execute("VACUUM (VERBOSE) t")
    report = "\n".join(notices)
    m = re.search(r"index scans: (\d+)", report), re.search(r"had (\d+) dead item identifiers removed", report)
    return (int(m[0].group(1)) if m[0] else -1), (int(m[1].group(1)) if m[1] else -1), report, t1, time.time() - t1


def test_scale_concurrent_recall_and_reachability(cluster):
    db = ext_db(cluster, f"scale_{EXT}", EXT)
    base, extra, probes = data_set()
    t0 = time.time()
    with cluster.connect(db) as conn:
        conn.execute(f"CREATE TABLE t (id int PRIMARY KEY, v vector({DIMS}))")
        copy_rows(conn, "t", np.arange(1, N + 1), base)
        conn.execute("CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops) WITH (m = 16, ef_construction = 40)")
    t_build = time.time() - t0

    errors, stop = [], threading.Event()
    query_counts = [0, 0]

    def inserter(k):
        try:
            with cluster.connect(db) as c:
                for j in range(PER_INSERTER):
                    i = k * PER_INSERTER + j
                    c.execute("INSERT INTO t VALUES (%s, %s::vector)", (N + 1 + i, vec_text(extra[i])))
        except psycopg.Error as e:
            errors.append(f"inserter {k}: {e}")

    def querier(k):
        rng = np.random.default_rng(k)
        try:
            with cluster.connect(db) as c:
                force_index(c)
                while not stop.is_set():
                    q = probes[rng.integers(len(probes))]
                    rows = c.execute("SELECT id FROM t ORDER BY v <-> %s::vector LIMIT 10", (vec_text(q),)).fetchall()
                    if len(rows) != 10:
                        errors.append(f"querier {k}: {len(rows)} rows")
                    query_counts[k] += 1
                    time.sleep(0.02)  # 2 cores: leave room for the writers
        except psycopg.Error as e:
            errors.append(f"querier {k}: {e}")

    threads = [threading.Thread(target=inserter, args=(k,)) for k in range(2)]
    threads += [threading.Thread(target=querier, args=(k,)) for k in range(2)]
    for th in threads:
        th.start()
    try:
        index_scans, removed, report, t1, t_vacuum = delete_and_vacuum(cluster, db)
        for th in threads[:2]:
            th.join()
        t_inserts = time.time() - t1
    finally:
        stop.set()
        for th in threads:
            th.join()
    t_concurrent = time.time() - t1
    assert not errors, errors[:5]
    assert index_scans >= 1 and removed >= N // 10, f"VACUUM did not clean the index: {report}"
    deleted = deleted_ids()

    live_mask = np.ones(N + 2 * PER_INSERTER, dtype=bool)
    live_mask[deleted - 1] = False
    all_vecs = np.concatenate([base, extra])
    ids = np.arange(1, len(all_vecs) + 1)[live_mask]
    live = all_vecs[live_mask]
    with cluster.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == len(ids)
        r10 = recall(conn, "t", ids, live, probes, 10, 100)
        conn.execute("SET hnsw.ef_search = 1000")
        sample = np.random.default_rng(11).choice(len(ids), 1000, replace=False)
        not_first = []
        for s in sample:
            got = conn.execute("SELECT id, v <-> %s::vector FROM t ORDER BY v <-> %s::vector LIMIT 1",
                               (vec_text(live[s]), vec_text(live[s]))).fetchone()
            if got is None or (got[0] != ids[s] and got[1] != 0):
                not_first.append(s)
        # A row a beam of 1,000 misses may still be linked; an iterative scan
        # filtered on its id walks the graph until it meets the row (or has
        # seen every tuple): what it cannot find is unreachable.
        conn.execute("SET hnsw.iterative_scan = relaxed_order")
        conn.execute("SET hnsw.max_scan_tuples = 2000000")
        conn.execute("SET hnsw.scan_mem_multiplier = 100")
        missing = []
        for s in not_first:
            q = f"SELECT id FROM t WHERE id + 0 = {int(ids[s])} ORDER BY v <-> '{vec_text(live[s])}' LIMIT 1"
            if len(missing) == 0:
                assert_uses_index(conn, q)
            if conn.execute(q).fetchone() is None:
                missing.append(int(ids[s]))
    problems = cluster.log_problems()
    print(f"{EXT}: build {t_build:.0f}s, concurrent phase {t_concurrent:.0f}s "
          f"(delete + VACUUM {t_vacuum:.0f}s, inserts {t_inserts:.0f}s, {sum(query_counts)} queries), recall@10 {r10:.4f} (bar {RECALL_BAR}), "
          f"not found at ef_search 1000 {len(not_first)}, unreachable {len(missing)} of 1000 sampled, log problems {len(problems)}")
    assert not problems, problems[:5]
    assert not missing, f"unreachable live rows: {missing[:10]}"
    assert r10 >= RECALL_BAR


def test_build_survives_benign_interrupts(cluster):
    """A backend gets interrupts that are not cancellations (a memory-context
    dump request, the 10 s idle-statistics timer, catch-up signals): the old
    build treated any of them as a cancel and failed every build that ran
    longer than ~10 s in the session that loaded the rows with `hnsw build
    stopped without an interrupt` (XX000). Here another session asks the
    building backend for a memory-context dump while it builds."""
    db = ext_db(cluster, f"intr_{EXT}", EXT)
    data = clustered_data(30_000, DIMS, 5)
    with cluster.connect(db) as conn:
        conn.execute(f"CREATE TABLE t (id int, v vector({DIMS}))")
        copy_rows(conn, "t", np.arange(1, len(data) + 1), data)
    result = {}
    builder = cluster.connect(db)
    pid = builder.info.backend_pid

    def build():
        try:
            builder.execute("CREATE INDEX ON t USING hnsw (v vector_l2_ops)")
            result["ok"] = True
        except psycopg.Error as e:
            result["error"] = str(e).splitlines()[0]

    th = threading.Thread(target=build)
    th.start()
    signals = 0
    with cluster.connect() as other:
        while th.is_alive():
            building = other.execute("SELECT count(*) FROM pg_stat_progress_create_index WHERE pid = %s",
                                     (pid,)).fetchone()[0]
            if building:
                other.execute("SELECT pg_log_backend_memory_contexts(%s)", (pid,))
                signals += 1
            time.sleep(0.5)
    th.join()
    builder.close()
    print(f"{EXT}: {signals} memory-context requests during the build; result {result}")
    assert signals > 0, "the build ended before any request was sent"
    assert result.get("ok"), result
