"""Adversarial review of the build/scan speed work merged as bspeed (16-bit
search copies in CREATE INDEX), qspeed (sq8 AVX2 kernels, hop prefetch) and
ivf (an ivfflat scan holding at most what work_mem allows, refilled from the
same lists past the last row returned).

Each test states the hazard it probes; answers are checked against exact
search (numpy, or vecstore's own sequential scan).
"""

import threading
import time

import numpy as np
import psycopg
import pytest

from test_build_memory import sample
from helpers_index import assert_uses_index, clustered_data, copy_rows, distances, ext_db, force_index, load_table, need_pgvector, vec_text

CLUSTER_CONF = {"shared_buffers": "128MB"}


def lowrank_data(n, dims, draws, clusters=40, sub=6, structure=1):
    """Blobs each spread over its own random `sub`-dimensional subspace (as
    real embeddings are: nearest neighbours mean something), the blobs fixed
    by `structure`, the points by `draws`."""
    rng = np.random.default_rng(structure)
    centres = rng.normal(size=(clusters, dims))
    bases = rng.normal(size=(clusters, sub, dims))
    d = np.random.default_rng(draws)
    which = d.integers(0, clusters, n)
    z = 0.3 * d.normal(size=(n, sub))
    return (centres[which] + np.einsum("ns,nsd->nd", z, bases[which])).astype(np.float32)


def recall_at(conn, table, data, queries, k, metric="l2", op="<->"):
    """Mean recall@k (ties at the k-th distance count) of index scans."""
    hits = 0
    for q in queries:
        d = distances(data, q, metric)
        kth = np.sort(d)[k - 1]
        got = [r[0] for r in conn.execute(f"SELECT id FROM {table} ORDER BY v {op} %s::vector LIMIT {k}", (vec_text(q),))]
        hits += sum(1 for i in got if d[i - 1] <= kth + 1e-6 * abs(kth) + 1e-12)
    return hits / (k * len(queries))


# ---------------------------------------------------------------- 16-bit build copies


@pytest.mark.parametrize("metric,op,opclass,case", [
    ("l2", "<->", "vector_l2_ops", "huge"),
    ("ip", "<#>", "vector_ip_ops", "huge"),
    ("l2", "<->", "vector_l2_ops", "offset"),
    ("ip", "<#>", "vector_ip_ops", "offset"),
    ("l2", "<->", "vector_l2_ops", "groups"),
])
def test_build_copies_keep_recall_at_extreme_magnitudes(cluster, metric, op, opclass, case):
    """The build's half-precision copies share one scale: a single row with
    a 1e15 component ("huge") flushed every other row's copy to zeros, and
    a common offset of 1e4 over a spread of about 1 ("offset") left half
    precision a step of 8; either way the build's searches ran blind
    (before the fix, recall@10 0.814 -> 0.122 for l2 and 0.922 -> 0.172 for
    ip with the huge row, 0.814 -> 0.138 for l2 with the offset); with
    every other row 1e4 away ("groups") one scale cannot suit both groups.
    20k rows of vector(64) built with and without
    the change (a serial build is reproducible): recall@10 must not drop."""
    data = lowrank_data(20000, 64, draws=5)
    queries = lowrank_data(50, 64, draws=6)
    got = {}
    for changed in (False, True):
        db = cluster.create_db(f"{case}_{metric}_{int(changed)}")
        rows, qs = data.copy(), queries.copy()
        if changed and case == "huge":
            rows[123, 7] = 1e15
        if changed and case == "offset":
            rows += 1e4
            qs += 1e4
        if changed and case == "groups":
            rows[1::2] += 1e4
            qs[1::2] += 1e4
        with cluster.connect(db) as conn:
            load_table(conn, "t", rows)
            conn.execute("SET max_parallel_maintenance_workers = 0")
            conn.execute(f"CREATE INDEX ON t USING hnsw (v {opclass}) WITH (m = 8, ef_construction = 40)")
            force_index(conn)
            conn.execute("SET hnsw.ef_search = 40")
            got[changed] = recall_at(conn, "t", rows, qs, 10, metric, op)
    print(f"{metric} {case}: recall@10 {got[False]:.3f}, changed {got[True]:.3f}")
    assert got[True] >= got[False] - 0.03


