"""Adversarial review of the scan speed change (e040034..3fe9e43): hop pages
pinned in windows and found through ReadRecentBuffer hints, memory kept by
the backend between statements, far elements deferred by StreamSearch.

Each test states the hazard it probes. Small data: every test runs in a few
seconds.
"""

import os
import struct

import numpy as np
import psycopg
import pytest

from helpers_index import clustered_data, distances, force_index, load_table, minilm_fixture, random_data, vec_text

CLUSTER_CONF = {"shared_buffers": "16MB"}


def ids_of(conn, sql, params=()):
    return [r[0] for r in conn.execute(sql, params).fetchall()]


def test_temp_and_unlogged_indexes_answer_exactly(cluster):
    """Temporary indexes live in local buffers (negative Buffer numbers):
    hints and ReadRecentBuffer must not be used for them, or used safely.
    A backend alternates temporary, unlogged and permanent indexes, and
    truncates its temporary table (a new relfilenode); with ef_search above
    the row count every answer is the exact one."""
    db = cluster.create_db("tmp_unlogged")
    data = random_data(600, 8, seed=5)
    probes = random_data(8, 8, seed=6)
    with cluster.connect(db) as c:
        force_index(c)
        c.execute("SET hnsw.ef_search = 1000")
        c.execute("SET temp_buffers = '800kB'")  # 100 local buffers: evictions
        load_table(c, "pt", data)
        c.execute("CREATE INDEX ON pt USING hnsw (v vector_l2_ops) WITH (m = 4)")
        c.execute("CREATE UNLOGGED TABLE ut (id int, v vector(8))")
        c.execute("INSERT INTO ut SELECT * FROM pt")
        c.execute("CREATE INDEX ON ut USING hnsw (v vector_l2_ops) WITH (m = 4)")
        c.execute("CREATE TEMP TABLE tt (id int, v vector(8))")
        c.execute("INSERT INTO tt SELECT * FROM pt")
        c.execute("CREATE INDEX ON tt USING hnsw (v vector_l2_ops) WITH (m = 4)")
        for rnd in range(3):
            for q in probes:
                want = list(np.argsort(distances(data, q), kind="stable")[:10] + 1)
                for t in ("tt", "pt", "ut"):
                    got = ids_of(c, f"SELECT id FROM {t} ORDER BY v <-> %s::vector LIMIT 10", (vec_text(q),))
                    assert got == want, (rnd, t)
            # the temporary index gets a new file; inserts go through hints too
            c.execute("TRUNCATE tt")
            c.execute("INSERT INTO tt SELECT * FROM pt")
    assert not cluster.log_problems()


def test_iterative_scans_return_each_row_once(cluster):
    """Deferred elements go back to the frontier when the next batch starts:
    a scan that walks the whole index at ef_search 10 must return every row
    exactly once (strict_order: in distance order), with and without the
    lean mode a small memory budget forces."""
    db = cluster.create_db("iter_once")
    data = clustered_data(3000, 3, seed=11)
    q = vec_text(data[17] + 0.01)
    with cluster.connect(db) as c:
        load_table(c, "t", data)
        c.execute("CREATE INDEX ON t USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 16)")
        force_index(c)
        c.execute("SET hnsw.ef_search = 10")
        c.execute("SET hnsw.max_scan_tuples = 1000000")
        for mode in ("relaxed_order", "strict_order"):
            c.execute(f"SET hnsw.iterative_scan = {mode}")
            for mem in ("64MB", "64kB"):
                c.execute(f"SET work_mem = '{mem}'")
                rows = c.execute("SELECT id, v <-> %s::vector FROM t ORDER BY v <-> %s::vector LIMIT 3000", (q, q)).fetchall()
                got = [r[0] for r in rows]
                assert len(got) == len(set(got)), (mode, mem, len(got) - len(set(got)))
                if mem == "64MB" and mode == "relaxed_order":
                    # (strict_order skips rows found out of order, by design)
                    assert len(got) >= 2990, (mode, mem, len(got))
                if mode == "strict_order":
                    d = [r[1] for r in rows]
                    assert d == sorted(d), (mode, mem)


