"""Shared checks for the cluster tests: fast loading of vectors, index
consistency probes (reachability, agreement with exact search, recall) and
pgbench. Everything takes a `conftest.Cluster` and a database name."""

import os
import struct
import subprocess
import tempfile
import time

import numpy as np

from conftest import BINDIR, SUPERUSER

_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)


def random_vectors(n, dims, seed=0):
    """Uniform [0, 1) float32 vectors, reproducible."""
    return np.random.default_rng(seed).random((n, dims), dtype=np.float32)


def copy_payload(vectors, start_id=1):
    """A binary COPY stream of rows (id int4, v vector) for `vectors`."""
    n, dims = vectors.shape
    row = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("id", ">i4"), ("l2", ">i4"), ("dim", ">i2"), ("unused", ">i2"),
                    ("v", ">f4", (dims,))])
    rows = np.zeros(n, dtype=row)
    rows["nf"] = 2
    rows["l1"] = 4
    rows["id"] = np.arange(start_id, start_id + n)
    rows["l2"] = 4 + 4 * dims
    rows["dim"] = dims
    rows["v"] = vectors
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


def copy_vectors(conn, table, vectors, start_id=1, columns="id, v"):
    """Loads `vectors` into `table` (columns id int, v vector) by binary COPY."""
    data = copy_payload(vectors, start_id)
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT binary)") as cp:
        for i in range(0, len(data), 1 << 22):
            cp.write(data[i:i + (1 << 22)])


def load_table(cluster, db, table, vectors, start_id=1):
    """CREATE TABLE table (id int PRIMARY KEY, v vector(d)) filled with `vectors`."""
    with cluster.connect(db) as conn:
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v vector({vectors.shape[1]}))")
        copy_vectors(conn, table, vectors, start_id)
        conn.execute(f"VACUUM ANALYZE {table}")


def unreachable_rows(cluster, db, table, ef_search=1000, where="true"):
    """Rows (matching `where`) not among the 5 index-scan results
    (ef_search 1000) for their own vector. A first pass at ef_search 40
    clears the rows it finds (found means reachable), so only the few others
    pay for the wide search."""
    not_found = f"""NOT EXISTS (SELECT 1 FROM (SELECT id FROM {table} t2 ORDER BY t2.v <-> t.v LIMIT 5) s
                                WHERE s.id = t.id)"""
    with cluster.connect(db) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET hnsw.ef_search = 40")
        suspects = [r[0] for r in conn.execute(f"SELECT id FROM {table} t WHERE ({where}) AND {not_found}")]
        if not suspects:
            return 0
        conn.execute(f"SET hnsw.ef_search = {ef_search}")
        return conn.execute(f"SELECT count(*) FROM {table} t WHERE id = ANY(%s) AND {not_found}", (suspects,)).fetchone()[0]


def probe_vectors(dims, n=20, seed=12345):
    return [("[" + ",".join(f"{x:.6f}" for x in q) + "]") for q in random_vectors(n, dims, seed)]


def mismatched_queries(cluster, db, table, dims, probes=20, k=10, ef_search=1000, seed=12345):
    """For how many random probes the index's top-k distances (ef_search
    1000, index scan forced) differ from exact search's."""
    bad = 0
    with cluster.connect(db) as conn:
        conn.execute(f"SET hnsw.ef_search = {ef_search}")
        for q in probe_vectors(dims, probes, seed):
            conn.execute("SET enable_seqscan = off")
            idx = conn.execute(
                f"SELECT round((v <-> %s::vector)::numeric, 5) FROM {table} ORDER BY v <-> %s::vector LIMIT {k}", (q, q)
            ).fetchall()
            conn.execute("SET enable_indexscan = off")
            conn.execute("SET enable_seqscan = on")
            exact = conn.execute(
                f"SELECT round((v <-> %s::vector)::numeric, 5) FROM {table} ORDER BY v <-> %s::vector LIMIT {k}", (q, q)
            ).fetchall()
            conn.execute("RESET enable_indexscan")
            bad += idx != exact
    return bad


def recall_pct(cluster, db, table, dims, probes=20, k=10, ef_search=200, seed=4242):
    """recall@k in percent of the index against exact search."""
    hits = 0
    with cluster.connect(db) as conn:
        conn.execute(f"SET hnsw.ef_search = {ef_search}")
        for q in probe_vectors(dims, probes, seed):
            conn.execute("SET enable_seqscan = off")
            idx = {r[0] for r in conn.execute(f"SELECT id FROM {table} ORDER BY v <-> %s::vector LIMIT {k}", (q,))}
            conn.execute("SET enable_seqscan = on; SET enable_indexscan = off")
            exact = {r[0] for r in conn.execute(f"SELECT id FROM {table} ORDER BY v <-> %s::vector LIMIT {k}", (q,))}
            conn.execute("RESET enable_indexscan")
            hits += len(idx & exact)
    return 100 * hits // (probes * k)


def uses_index(cluster, db, query, index):
    with cluster.connect(db) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (COSTS OFF) " + query))
    return f"Index Scan using {index}" in plan


def pgbench(cluster, db, script, clients, transactions=None, seconds=None, extra=(), background=False):
    """Runs pgbench with a custom script; returns the CompletedProcess (or
    the Popen when `background`), stdout and stderr captured."""
    fd, path = tempfile.mkstemp(suffix=".sql", prefix="pgbench-")
    with os.fdopen(fd, "w") as f:
        f.write(script)
    os.chmod(path, 0o644)
    cmd = [f"{BINDIR}/pgbench", "-n", "-h", cluster.host, "-p", str(cluster.port), "-U", SUPERUSER,
           "-c", str(clients), "-j", str(clients), "-f", path, *extra]
    cmd += ["-t", str(transactions)] if transactions else ["-T", str(seconds)]
    cmd.append(db)
    if background:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, capture_output=True, text=True)


def wait_for(predicate, timeout=30, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None