def test_zero_vectors_and_negative_values_build(cluster):
    """Cosine over rows that include zero vectors (no distance: not
    indexed, as pgvector) and inner product over negative values: the
    build's copies must neither fail nor lose recall against pgvector's
    build of the same rows (same parameters)."""
    need_pgvector(cluster)
    data = lowrank_data(6000, 96, draws=8)
    data[::50] = 0.0
    queries = lowrank_data(100, 96, draws=9)
    live = np.linalg.norm(data, axis=1) > 0
    got = {}
    for ext in ("vecstore", "pgvector"):
        db = ext_db(cluster, f"zeros_{ext}", ext)
        with cluster.connect(db) as conn:
            load_table(conn, "t", data)
            conn.execute("CREATE INDEX tc ON t USING hnsw (v vector_cosine_ops)")
            conn.execute("CREATE INDEX ti ON t USING hnsw (v vector_ip_ops)")
            force_index(conn)
            conn.execute("SET hnsw.ef_search = 40")
            hits = 0
            for q in queries:
                d = distances(data, q, "cosine")
                d[~live] = np.inf
                kth = np.sort(d)[9]
                ids = [r[0] for r in conn.execute("SELECT id FROM t ORDER BY v <=> %s::vector LIMIT 10", (vec_text(q),))]
                assert all(live[i - 1] for i in ids)
                hits += sum(1 for i in ids if d[i - 1] <= kth + 1e-9)
            got[ext] = (hits / (10 * len(queries)), recall_at(conn, "t", data, queries, 10, "ip", "<#>"))
    print(f"recall@10 (cosine, ip): vecstore {got['vecstore']}, pgvector {got['pgvector']}")
    assert got["vecstore"][0] >= got["pgvector"][0] - 0.03
    assert got["vecstore"][1] >= got["pgvector"][1] - 0.03


# ---------------------------------------------------------------- ivfflat scans bounded by work_mem


def ivf_table(conn, n, dims, seed, lists, tie_rows=0):
    """Rows of vector(dims); the last `tie_rows` rows all lie at one distance
    from the origin query (a unit vector along different axes, times 3)."""
    data = np.random.default_rng(seed).random((n, dims), dtype=np.float32)
    for j in range(tie_rows):
        data[n - tie_rows + j] = 0
        data[n - tie_rows + j, j % dims] = 3.0 if j % 2 else -3.0
    load_table(conn, "t", data)
    conn.execute(f"CREATE INDEX t_v ON t USING ivfflat (v) WITH (lists = {lists})")
    return data


def check_full_order(rows, data, q):
    """Every row exactly once, distances nondecreasing and equal to the exact
    ones (ties in any order)."""
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) == len(data), (len(ids), len(set(ids)), len(data))
    d = distances(data, q)
    got = np.array([r[1] for r in rows])
    assert np.all(np.diff(got) >= 0), "index order"
    assert np.allclose(got, d[np.array(ids) - 1], rtol=1e-6, atol=1e-6)
    assert np.allclose(got, np.sort(d), rtol=1e-6, atol=1e-6)


def test_ivfflat_full_scan_at_64kb_work_mem(cluster):
    """work_mem = 64kB with 100k rows and probes = lists: the batch holds a
    few thousand rows, so the scan refills dozens of times; 5,000 rows tie
    at one distance across refill boundaries. Every row comes once, in
    exact order."""
    db = cluster.create_db("ivf64k")
    n, dims = 100000, 8
    q = np.zeros(dims, dtype=np.float32)
    with cluster.connect(db) as conn:
        data = ivf_table(conn, n, dims, seed=3, lists=10, tie_rows=5000)
        force_index(conn)
        conn.execute("SET work_mem = '64kB'")
        conn.execute("SET ivfflat.probes = 10")
        sql = "SELECT id, v <-> %s::vector FROM t ORDER BY v <-> %s::vector"
        assert_uses_index(conn, f"SELECT id FROM t ORDER BY v <-> '{vec_text(q)}'::vector")
        rows = conn.execute(sql, (vec_text(q), vec_text(q))).fetchall()
        check_full_order(rows, data, q)
        # LIMIT with a large OFFSET lands past many refills
        page = conn.execute(sql + " LIMIT 7 OFFSET 61234", (vec_text(q), vec_text(q))).fetchall()
        assert [r[1] for r in page] == pytest.approx([r[1] for r in rows[61234:61241]], rel=1e-6)