def test_cursors_interleaved_with_other_scans(cluster):
    """A suspended scan (cursor) keeps its graph while other statements of
    the backend open, drop and pool theirs: two cursors over the same index
    and queries over other indexes in between answer as uninterrupted scans."""
    db = cluster.create_db("cursors")
    base, queries = minilm_fixture()
    small = clustered_data(2000, 3, seed=4)
    with cluster.connect(db) as c:
        load_table(c, "big", base[:1500], dims=384)
        c.execute("CREATE INDEX ON big USING hnsw (v vector_l2_ops)")
        load_table(c, "small", small)
        c.execute("CREATE INDEX ON small USING hnsw (v vector_l2_ops) WITH (m = 4)")

    def settings(c):
        force_index(c)
        c.execute("SET hnsw.ef_search = 20")
        c.execute("SET hnsw.iterative_scan = relaxed_order")

    want = {}
    for k in (0, 1):
        with cluster.connect(db) as c:
            settings(c)
            want[k] = ids_of(c, "SELECT id FROM big ORDER BY v <-> %s::vector LIMIT 120", (vec_text(queries[k]),))
    with cluster.connect(db, autocommit=False) as c:
        settings(c)
        for k in (0, 1):
            c.execute(f"DECLARE c{k} NO SCROLL CURSOR FOR SELECT id FROM big ORDER BY v <-> %s::vector LIMIT 120",
                      (vec_text(queries[k]),))
        got = {0: [], 1: []}
        for step in range(6):
            for k in (0, 1):
                got[k] += [r[0] for r in c.execute(f"FETCH 20 FROM c{k}").fetchall()]
                # other scans of the same backend in between
                ids_of(c, "SELECT id FROM small ORDER BY v <-> %s::vector LIMIT 5", (vec_text(small[step]),))
                ids_of(c, "SELECT id FROM big ORDER BY v <-> %s::vector LIMIT 5", (vec_text(queries[10 + step]),))
        c.rollback()
    assert got == want


def test_xact_block_counters_stable_across_statements(cluster):
    """ReadRecentBuffer does not count a read in the index's statistics;
    the change counts it by hand. A query reads the same pages whether the
    backend is fresh (no hints) or warm (hints): the transaction's
    blocks_fetched for the index must be the same, and all hits."""
    db = cluster.create_db("statio")
    base, queries = minilm_fixture()
    with cluster.connect(db) as c:
        load_table(c, "t", base[:1500], dims=384)
        c.execute("CREATE INDEX t_idx ON t USING hnsw (v vector_l2_ops)")
    sql = "SELECT id FROM t ORDER BY v <-> %s::vector LIMIT 10"
    counts = []
    with cluster.connect(db, autocommit=False) as c:
        force_index(c)
        c.execute("SELECT count(*) FROM t").fetchone()
        for _ in range(3):
            ids_of(c, sql, (vec_text(queries[3]),))
            counts.append(c.execute("SELECT pg_stat_get_xact_blocks_fetched('t_idx'::regclass), "
                                    "pg_stat_get_xact_blocks_hit('t_idx'::regclass)").fetchone())
            c.commit()
    # (a committed transaction's counts stay pending until flushed: the
    # functions show them summed, so compare what each statement added)
    steps = [counts[0]] + [(b[0] - a[0], b[1] - a[1]) for a, b in zip(counts, counts[1:])]
    assert steps[0][0] > 0
    assert steps[0] == steps[1] == steps[2], counts
    assert steps[1][0] == steps[1][1], counts


def test_hot_index_pages_earn_usage_count(cluster):
    """ReadRecentBuffer pins a buffer without bumping its usage count
    (PinBuffer_Locked): pages a backend finds through its hints stay at
    usage count 1 however often they are read, so the clock sweep evicts a
    busy index's pages before cold pages of other relations. After a query
    is repeated many times, the index pages it reads must be as hot (usage
    count) as those of a plain ReadBuffer reader."""
    db = cluster.create_db("usage")
    base, queries = minilm_fixture()
    with cluster.connect(db) as c:
        c.execute("CREATE EXTENSION pg_buffercache")
        load_table(c, "t", base[:1500], dims=384)
        c.execute("CREATE INDEX t_idx ON t USING hnsw (v vector_l2_ops)")
    cluster.restart()
    with cluster.connect(db) as c:
        force_index(c)
        for _ in range(12):
            ids_of(c, "SELECT id FROM t ORDER BY v <-> %s::vector LIMIT 10", (vec_text(queries[5]),))
        rows = c.execute(
            "SELECT relblocknumber, usagecount FROM pg_buffercache "
            "WHERE relfilenode = pg_relation_filenode('t_idx') AND reldatabase = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) AND relblocknumber > 0"
        ).fetchall()
    assert rows
    hot = sum(1 for _, u in rows if u >= 3)
    # every page of the index in buffers was read by each of the 12 queries
    assert hot >= len(rows) // 2, f"{hot} of {len(rows)} index pages have usage count >= 3: {sorted(u for _, u in rows)}"


