"""Issue item 15: an hnsw build keeps its memory within
maintenance_work_mem plus a small constant.

50k x 1536-d rows (300 MB of vectors) with maintenance_work_mem = 512MB:
a second thread samples, every 50 ms while CREATE INDEX runs, the private
memory of the building backend (RssAnon, which includes its threads) plus
any parallel workers', plus the resident part of dynamic shared memory
segments (/dev/shm/PostgreSQL.*, where a parallel build may keep its graph);
shared buffers are not counted. The peak must stay within
maintenance_work_mem + 64 MB (baseline backend memory, allocator slack and
the heap-scan state). A build that passes the bound is cancelled at once
(the peak reported is then a lower bound).
"""

import glob
import os
import threading
import time

import psycopg

from helpers import copy_vectors, random_vectors

N, DIMS = 50000, 1536
MWM_MB = 512
SLACK_MB = 64
CLUSTER_CONF = {"shared_buffers": "128MB"}


def rss_anon_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def dsm_kb(pid):
    """Resident kB of each /dev/shm/PostgreSQL.* mapping of `pid`."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps") as f:
            current = None
            for line in f:
                if not line[0].isupper() or ":" not in line.split()[0]:
                    # a mapping header: "addr perms offset dev inode path"
                    parts = line.split()
                    current = parts[5] if len(parts) > 5 and parts[5].startswith("/dev/shm/PostgreSQL.") else None
                elif current and line.startswith("Rss:"):
                    out[current] = out.get(current, 0) + int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def parallel_workers(leader):
    pids = []
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                if f"parallel worker for PID {leader}".encode() in f.read():
                    pids.append(int(path.split("/")[2]))
        except OSError:
            pass
    return pids


def sample(leader):
    pids = [leader, *parallel_workers(leader)]
    anon = sum(rss_anon_kb(p) for p in pids)
    shm = {}
    for p in pids:
        for seg, kb in dsm_kb(p).items():
            shm[seg] = max(shm.get(seg, 0), kb)
    return anon, sum(shm.values()), len(pids) - 1


def test_build_memory_stays_within_maintenance_work_mem(cluster):
    db = cluster.create_db("memory")
    loading = time.monotonic()
    with cluster.connect(db) as conn:
        conn.execute(f"CREATE TABLE t (id int, v vector({DIMS}))")
        vecs = random_vectors(N, DIMS, seed=11)
        for i in range(0, N, 10000):
            copy_vectors(conn, "t", vecs[i:i + 10000], start_id=i + 1)
        del vecs
        conn.execute("VACUUM ANALYZE t")
    loading = time.monotonic() - loading
    bound_kb = (MWM_MB + SLACK_MB) * 1024
    with cluster.connect(db) as conn:
        conn.execute(f"SET maintenance_work_mem = '{MWM_MB}MB'")
        notices = []
        conn.add_notice_handler(lambda n: notices.append(n.message_primary))
        pid = conn.info.backend_pid
        baseline = rss_anon_kb(pid)
        peak = {"total": 0, "anon": 0, "shm": 0, "workers": 0}
        over = threading.Event()
        done = threading.Event()

        def monitor():
            while not done.is_set():
                anon, shm, workers = sample(pid)
                if anon + shm > peak["total"]:
                    peak.update(total=anon + shm, anon=anon, shm=shm)
                peak["workers"] = max(peak["workers"], workers)
                if anon + shm > bound_kb and not over.is_set():
                    over.set()  # past the bound: no need to wait for the end
                    cluster.sql("SELECT pg_cancel_backend(%s)", params=(pid,))
                time.sleep(0.05)

        watcher = threading.Thread(target=monitor)
        watcher.start()
        start = time.monotonic()
        error = None
        try:
            conn.execute("CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops) WITH (m = 16, ef_construction = 32)")
        except psycopg.Error as e:
            error = e
        elapsed = time.monotonic() - start
        done.set()
        watcher.join()
    mb = lambda kb: kb / 1024  # noqa: E731
    print(f"loading {N} rows: {loading:.1f} s; build of {N} x {DIMS}-d with maintenance_work_mem = {MWM_MB}MB: {elapsed:.1f} s"
          f"{' (cancelled: over the bound)' if over.is_set() else ''}, error: {error}; "
          f"backend private memory before the build {mb(baseline):.0f} MB; peak {mb(peak['total']):.0f} MB "
          f"(private {mb(peak['anon']):.0f} MB, dynamic shared memory {mb(peak['shm']):.0f} MB, "
          f"{peak['workers']} parallel workers); bound {MWM_MB} + {SLACK_MB} MB")
    assert peak["total"] <= bound_kb, "peak build memory within maintenance_work_mem + 64 MB"
    assert error is None
    assert not [n for n in notices if "no longer fits" in n], "the graph fits in maintenance_work_mem (no overflow)"