def test_ivfflat_massive_ties_at_64kb_work_mem(cluster):
    """Hamming distances of bit(16) take 17 values, so tens of thousands of
    rows tie at each: every refill boundary falls inside a tie, resolved
    by heap TID. Each row comes once, distances nondecreasing and exact.
    (A NULL query is folded by the planner: no index scan.)"""
    db = cluster.create_db("ivfties")
    n = 60000
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2, (n, 16))
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE b (id int, v bit(16))")
        with conn.cursor() as cur, cur.copy("COPY b (id, v) FROM STDIN") as cp:
            for i, row in enumerate(bits, 1):
                cp.write_row((i, "".join(map(str, row))))
        conn.execute("CREATE INDEX ON b USING ivfflat (v bit_hamming_ops) WITH (lists = 4)")
        force_index(conn)
        conn.execute("SET work_mem = '64kB'")
        conn.execute("SET ivfflat.probes = 4")
        q = "0101010101010101"
        assert_uses_index(conn, f"SELECT id FROM b ORDER BY v <~> '{q}'::bit(16)")
        rows = conn.execute("SELECT id, v <~> %s::bit(16) FROM b ORDER BY v <~> %s::bit(16)", (q, q)).fetchall()
        ids = [r[0] for r in rows]
        assert len(ids) == len(set(ids)) == n
        want = (bits != np.array([int(c) for c in q])).sum(axis=1)
        got = np.array([r[1] for r in rows])
        assert np.all(np.diff(got) >= 0)
        assert np.array_equal(got, want[np.array(ids) - 1])
        ids = [r[0] for r in conn.execute("SELECT id FROM b ORDER BY v <~> NULL::bit(16)")]
        assert sorted(ids) == list(range(1, n + 1))


def test_ivfflat_relaxed_order_with_max_probes_returns_each_row_once(cluster):
    """relaxed_order batches of `probes` lists, each bounded by work_mem:
    no row twice, exactly the rows of the max_probes nearest lists."""
    db = cluster.create_db("ivfrelaxed")
    n, dims = 30000, 8
    q = np.full(dims, 0.5, dtype=np.float32)
    with cluster.connect(db) as conn:
        data = ivf_table(conn, n, dims, seed=4, lists=20)
        force_index(conn)
        conn.execute("SET work_mem = '64kB'")
        conn.execute("SET ivfflat.probes = 2")
        conn.execute("SET ivfflat.iterative_scan = relaxed_order")
        conn.execute("SET ivfflat.max_probes = 7")
        rows = conn.execute("SELECT id, v <-> %s::vector FROM t ORDER BY v <-> %s::vector", (vec_text(q), vec_text(q))).fetchall()
        ids = [r[0] for r in rows]
        assert len(ids) == len(set(ids))
        assert 0 < len(ids) < n
        conn.execute("SET ivfflat.max_probes = 20")
        ids = [r[0] for r in conn.execute("SELECT id FROM t ORDER BY v <-> %s::vector", (vec_text(q),))]
        assert sorted(ids) == list(range(1, n + 1))
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            conn.execute("SET ivfflat.iterative_scan = strict_order")


