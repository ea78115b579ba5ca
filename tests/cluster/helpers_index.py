"""Helpers for the index acceptance tests: data sets, fast loading, exact
k-NN, recall and plan shapes, and side-by-side pgvector databases.

pgvector (extension `pgvector` in the PostgreSQL under test, when installed)
is the reference: several tests build the same data in a second database with
pgvector and compare figures. The two extensions cannot share a database.
"""

import os
import re
import struct

import numpy as np
import pytest

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

# ---------------------------------------------------------------- databases


def has_pgvector(cluster):
    return bool(cluster.scalar("SELECT count(*) FROM pg_available_extensions WHERE name = 'pgvector'"))


def need_pgvector(cluster):
    if not has_pgvector(cluster):
        pytest.skip("extension pgvector is not installed in this PostgreSQL: no reference figures")


def ext_db(cluster, name, ext):
    """A fresh database `name` with extension `ext` ("vecstore" or "pgvector")."""
    if ext == "pgvector":
        need_pgvector(cluster)
    return cluster.create_db(name, extension=ext)


# ---------------------------------------------------------------- data


def random_data(n, dims, seed):
    return np.random.default_rng(seed).random((n, dims), dtype=np.float32)


def clustered_data(n, dims, seed, clusters=40, spread=0.05):
    """Gaussian blobs around uniform centres (what embeddings look like more
    than uniform noise does)."""
    rng = np.random.default_rng(seed)
    centres = rng.random((clusters, dims), dtype=np.float32)
    which = rng.integers(0, clusters, n)
    return (centres[which] + rng.normal(0, spread, (n, dims))).astype(np.float32)


def minilm_fixture():
    """Real 384-d sentence embeddings (all-MiniLM-L6-v2, unit norm): 3,000 base
    rows and 200 queries, stored as float16 (the values, widened back to
    float32, are what the tests index and query)."""
    with np.load(os.path.join(FIXTURES, "minilm-3k.npz")) as f:
        return f["base"].astype(np.float32), f["query"].astype(np.float32)


def vec_text(v):
    """Exact text form of a float32 vector (each float64 repr parses back to
    the same float32)."""
    return "[" + ",".join(repr(x) for x in np.asarray(v, dtype=np.float32).tolist()) + "]"


# ---------------------------------------------------------------- loading

_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)


def copy_rows(conn, table, ids, vecs, columns="id, v"):
    """COPY (id int4, v vector) rows in binary format, fast for 100k+ rows."""
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    n, dims = vecs.shape
    dt = np.dtype([("nf", ">i2"), ("l_id", ">i4"), ("id", ">i4"), ("l_v", ">i4"), ("dim", ">i2"),
                   ("unused", ">i2"), ("v", ">f4", (dims,))])
    rows = np.zeros(n, dtype=dt)
    rows["nf"] = 2
    rows["l_id"] = 4
    rows["id"] = np.asarray(ids, dtype=np.int64)
    rows["l_v"] = 4 + 4 * dims
    rows["dim"] = dims
    rows["v"] = vecs
    payload = _COPY_HEADER + rows.tobytes() + struct.pack(">h", -1)
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT binary)") as cp:
        for i in range(0, len(payload), 1 << 20):
            cp.write(payload[i:i + (1 << 20)])


def load_table(conn, table, vecs, ids=None, dims=None, extra=""):
    """CREATE TABLE `table` (id int, v vector(dims) [, extra]) and COPY rows."""
    dims = dims or vecs.shape[1]
    ids = np.arange(1, len(vecs) + 1) if ids is None else ids
    conn.execute(f"CREATE TABLE {table} (id int, v vector({dims}){', ' + extra if extra else ''})")
    copy_rows(conn, table, ids, vecs)


# ---------------------------------------------------------------- exact search and recall


