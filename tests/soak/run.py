#!/usr/bin/env python3
"""Soak test on a throwaway cluster: 4 writers (insert / update / delete, one
row per transaction), 2 readers (ANN queries), a periodic VACUUM and an
immediate stop + restart (crash recovery) half-way through. At the end:
no acknowledged row is lost or resurrected and every acknowledged update is
there, the index agrees with a sequential scan at ef_search 1000 and finds
every row, and the server log has no ERROR, FATAL or PANIC apart from the
connection terminations the crash causes. Prints the counts; exit status 1
on any failure.

    bash tests/soak/run.sh [--minutes 2] [--dims 32] [--rows 5000]

Uses the throwaway-cluster harness of tests/cluster (PG_CONFIG names the
PostgreSQL, default Debian's 15, with vecstore installed).
"""

import argparse
import os
import sys
import threading
import time

import numpy as np
import psycopg

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster"))
from conftest import Cluster  # noqa: E402
from helpers import copy_vectors, random_vectors, unreachable_rows  # noqa: E402

WRITERS, READERS = 4, 2
# log lines an immediate stop and the restart legitimately cause
EXPECTED_LOG = (
    "terminating connection because of crash of another server process",
    "terminating connection due to immediate shutdown",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "connection to client lost",
)


def vec_text(v):
    return "[" + ",".join(repr(float(x)) for x in v) + "]"


class Writer(threading.Thread):
    """Owns the ids congruent to `n` modulo WRITERS; keeps the model of what
    the server acknowledged: id -> vector for rows present, plus deleted ids
    and ids whose last operation's outcome is unknown (in flight at the crash)."""

    def __init__(self, soak, n):
        super().__init__(name=f"writer-{n}")
        self.soak, self.n = soak, n
        self.rng = np.random.default_rng(1000 + n)
        self.present = {}
        self.deleted = set()
        self.doubtful = set()
        self.next_id = soak.args.rows + 1 + n
        self.counts = {"insert": 0, "update": 0, "delete": 0, "in_doubt": 0, "reconnects": 0}
        self.errors = []

    def op(self, conn):
        r = self.rng.random()
        ids = [i for i in self.present if i not in self.doubtful]
        v = self.rng.random(self.soak.args.dims, dtype=np.float32)
        if r < 0.5 or len(ids) < 10:
            i = self.next_id
            self.next_id += WRITERS
            kind = "insert"
            pending = (kind, i)
            self.doubtful.add(i)
            conn.execute("INSERT INTO t VALUES (%s, %s::vector)", (i, vec_text(v)))
            self.present[i] = v
        elif r < 0.75:
            i = ids[int(self.rng.integers(len(ids)))]
            kind = "update"
            pending = (kind, i)
            self.doubtful.add(i)
            cur = conn.execute("UPDATE t SET v = %s::vector WHERE id = %s", (vec_text(v), i))
            if cur.rowcount != 1:
                self.errors.append(f"update of acknowledged row {i} matched {cur.rowcount} rows")
            self.present[i] = v
        else:
            i = ids[int(self.rng.integers(len(ids)))]
            kind = "delete"
            pending = (kind, i)
            self.doubtful.add(i)
            cur = conn.execute("DELETE FROM t WHERE id = %s", (i,))
            if cur.rowcount != 1:
                self.errors.append(f"delete of acknowledged row {i} matched {cur.rowcount} rows")
            del self.present[i]
            self.deleted.add(i)
        self.doubtful.discard(pending[1])
        self.counts[kind] += 1

    def run(self):
        while not self.soak.stop.is_set():
            conn = self.soak.connect()
            if conn is None:
                continue
            try:
                with conn:
                    while not self.soak.stop.is_set():
                        self.op(conn)
            except psycopg.OperationalError:
                self.counts["in_doubt"] += 1  # the op in flight stays in `doubtful`
                self.counts["reconnects"] += 1
            except psycopg.Error as e:
                self.errors.append(f"{type(e).__name__}: {e}")
                time.sleep(0.1)