def test_ivfflat_cursor_with_concurrent_inserts_deletes_and_vacuum(cluster):
    """A cursor reads past several refills while another session inserts
    rows into the probed lists (nearer and farther than the cursor's
    position), deletes rows and vacuums: the cursor returns each of its
    snapshot's rows once, in order; a backward fetch is refused."""
    db = cluster.create_db("ivfcursor")
    n, dims = 40000, 8
    q = np.zeros(dims, dtype=np.float32)
    with cluster.connect(db) as conn, cluster.connect(db) as other:
        data = ivf_table(conn, n, dims, seed=5, lists=4, tie_rows=3000)
        conn.execute("ALTER TABLE t SET (autovacuum_enabled = off)")
        conn.execute("DELETE FROM t WHERE id % 7 = 0")
        conn.execute("VACUUM t")
        keep = np.array([i % 7 != 0 for i in range(1, n + 1)])
        force_index(conn)
        conn.execute("SET work_mem = '64kB'")
        conn.execute("SET ivfflat.probes = 4")
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        conn.execute("DECLARE c NO SCROLL CURSOR FOR SELECT id, v <-> %s::vector FROM t ORDER BY v <-> %s::vector",
                     (vec_text(q), vec_text(q)))
        rows = []
        rng = np.random.default_rng(9)
        nxt = n + 1
        while True:
            got = conn.execute("FETCH 3000 FROM c").fetchall()
            if not got:
                break
            rows += got
            new = rng.random((500, dims), dtype=np.float32) * rng.random()
            copy_rows(other, "t", np.arange(nxt, nxt + 500), new)
            nxt += 500
            other.execute("DELETE FROM t WHERE id %% 11 = %s", (len(rows) % 11,))
            other.execute("VACUUM t")
        conn.execute("COMMIT")
        ids = [r[0] for r in rows]
        assert len(ids) == len(set(ids))
        want = np.arange(1, n + 1)[keep]
        assert sorted(ids) == want.tolist()
        d = distances(data, q)
        got = np.array([r[1] for r in rows])
        assert np.all(np.diff(got) >= 0)
        assert np.allclose(got, d[np.array(ids) - 1], rtol=1e-6, atol=1e-6)
        conn.execute("BEGIN")
        conn.execute("DECLARE s SCROLL CURSOR FOR SELECT id FROM t ORDER BY v <-> %s::vector", (vec_text(q),))
        conn.execute("FETCH 5 FROM s")
        back = conn.execute("FETCH BACKWARD 2 FROM s").fetchall()
        conn.execute("COMMIT")
        assert len(back) == 2


# ---------------------------------------------------------------- build memory


@pytest.mark.parametrize("mwm_mb,workers", [(1, 0), (64, 0), (64, 2)])
def test_build_memory_with_small_maintenance_work_mem(cluster, mwm_mb, workers):
    """100k rows of vector(128) (51 MB of vectors: the 16-bit copies add
    half as much again) built with maintenance_work_mem 1MB and 64MB,
    serial and with two parallel workers: the peak private memory of the
    backend and its workers (sampled every 20 ms) stays within
    maintenance_work_mem + 64 MB."""
    db = "mem"
    n, dims = 100000, 128
    with cluster.connect() as c:
        fresh = not c.execute("SELECT 1 FROM pg_database WHERE datname = 'mem'").fetchone()
    if fresh:
        cluster.create_db(db)
        with cluster.connect(db) as conn:
            load_table(conn, "t", clustered_data(n, dims, seed=12, clusters=100, spread=0.1))
            conn.execute("VACUUM ANALYZE t")
    with cluster.connect(db) as conn:
        conn.execute("DROP INDEX IF EXISTS t_v")
        conn.execute(f"SET maintenance_work_mem = '{mwm_mb}MB'")
        conn.execute(f"SET max_parallel_maintenance_workers = {workers}")
        conn.execute("ALTER TABLE t SET (parallel_workers = %s)" % max(workers, 1))
        pid = conn.info.backend_pid
        base, _, _ = sample(pid)
        peak = {"kb": 0, "workers": 0}
        done = threading.Event()

        def watch():
            while not done.is_set():
                anon, shm, w = sample(pid)
                peak["kb"] = max(peak["kb"], anon + shm)
                peak["workers"] = max(peak["workers"], w)
                time.sleep(0.02)

        t = threading.Thread(target=watch)
        t.start()
        start = time.monotonic()
        try:
            conn.execute("CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32)")
        finally:
            done.set()
            t.join()
        secs = time.monotonic() - start
    print(f"maintenance_work_mem {mwm_mb}MB, {workers} workers requested ({peak['workers']} seen): "
          f"{secs:.1f} s, backend before {base / 1024:.0f} MB, peak {peak['kb'] / 1024:.0f} MB")
    assert peak["kb"] <= (mwm_mb + 64 + 32 * peak["workers"]) * 1024


