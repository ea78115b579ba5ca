"""Review of ivfflat: a corrupted page chain (an entry page or a list page
whose next link points back into its own chain) must give an ERROR, never
an endless loop (a scan that grows its batch until memory runs out, an
insert or a metadata read that no cancel can stop); a chain that runs into
a page of another kind is an ERROR in VACUUM as in scans and inserts. And
the memory a bit index's build takes, against maintenance_work_mem.
"""

import os
import signal
import struct
import threading

import psycopg
import pytest

BLOCK = 8192


def write_next(cluster, path, block, next_block):
    """Sets the `next` link in the special area of `block` (IvfOpaque is
    the last 8 bytes of the page: next u32, page id u16, kind u16)."""
    with open(os.path.join(cluster.data, path), "r+b") as f:
        f.seek(block * BLOCK + BLOCK - 8)
        f.write(struct.pack("<I", next_block))


def run_bounded(cluster, db, stmt, seconds=20, before=()):
    """Runs `stmt`; returns the exception it raised (None if it succeeded).
    A statement still running after `seconds` (no cancel could stop it) has
    its backend killed and fails the test."""
    out = {}
    conn = cluster.connect(db)
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    conn.execute("SET statement_timeout = '10s'")
    for b in before:
        conn.execute(b)

    def go():
        try:
            conn.execute(stmt)
            out["err"] = None
        except psycopg.Error as e:
            out["err"] = e

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        os.kill(pid, signal.SIGKILL)
        t.join(30)
        pytest.fail(f"{stmt!r} still running after {seconds}s (ignored statement_timeout)")
    conn.close()
    return out["err"]


@pytest.fixture
def cyclic(cluster, db):
    """lists = 1, 30 rows of vector(300): 6 entries a page, 5 full entry
    pages (blocks 2..6); the last one is linked back to the first."""
    with cluster.connect(db) as c:
        c.execute("CREATE TABLE t (id int, v vector(300))")
        c.execute("INSERT INTO t SELECT i, array_fill(i::real, ARRAY[300])::vector FROM generate_series(1, 30) i")
        c.execute("CREATE INDEX t_v ON t USING ivfflat (v) WITH (lists = 1)")
        path = c.execute("SELECT pg_relation_filepath('t_v')").fetchone()[0]
        nblocks = c.execute("SELECT pg_relation_size('t_v') / 8192").fetchone()[0]
        c.execute("CHECKPOINT")
    assert nblocks == 7
    cluster.stop()
    write_next(cluster, path, 6, 2)
    cluster.start()
    return db


def test_scan_of_cyclic_entry_chain_is_an_error(cluster, cyclic):
    err = run_bounded(cluster, cyclic, "SELECT id FROM t ORDER BY v <-> array_fill(1::real, ARRAY[300])::vector LIMIT 5",
                      before=["SET enable_seqscan = off"])
    assert isinstance(err, psycopg.errors.IndexCorrupted), err


def test_insert_into_cyclic_entry_chain_is_an_error(cluster, cyclic):
    err = run_bounded(cluster, cyclic, "INSERT INTO t VALUES (31, array_fill(31::real, ARRAY[300])::vector)")
    assert isinstance(err, psycopg.errors.IndexCorrupted), err


def test_cyclic_list_pages_are_an_error(cluster, db):
    """A list page linked to itself whose list tuples do not parse (the
    metapage says 5 dimensions, values of 20 bytes; the index has 4): an
    ERROR, not an endless read of the list pages."""
    with cluster.connect(db) as c:
        c.execute("CREATE TABLE t (id int, v vector(4))")
        c.execute("INSERT INTO t SELECT i, array[i, i, i, i] FROM generate_series(1, 100) i")
        c.execute("CREATE INDEX t_v ON t USING ivfflat (v) WITH (lists = 2)")
        path = c.execute("SELECT pg_relation_filepath('t_v')").fetchone()[0]
        c.execute("CHECKPOINT")
    cluster.stop()
    write_next(cluster, path, 1, 1)
    # IvfMeta after the 24-byte page header: magic, version, dims, lists, value_bytes
    with open(os.path.join(cluster.data, path), "r+b") as f:
        f.seek(24 + 8)
        f.write(struct.pack("<I", 5))
        f.seek(24 + 16)
        f.write(struct.pack("<I", 20))
    cluster.start()
    for before, stmt in (
        ("SET enable_seqscan = off", "SELECT id FROM t ORDER BY v <-> '[1,2,3,4,5]' LIMIT 5"),
        ("DELETE FROM t WHERE id < 10", "VACUUM t"),
    ):
        err = run_bounded(cluster, db, stmt, before=[before])
        assert isinstance(err, psycopg.errors.IndexCorrupted), err


def test_vacuum_of_list_with_foreign_page_is_an_error(cluster, db):
    """An entry chain that runs into a page of another kind: scans and
    inserts raise an ERROR there; VACUUM must too (it stopped at the page
    without a word, leaving the entries after it pointing at heap rows it
    then freed for reuse)."""
    with cluster.connect(db) as c:
        c.execute("CREATE TABLE t (id int, v vector(300)) WITH (autovacuum_enabled = off)")
        c.execute("INSERT INTO t SELECT i, array_fill(i::real, ARRAY[300])::vector FROM generate_series(1, 30) i")
        c.execute("CREATE INDEX t_v ON t USING ivfflat (v) WITH (lists = 1)")
        path = c.execute("SELECT pg_relation_filepath('t_v')").fetchone()[0]
        c.execute("CHECKPOINT")
    cluster.stop()
    # block 4 (third entry page) becomes a list page: kind u16 at the very end
    with open(os.path.join(cluster.data, path), "r+b") as f:
        f.seek(4 * BLOCK + BLOCK - 2)
        f.write(struct.pack("<H", 2))
    cluster.start()
    err = run_bounded(cluster, db, "VACUUM t", before=["DELETE FROM t"])
    assert isinstance(err, psycopg.Error) and "is not an entry page" in str(err), err