class Reader(threading.Thread):
    def __init__(self, soak, n):
        super().__init__(name=f"reader-{n}")
        self.soak, self.n = soak, n
        self.rng = np.random.default_rng(2000 + n)
        self.queries = 0
        self.short = 0
        self.errors = []

    def run(self):
        while not self.soak.stop.is_set():
            conn = self.soak.connect()
            if conn is None:
                continue
            try:
                with conn:
                    conn.execute("SET enable_seqscan = off")
                    while not self.soak.stop.is_set():
                        q = vec_text(self.rng.random(self.soak.args.dims, dtype=np.float32))
                        rows = conn.execute("SELECT id FROM t ORDER BY v <-> %s::vector LIMIT 10", (q,)).fetchall()
                        self.queries += 1
                        self.short += len(rows) < 10
            except psycopg.OperationalError:
                pass
            except psycopg.Error as e:
                self.errors.append(f"{type(e).__name__}: {e}")
                time.sleep(0.1)


class Soak:
    def __init__(self, args):
        self.args = args
        self.stop = threading.Event()
        self.cluster = Cluster("soak")
        self.db = None

    def connect(self):
        try:
            return self.cluster.connect(self.db, connect_timeout=5)
        except psycopg.OperationalError:
            time.sleep(0.2)
            return None

    def vacuum_loop(self, counts, errors):
        while not self.stop.wait(self.args.vacuum_every):
            try:
                self.cluster.sql("VACUUM t", self.db)
                counts["vacuum"] += 1
            except psycopg.OperationalError:
                pass
            except psycopg.Error as e:
                errors.append(f"VACUUM: {type(e).__name__}: {e}")

    def run(self):
        a = self.args
        c = self.cluster.start()
        self.db = c.create_db("soak")
        with c.connect(self.db) as conn:
            conn.execute(f"CREATE TABLE t (id int PRIMARY KEY, v vector({a.dims}))")
            base = random_vectors(a.rows, a.dims, seed=1)
            copy_vectors(conn, "t", base)
            conn.execute("CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops)")
        writers = [Writer(self, n) for n in range(WRITERS)]
        # the initial rows belong to the writers by id
        for i, v in enumerate(base, start=1):
            writers[i % WRITERS].present[i] = v
        readers = [Reader(self, n) for n in range(READERS)]
        counts, vac_errors = {"vacuum": 0}, []
        vacuum = threading.Thread(target=self.vacuum_loop, args=(counts, vac_errors))
        start = time.monotonic()
        for t in writers + readers + [vacuum]:
            t.start()
        duration = a.minutes * 60
        time.sleep(duration / 2)
        print(f"[{time.monotonic() - start:.0f} s] immediate stop", flush=True)
        c.crash()
        c.start()
        print(f"[{time.monotonic() - start:.0f} s] restarted after crash recovery", flush=True)
        time.sleep(max(0.0, duration - (time.monotonic() - start)))
        self.stop.set()
        for t in writers + readers + [vacuum]:
            t.join()
        print(f"[{time.monotonic() - start:.0f} s] workload stopped", flush=True)
        return self.verify(writers, readers, counts, vac_errors)

    def verify(self, writers, readers, counts, vac_errors):
        a, c, db = self.args, self.cluster, self.db
        failures = []
        t0 = time.monotonic()
        c.sql("VACUUM t", db)
        print(f"final VACUUM: {time.monotonic() - t0:.1f} s", flush=True)
        with c.connect(db) as conn:
            rows = {i: np.array([float(x) for x in s[1:-1].split(",")], dtype=np.float32)
                    for i, s in conn.execute("SELECT id, v::text FROM t")}
        lost, resurrected, wrong = [], [], []
        for w in writers:
            for i, v in w.present.items():
                if i in w.doubtful:
                    continue
                if i not in rows:
                    lost.append(i)
                elif not np.array_equal(rows[i], v):
                    wrong.append(i)
            resurrected += [i for i in w.deleted if i in rows and i not in w.doubtful]
        total = {k: sum(w.counts[k] for w in writers) for k in writers[0].counts}
        queries = sum(r.queries for r in readers)
        short = sum(r.short for r in readers)
        # the index against a sequential scan: 50 probes, top-10 distances
        mismatched = 0
        rng = np.random.default_rng(7)
        with c.connect(db) as conn:
            conn.execute("SET hnsw.ef_search = 1000")
            for _ in range(50):
                q = vec_text(rng.random(a.dims, dtype=np.float32))
                conn.execute("SET enable_seqscan = off; SET enable_indexscan = on")
                idx = conn.execute("SELECT round((v <-> %s::vector)::numeric, 5) FROM t ORDER BY v <-> %s::vector LIMIT 10",
                                   (q, q)).fetchall()
                conn.execute("SET enable_seqscan = on; SET enable_indexscan = off")
                seq = conn.execute("SELECT round((v <-> %s::vector)::numeric, 5) FROM t ORDER BY v <-> %s::vector LIMIT 10",
                                   (q, q)).fetchall()
                mismatched += idx != seq
        t0 = time.monotonic()
        stranded = unreachable_rows(c, db, "t")
        print(f"reachability of every row through the index: {time.monotonic() - t0:.1f} s", flush=True)
        problems = c.log_problems(allow=EXPECTED_LOG)
        errors = [e for w in writers for e in w.errors] + [e for r in readers for e in r.errors] + vac_errors
        print(f"writes acknowledged: {total['insert']} inserts, {total['update']} updates, {total['delete']} deletes; "
              f"in doubt at the crash: {total['in_doubt']}; reader queries: {queries} ({short} with fewer than 10 rows); "
              f"VACUUMs: {counts['vacuum']}")
        print(f"rows at the end: {len(rows)}; acknowledged rows lost: {len(lost)}; acknowledged deletes back: "
              f"{len(resurrected)}; acknowledged updates not there: {len(wrong)}; rows not found through the index: "
              f"{stranded}; probes where the index (ef_search 1000) disagrees with a sequential scan: {mismatched} of 50; "
              f"client errors: {len(errors)}; unexpected server log lines: {len(problems)}")
        for what, bad in (("lost", lost), ("resurrected", resurrected), ("wrong vector", wrong)):
            if bad:
                failures.append(f"{len(bad)} acknowledged rows {what}: {sorted(bad)[:20]}")
        if stranded:
            failures.append(f"{stranded} rows not found through the index")
        if mismatched:
            failures.append(f"{mismatched} probes disagree with the sequential scan")
        if errors:
            failures.append("client errors:\n  " + "\n  ".join(errors[:20]))
        if problems:
            failures.append("server log:\n  " + "\n  ".join(problems[:20]))
        if total["insert"] < 100 or queries < 100 or counts["vacuum"] < 1:
            failures.append("the workload did not run (too few operations)")
        return failures


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=2.0, help="duration of the workload (default 2)")
    p.add_argument("--dims", type=int, default=32)
    p.add_argument("--rows", type=int, default=5000, help="rows in the table when the index is built")
    p.add_argument("--vacuum-every", type=float, default=10.0, help="seconds between VACUUMs")
    p.add_argument("--keep", action="store_true", help="keep the cluster directory")
    args = p.parse_args()
    soak = Soak(args)
    failures = ["did not finish"]
    try:
        failures = soak.run()
    finally:
        if failures:
            print("FAILED:\n" + "\n".join(failures))
            print("server log tail:\n" + soak.cluster.log()[-2000:])
        if args.keep:
            soak.cluster.stop()
            print(f"cluster kept in {soak.cluster.dir}")
        else:
            soak.cluster.destroy()
    if not failures:
        print("soak test passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