# ---------------------------------------------------------------- hop prefetch under eviction


def test_hop_prefetch_with_tiny_shared_buffers_and_concurrent_writers(make_cluster):
    """A hop prefetches line pointers and tuples through the buffer a page
    was last seen in, before pinning it: with shared_buffers = 1MB (128
    buffers) those buffers are evicted and reused all the time. Writers
    insert and delete rows far from the queries (their back-links rewrite
    the lists of the rows the queries find), VACUUM runs in a loop, and
    readers check every answer: no error, no crash, distances exact and in
    order, recall@10 against numpy over the stable rows."""
    tiny = make_cluster(name="tinybuf", conf={"shared_buffers": "1MB", "max_connections": "30"})
    db = tiny.create_db("churn")
    s_rows, dims = 6000, 64
    data = lowrank_data(s_rows, dims, draws=21)
    queries = lowrank_data(60, dims, draws=22)
    with tiny.connect(db) as conn:
        load_table(conn, "t", data)
        conn.execute("ALTER TABLE t SET (autovacuum_enabled = off)")
        conn.execute("CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 40)")
    with tiny.connect(db) as conn:
        force_index(conn)
        conn.execute("SET hnsw.ef_search = 64")
        quiet = recall_at(conn, "t", data, queries, 10)
    stop = threading.Event()
    errors = []
    stats = {"queries": 0, "hits": 0, "writes": 0, "vacuums": 0}

    def writer(seed):
        rng = np.random.default_rng(seed)
        try:
            with tiny.connect(db) as c:
                nxt = 1000000 * seed
                while not stop.is_set():
                    rows = rng.random((100, dims), dtype=np.float32) + 3.0
                    copy_rows(c, "t", np.arange(nxt, nxt + 100), rows)
                    nxt += 100
                    c.execute("DELETE FROM t WHERE id >= %s AND id < %s AND id %% 3 = 0", (1000000 * seed, nxt))
                    stats["writes"] += 1
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    def vacuum():
        try:
            with tiny.connect(db) as c:
                while not stop.is_set():
                    c.execute("VACUUM t")
                    stats["vacuums"] += 1
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    def reader(seed):
        rng = np.random.default_rng(seed)
        try:
            with tiny.connect(db) as c:
                force_index(c)
                c.execute("SET hnsw.ef_search = 64")
                while not stop.is_set():
                    q = queries[rng.integers(len(queries))]
                    got = c.execute("SELECT id, v <-> %s::vector FROM t ORDER BY v <-> %s::vector LIMIT 10",
                                    (vec_text(q), vec_text(q))).fetchall()
                    d = distances(data, q)
                    kth = np.sort(d)[9]
                    dist = [r[1] for r in got]
                    assert len(got) == 10 and dist == sorted(dist), got
                    for i, x in got:
                        assert i <= s_rows, f"a far row {i} among the nearest"
                        assert abs(x - d[i - 1]) <= 1e-5 * max(1.0, d[i - 1]), (i, x, d[i - 1])
                    stats["hits"] += sum(1 for i, _ in got if d[i - 1] <= kth + 1e-6)
                    stats["queries"] += 1
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=writer, args=(k,)) for k in (1, 2)]
    threads += [threading.Thread(target=vacuum)]
    threads += [threading.Thread(target=reader, args=(k,)) for k in (3, 4)]
    for t in threads:
        t.start()
    time.sleep(25)
    stop.set()
    for t in threads:
        t.join(120)
    print(stats, f"recall@10 {stats['hits'] / (10 * max(1, stats['queries'])):.3f}, without writers {quiet:.3f}")
    assert not errors, errors[:3]
    assert not tiny.log_problems(), tiny.log_problems()[:5]
    assert stats["queries"] > 50 and stats["writes"] > 5 and stats["vacuums"] > 2, stats
    assert stats["hits"] / (10 * stats["queries"]) >= quiet - 0.05, (stats, quiet)