def peak_rss_kb(cluster, db, stmts):
    """The backend's max resident size (kB) after running `stmts`, from
    log_statement_stats (sent to the client as a LOG notice)."""
    seen = []
    with cluster.connect(db) as c:
        c.add_notice_handler(lambda d: seen.append(d.message_primary + "\n" + (d.message_detail or "")))
        c.execute("SET client_min_messages = log")
        for s in stmts[:-1]:
            c.execute(s)
        c.execute("SET log_statement_stats = on")
        c.execute(stmts[-1])
    sizes = [int(m) for n in seen for m in __import__("re").findall(r"(\d+) kB max resident size", n)]
    assert sizes, seen
    return max(sizes)


def test_bit_build_memory_stays_near_maintenance_work_mem(cluster):
    """2,000 rows of bit(64000), maintenance_work_mem = 100MB: pgvector's
    build peaks near 100 MB of resident memory; the same build must not need
    several times maintenance_work_mem (vecstore: over 500 MB, and about
    2.5 GB with the 10,000 samples the check allows)."""
    from helpers_index import ext_db

    stmts = [
        "CREATE TABLE bb (id int, v bit(64000))",
        "INSERT INTO bb SELECT i, ('x' || repeat(md5(i::text), 500))::bit(64000) FROM generate_series(1, 2000) i",
        "SET maintenance_work_mem = '100MB'",
        "CREATE INDEX ON bb USING ivfflat (v bit_hamming_ops) WITH (lists = 10)",
    ]
    ours = peak_rss_kb(cluster, ext_db(cluster, "rss_vecstore", "vecstore"), stmts)
    theirs = peak_rss_kb(cluster, ext_db(cluster, "rss_pgvector", "pgvector"), stmts)
    assert ours < 2 * theirs + 50 * 1024, (ours, theirs)


@pytest.fixture
def million(cluster, db):
    """1,000,000 rows of vector(1) in one list (lists = 1): a scan with
    probes = 1 has a million candidates."""
    with cluster.connect(db) as c:
        c.execute("CREATE TABLE m (id int, v vector(1))")
        c.execute("INSERT INTO m SELECT i, ARRAY[random()]::vector(1) FROM generate_series(1, 1000000) i")
        c.execute("CREATE INDEX m_v ON m USING ivfflat (v) WITH (lists = 1)")
        c.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
    return db


def test_scan_candidates_stay_within_work_mem(cluster, million):
    """A scan kept every candidate of the probed lists in memory (16 bytes
    each: 16-32 MB for a million rows, whatever work_mem says); pgvector
    sorts them with a tuplesort bounded by work_mem. With work_mem = 1MB
    the scan's resident memory must grow by far less than the candidates."""
    # the index pages are read (touched) first, so that only what the scan
    # keeps beside them counts
    stmts = [
        "SET work_mem = '1MB'",
        "SET enable_seqscan = off",
        "SELECT count(get_raw_page('m_v', b::int)) FROM generate_series(0, pg_relation_size('m_v') / 8192 - 1) b",
    ]
    before = peak_rss_kb(cluster, million, stmts)
    after = peak_rss_kb(cluster, million, stmts + ["SELECT id FROM m ORDER BY v <-> '[0.5]' LIMIT 10"])
    assert after - before < 8 * 1024, (before, after)


def test_scan_past_the_memory_bound_returns_every_row_in_order(cluster, db):
    """work_mem = 64kB holds about 2,000 candidates: a scan of 20,000 rows
    refills its batch from the same lists and still returns every row once,
    nearest first (ties included), as the exact order."""
    with cluster.connect(db) as c:
        c.execute("CREATE TABLE r (id int, v vector(2))")
        # 2,000 distinct points, 10 rows each: ties across every refill
        c.execute("INSERT INTO r SELECT i, ARRAY[(i % 2000) / 7.0, (i % 2000) % 13]::vector(2) FROM generate_series(1, 20000) i")
        c.execute("CREATE INDEX ON r USING ivfflat (v) WITH (lists = 4)")
        c.execute("SET work_mem = '64kB'")
        c.execute("SET ivfflat.probes = 4")
        c.execute("SET enable_seqscan = off")
        q = "SELECT id, v <-> '[100, 6]' FROM r ORDER BY v <-> '[100, 6]'"
        plan = "\n".join(r[0] for r in c.execute("EXPLAIN " + q).fetchall())
        assert "Index Scan" in plan, plan
        got = c.execute(q).fetchall()
        c.execute("SET enable_indexscan = off")
        c.execute("SET enable_seqscan = on")
        exact = c.execute(q).fetchall()
    assert len(got) == 20000
    assert sorted(r[0] for r in got) == list(range(1, 20001))
    assert [r[1] for r in got] == [r[1] for r in exact]