def test_read_error_with_pins_held(cluster):
    """A page that fails verification makes ReadBufferExtended raise an
    ERROR while other pages of the hop are pinned: each pin must be
    released exactly once (by the Pin guard during unwinding, or by the
    resource owner at abort, never both), the backend must go on answering,
    and no buffer may stay pinned."""
    db = cluster.create_db("readerr")
    base, queries = minilm_fixture()
    with cluster.connect(db) as c:
        c.execute("CREATE EXTENSION pg_buffercache")
        load_table(c, "bad", base[:1500], dims=384)
        c.execute("CREATE INDEX bad_idx ON bad USING hnsw (v vector_l2_ops)")
        load_table(c, "good", base[:1500], dims=384)
        c.execute("CREATE INDEX good_idx ON good USING hnsw (v vector_l2_ops)")
        path = c.execute("SELECT pg_relation_filepath('bad_idx')").fetchone()[0]
        nblocks = c.execute("SELECT pg_relation_size('bad_idx') / 8192").fetchone()[0]
        c.execute("CHECKPOINT")
    fresh = {}
    with cluster.connect(db) as c:
        force_index(c)
        for k in range(4):
            fresh[k] = ids_of(c, "SELECT id FROM good ORDER BY v <-> %s::vector LIMIT 10", (vec_text(queries[k]),))
    cluster.stop()
    # every third page past the first few: a hop's window meets one while
    # it holds pins on others
    with open(os.path.join(cluster.data, path), "r+b") as f:
        for b in range(4, nblocks, 3):
            f.seek(b * 8192 + 12)
            f.write(struct.pack("<HH", 0xFFF0, 0x0010))  # pd_lower > pd_upper
    cluster.start()
    errors = 0
    with cluster.connect(db) as c:
        force_index(c)
        for k in range(4):
            try:
                ids_of(c, "SELECT id FROM bad ORDER BY v <-> %s::vector LIMIT 10", (vec_text(queries[k]),))
            except psycopg.errors.DataCorrupted as e:
                assert "invalid page in block" in str(e)
                errors += 1
            got = ids_of(c, "SELECT id FROM good ORDER BY v <-> %s::vector LIMIT 10", (vec_text(queries[k]),))
            assert got == fresh[k]
        pinned = c.execute("SELECT count(*) FROM pg_buffercache WHERE pinning_backends > 0 AND relfilenode IN "
                           "(pg_relation_filenode('bad_idx'), pg_relation_filenode('good_idx'))").fetchone()[0]
        assert pinned == 0
        c.execute("DROP TABLE bad")
    assert errors > 0
    log = cluster.log()
    assert "leak" not in log and "not owned by resource owner" not in log
    assert not cluster.log_problems(allow=("invalid page in block",))


def test_halfvec_bit_and_sq8_indexes_from_a_busy_backend(cluster):
    """The windowed page reads and hints serve every element layout: a
    halfvec index, a bit index and a quantised (sq8) index queried in turn
    by one backend answer as fresh backends do."""
    db = cluster.create_db("layouts")
    base, queries = minilm_fixture()
    with cluster.connect(db) as c:
        load_table(c, "hv", base[:1200], dims=384)
        c.execute("CREATE INDEX ON hv USING hnsw ((v::halfvec(384)) halfvec_l2_ops)")
        load_table(c, "bt", base[:1200], dims=384)
        c.execute("CREATE INDEX ON bt USING hnsw ((binary_quantize(v)::bit(384)) bit_hamming_ops)")
        load_table(c, "sq", base[:1200], dims=384)
        c.execute("CREATE INDEX ON sq USING hnsw (v vector_l2_ops) WITH (vecstore_quantize = sq8)")
    probes = [
        ("SELECT id FROM hv ORDER BY v::halfvec(384) <-> %s::vector::halfvec(384) LIMIT 10", q) for q in queries[:5]
    ] + [
        ("SELECT id FROM bt ORDER BY binary_quantize(v)::bit(384) <~> binary_quantize(%s::vector) LIMIT 10", q)
        for q in queries[5:10]
    ] + [("SELECT id FROM sq ORDER BY v <-> %s::vector LIMIT 10", q) for q in queries[10:15]]
    want = []
    for sql, q in probes:
        with cluster.connect(db) as c:
            force_index(c)
            want.append(ids_of(c, sql, (vec_text(q),)))
    assert all(len(w) == 10 for w in want)
    with cluster.connect(db) as c:
        force_index(c)
        plan = "\n".join(r[0] for r in c.execute("EXPLAIN " + probes[5][0], (vec_text(probes[5][1]),)).fetchall())
        assert "Index Scan" in plan, plan
        for rnd in range(3):
            for i in np.random.default_rng(rnd).permutation(len(probes)):
                sql, q = probes[i]
                assert ids_of(c, sql, (vec_text(q),)) == want[i], (rnd, i)