def distances(data, q, metric="l2"):
    d = np.asarray(data, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if metric == "l2":
        return np.sqrt(((d - q) ** 2).sum(axis=1))
    if metric == "ip":
        return -(d @ q)
    if metric == "cosine":
        return 1 - (d @ q) / (np.linalg.norm(d, axis=1) * np.linalg.norm(q))
    raise ValueError(metric)


def tie_tolerant_hits(data_by_id, live_data, got_ids, q, k, metric="l2"):
    """Share of the exact top k found in `got_ids` (at most k, distinct, live
    ones count): a returned row is a hit when its exact distance is within the
    exact k-th distance, so duplicates and ties count as hits."""
    d = distances(live_data, q, metric)
    k = min(k, len(d))
    kth = np.partition(d, k - 1)[k - 1]
    tol = 1e-5 * max(abs(kth), 1e-3)
    got = [i for i in dict.fromkeys(got_ids) if i in data_by_id][:k]
    if not got:
        return 0.0
    dg = distances(np.array([data_by_id[i] for i in got]), q, metric)
    return int((dg <= kth + tol).sum()) / k


OPS = {"l2": "<->", "ip": "<#>", "cosine": "<=>"}


def index_ids(conn, table, q, k, ef_search=None, metric="l2"):
    """Ids of the index's top-k for `q` (the session must force the index)."""
    if ef_search is not None:
        conn.execute(f"SET hnsw.ef_search = {int(ef_search)}")
    rows = conn.execute(f"SELECT id FROM {table} ORDER BY v {OPS[metric]} %s::vector LIMIT {int(k)}",
                        (vec_text(q),)).fetchall()
    return [r[0] for r in rows]


def force_index(conn):
    conn.execute("SET enable_seqscan = off")
    conn.execute("SET enable_bitmapscan = off")


def recall(conn, table, ids, data, probes, k, ef_search, metric="l2"):
    """Mean tie-tolerant recall@k of the index over `probes` against the
    live rows (`ids`, `data`)."""
    force_index(conn)
    assert_uses_index(conn, f"SELECT id FROM {table} ORDER BY v {OPS[metric]} '{vec_text(probes[0])}' LIMIT {k}")
    by_id = dict(zip(ids.tolist(), data))
    total = 0.0
    for q in probes:
        got = index_ids(conn, table, q, k, ef_search, metric)
        total += tie_tolerant_hits(by_id, data, got, q, k, metric)
    return total / len(probes)


# ---------------------------------------------------------------- plans

_NODE = re.compile(r"^(?:\s*->\s*)?([A-Z][A-Za-z ]*?)(?: using (\S+))?(?: on (\S+))?(?:\s+\(.*\))?$")


def plan_nodes(conn, query):
    """EXPLAIN (COSTS OFF) as a list of (node kind, index name or None),
    outermost first; parallel variants and Gather nodes are folded away."""
    lines = [r[0] for r in conn.execute("EXPLAIN (COSTS OFF) " + query).fetchall()]
    nodes = []
    for i, line in enumerate(lines):
        if i > 0 and "->" not in line:
            continue
        m = _NODE.match(line.strip())
        if not m:
            continue
        kind = m.group(1).strip()
        if kind.startswith("Parallel "):
            kind = kind[len("Parallel "):]
        if kind in ("Gather", "Gather Merge"):
            continue
        index = m.group(2) if kind in ("Index Scan", "Index Only Scan") else (
            m.group(3) if kind == "Bitmap Index Scan" else None)
        nodes.append((kind, index))
    return nodes


def assert_uses_index(conn, query):
    nodes = plan_nodes(conn, query)
    assert any(k == "Index Scan" for k, _ in nodes), f"not an index scan: {nodes}"


# ---------------------------------------------------------------- robustness


def run_or_error(cluster, conn, fn, db):
    """Runs fn(conn) in a transaction; returns (conn, error text or None).
    A lost connection (server crash) is reported and replaced."""
    import psycopg

    try:
        with conn.transaction():
            fn(conn)
        return conn, None
    except psycopg.OperationalError as e:
        try:
            conn.close()
        except Exception:
            pass
        return cluster.connect(db), f"connection lost: {e}".strip()
    except psycopg.Error as e:
        return conn, str(e).strip().splitlines()[0]