def test_pooled_memory_does_not_shrink_an_iterative_scan_budget(cluster):
    """An iterative scan stops expanding once its memory passes work_mem x
    hnsw.scan_mem_multiplier; the pooled StreamSearch of an earlier, bigger
    scan keeps its tables' capacity, which that check counts as used. A
    backend that once ran a big scan must still give a later small-budget
    scan the budget a fresh backend gives it (the same rows)."""
    db = cluster.create_db("budget")
    with cluster.connect(db) as c:
        load_table(c, "big", clustered_data(20000, 3, seed=21))
        c.execute("CREATE INDEX ON big USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 16)")
        load_table(c, "small", clustered_data(4000, 3, seed=22))
        c.execute("CREATE INDEX ON small USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 16)")
    q = vec_text(np.array([0.5, 0.5, 0.5], dtype=np.float32))
    small_sql = "SELECT id FROM small WHERE id %% 40 = 0 ORDER BY v <-> %s::vector LIMIT 30"

    def small_settings(c):
        force_index(c)
        c.execute("SET hnsw.iterative_scan = relaxed_order")
        c.execute("SET hnsw.max_scan_tuples = 1000000")
        c.execute("SET hnsw.scan_mem_multiplier = 1")
        c.execute("SET work_mem = '64kB'")

    with cluster.connect(db) as c:
        small_settings(c)
        want = ids_of(c, small_sql, (q,))
    assert len(want) >= 20, want  # the budget lets a fresh backend go on
    with cluster.connect(db) as c:
        force_index(c)
        c.execute("SET hnsw.iterative_scan = relaxed_order")
        c.execute("SET hnsw.max_scan_tuples = 1000000")
        c.execute("SET work_mem = '64MB'")
        assert len(ids_of(c, "SELECT id FROM big ORDER BY v <-> %s::vector LIMIT 20000", (q,))) > 19000
        small_settings(c)
        assert ids_of(c, small_sql, (q,)) == want


def test_standby_backend_with_hints_during_replay(cluster):
    """A standby backend keeps querying (its hints warm) while the primary
    inserts, deletes, vacuums and reindexes: replay rewrites and moves the
    pages under its hints. Once replay has caught up, the long-lived
    backend answers as a fresh standby backend does."""
    db = cluster.create_db("standby_hints")
    base, queries = minilm_fixture()
    with cluster.connect(db) as c:
        load_table(c, "t", base[:800], dims=384)
        c.execute("CREATE INDEX t_idx ON t USING hnsw (v vector_l2_ops) WITH (m = 8)")
    standby = cluster.standby("standby_hints", conf={"shared_buffers": "2MB"})
    try:
        cluster.wait_replay(standby)
        sql = "SELECT id FROM t ORDER BY v <-> %s::vector LIMIT 10"
        with standby.connect(db) as s, cluster.connect(db) as p:
            force_index(s)
            for step in range(6):
                lo = 800 + 150 * step
                p.execute("INSERT INTO t (id, v) SELECT 10000 + %s + g, v FROM unnest(%s::vector[]) WITH ORDINALITY AS x(v, g)",
                          (lo, [vec_text(r) for r in base[lo:lo + 150]]))
                p.execute("UPDATE t SET id = id + 0 WHERE id %% 5 = %s", (step % 5,))
                if step == 2:
                    p.execute("DELETE FROM t WHERE id % 3 = 0")
                    p.execute("VACUUM t")
                if step == 4:
                    p.execute("REINDEX INDEX t_idx")
                for q in queries[:6]:
                    ids_of(s, sql, (vec_text(q),))
            cluster.wait_replay(standby)
            busy = [ids_of(s, sql, (vec_text(q),)) for q in queries[:12]]
        with standby.connect(db) as s:
            force_index(s)
            fresh = [ids_of(s, sql, (vec_text(q),)) for q in queries[:12]]
        assert busy == fresh
        assert not standby.log_problems()
    finally:
        standby.destroy()
