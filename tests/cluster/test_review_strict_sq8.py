"""Adversarial review of strict_order on sq8 indexes (the scan computes a
row's exact distance from the heap when its bound is below a value already
reported): resource cleanup on every way a scan ends, snapshots, rescans,
hostile data, and the order guarantee on every sq8 opclass.
"""

import threading
import time

import numpy as np
import psycopg
import pytest

from helpers_index import copy_rows, ext_db, force_index, minilm_fixture, vec_text

SQ8 = "WITH (vecstore_quantize = sq8)"
OPS = {"vector_l2_ops": "<->", "vector_ip_ops": "<#>", "vector_cosine_ops": "<=>", "vector_l1_ops": "<+>"}


def strict(conn, ef=10):
    force_index(conn)
    conn.execute("SET hnsw.iterative_scan = strict_order")
    conn.execute(f"SET hnsw.ef_search = {ef}")


def warnings_of(conn):
    got = []
    conn.add_notice_handler(lambda d: d.severity_nonlocalized == "WARNING" and got.append(d.message_primary))
    return got


def minilm_db(cluster, name, opclass="vector_l2_ops", n=3000):
    db = ext_db(cluster, name, "vecstore")
    base, queries = minilm_fixture()
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE t (id int, v vector(384))")
        copy_rows(conn, "t", np.arange(1, n + 1), base[:n])
        conn.execute(f"CREATE INDEX t_i ON t USING hnsw (v {opclass}) {SQ8}")
        conn.execute("ANALYZE t")
    return db, base[:n], queries


def check_order(rows):
    d = [r[-1] for r in rows]
    ids = [r[0] for r in rows]
    assert d == sorted(d), "out of order"
    assert len(set(ids)) == len(ids), "a row twice"


@pytest.mark.parametrize("opclass", list(OPS))
def test_signed_data_every_opclass_exact_order(cluster, opclass):
    """Centred data (negative inner products, large norms) with a selective
    filter and many batches: exact nondecreasing order, no row twice, no
    'index returned tuples in wrong order', rows all from the table."""
    db = ext_db(cluster, f"signed_{opclass[7:-4]}", "vecstore")
    rng = np.random.default_rng(11)
    data = (rng.normal(0, 1, (4000, 48)) * rng.choice([0.1, 1, 30], (4000, 1))).astype(np.float32)
    queries = (rng.normal(0, 1, (15, 48)) * 3).astype(np.float32)
    op = OPS[opclass]
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE t (id int, v vector(48))")
        copy_rows(conn, "t", np.arange(1, 4001), data)
        conn.execute(f"CREATE INDEX t_i ON t USING hnsw (v {opclass}) {SQ8}")
        strict(conn)
        for q in queries:
            qt = vec_text(q)
            for where in ("id % 10 = 0", "id % 97 = 0"):
                rows = conn.execute(f"SELECT id, v {op} '{qt}' FROM t WHERE {where} ORDER BY v {op} '{qt}' LIMIT 40").fetchall()
                check_order(rows)
                assert len(rows) > 0


def test_cursor_paths_release_everything(cluster):
    """A strict sq8 cursor left open until COMMIT, a SCROLL cursor moved
    back and forth, a WITH HOLD cursor, a cursor closed mid-way, a scan ended
    by LIMIT, PREPARE/EXECUTE with a generic plan, and a plpgsql loop over
    the query: no resource WARNING, results in exact order."""
    db, base, queries = minilm_db(cluster, "cursors")
    with cluster.connect(db, autocommit=False) as conn:
        warns = warnings_of(conn)
        strict(conn)
        qt = vec_text(queries[0])
        conn.execute(f"DECLARE c CURSOR FOR SELECT id, v <-> '{qt}' FROM t WHERE id % 10 = 0 ORDER BY v <-> '{qt}'")
        rows = conn.execute("FETCH 60 FROM c").fetchall()
        check_order(rows)
        assert len(rows) == 60
        conn.commit()
        strict(conn)
        conn.execute(f"DECLARE s SCROLL CURSOR FOR SELECT id, v <-> '{qt}' FROM t WHERE id % 10 = 0 ORDER BY v <-> '{qt}' LIMIT 100")
        a = conn.execute("FETCH 50 FROM s").fetchall()
        conn.execute("FETCH BACKWARD 20 FROM s").fetchall()
        b = conn.execute("FETCH ABSOLUTE 1 FROM s").fetchall()
        assert b[0] == a[0]
        conn.execute("CLOSE s")
        conn.execute(f"DECLARE h CURSOR WITH HOLD FOR SELECT id, v <-> '{qt}' FROM t WHERE id % 10 = 0 ORDER BY v <-> '{qt}' LIMIT 80")
        conn.execute("FETCH 5 FROM h").fetchall()
        conn.commit()
        rest = conn.execute("FETCH ALL FROM h").fetchall()
        assert len(rest) == 75
        conn.execute("CLOSE h")
        conn.commit()
        strict(conn)
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute("PREPARE p(vector) AS SELECT id, v <-> $1 FROM t WHERE id % 10 = 0 ORDER BY v <-> $1 LIMIT 30")
        for q in queries[:10]:
            got = conn.execute(f"EXECUTE p('{vec_text(q)}')").fetchall()
            check_order(got)
            assert len(got) == 30
        conn.execute("""CREATE FUNCTION loop_knn(qs vector[]) RETURNS bigint LANGUAGE plpgsql AS $$
            DECLARE n bigint := 0; q vector; r record; prev float8;
            BEGIN
              FOREACH q IN ARRAY qs LOOP
                prev := '-infinity';
                FOR r IN SELECT id, v <-> q AS d FROM t WHERE id % 10 = 0 ORDER BY v <-> q LIMIT 30 LOOP
                  IF r.d < prev THEN RAISE EXCEPTION 'out of order'; END IF;
                  prev := r.d; n := n + 1;
                END LOOP;
              END LOOP;
              RETURN n;
            END $$""")
        arr = "ARRAY[" + ",".join(f"'{vec_text(q)}'::vector" for q in queries[:100]) + "]"
        assert conn.execute(f"SELECT loop_knn({arr})").fetchone()[0] == 3000
        conn.commit()
    assert not warns, warns


def test_rescans_do_not_grow_memory(cluster):
    """A nested loop rescans the inner strict sq8 scan once per outer row:
    the backend's memory after 1,500 rescans is not more than after 100
    (plus a little)."""
    db, base, queries = minilm_db(cluster, "rescans")
    with cluster.connect(db) as conn:
        warns = warnings_of(conn)
        strict(conn)
        conn.execute("SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_material = off")
        conn.execute("CREATE TABLE qs (n int, q vector(384))")
        copy_rows(conn, "qs", np.arange(1, 201), queries[:200], columns="n, q")
        sql = ("SELECT o.n, CASE WHEN l.id IS NOT NULL AND o.n %% 100 = 0 THEN (SELECT sum(total_bytes) FROM pg_backend_memory_contexts) END, l.id "
               "FROM (SELECT n, q FROM qs, generate_series(1, %s) g ORDER BY g, n) o, "
               "LATERAL (SELECT id FROM t WHERE id %% 10 = 0 ORDER BY v <-> o.q LIMIT 3) l")
        rows = conn.execute(sql, (8, )).fetchall()
        mem = [m for _, m, _ in rows if m is not None]
    print(f"backend memory during rescans: first {mem[0]}, last {mem[-1]}, max {max(mem)} over {len(mem)} samples")
    assert max(mem) - mem[0] < 2_000_000, mem
    assert not warns


def test_cancel_and_timeout_inside_the_exact_distance(cluster):
    """An index expression that sleeps: statement_timeout and
    pg_cancel_backend land while the scan evaluates it for a row's exact
    distance; the statement fails cleanly, the session goes on, and the log
    shows no crash or leak."""
    db = ext_db(cluster, "cancel", "vecstore")
    base, queries = minilm_fixture()
    with cluster.connect(db) as conn:
        conn.execute("CREATE TABLE e (id int, a real[])")
        conn.execute("CREATE TABLE t (id int, v vector(384))")
        copy_rows(conn, "t", np.arange(1, 3001), base[:3000])
        conn.execute("INSERT INTO e SELECT id, v::real[] FROM t")
        conn.execute("""CREATE FUNCTION slow(a real[]) RETURNS vector IMMUTABLE STRICT LANGUAGE plpgsql AS $$
            BEGIN
              IF current_setting('slowx.enabled', true) = 'on' THEN PERFORM pg_sleep(0.002); END IF;
              RETURN a::vector(384);
            END $$""")
        conn.execute(f"CREATE INDEX e_i ON e USING hnsw ((slow(a)::vector(384)) vector_l2_ops) {SQ8}")
        warns = warnings_of(conn)
        strict(conn)
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        qt = vec_text(queries[1])
        sql = f"SELECT id, slow(a)::vector(384) <-> '{qt}' FROM e WHERE id % 500 = 0 ORDER BY slow(a)::vector(384) <-> '{qt}' LIMIT 6"
        conn.execute("SET slowx.enabled = on")
        for ms in range(40, 440, 40):
            conn.execute(f"SET statement_timeout = '{ms}ms'")
            with pytest.raises(psycopg.errors.QueryCanceled):
                conn.execute(sql).fetchall()
        conn.execute("SET statement_timeout = 0")

        def cancel():
            time.sleep(0.3)
            with cluster.connect(db) as c2:
                c2.execute("SELECT pg_cancel_backend(%s)", (pid, ))

        th = threading.Thread(target=cancel)
        th.start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute(sql).fetchall()
        th.join()
        # an open cursor in a transaction block, cancelled mid-FETCH, rolled back to a savepoint
        conn.execute("BEGIN")
        conn.execute(f"DECLARE c CURSOR FOR {sql.replace('LIMIT 6', '')}")
        conn.execute("SAVEPOINT s")
        conn.execute("SET LOCAL statement_timeout = '200ms'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("FETCH 50 FROM c").fetchall()
        conn.execute("ROLLBACK TO s")
        conn.execute("COMMIT")
        conn.execute("SET slowx.enabled = off")
        got = conn.execute(sql).fetchall()
        check_order(got)
        assert len(got) == 6
    assert not warns, warns
    bad = [l for l in cluster.log_problems(allow=("canceling statement", "picky row", "could not serialize"))]
    assert not bad, bad


def test_repeatable_read_sees_its_snapshot_while_others_change_rows(cluster):
    """REPEATABLE READ and a cursor: another session deletes and moves
    (non-HOT update of the vector) the nearest rows and VACUUMs; the
    strict scan still returns exactly the snapshot's rows in order, the
    same as before the changes."""
    db, base, queries = minilm_db(cluster, "rr")
    qt = vec_text(queries[2])
    sql = f"SELECT id, v <-> '{qt}' FROM t WHERE id % 10 = 0 ORDER BY v <-> '{qt}' LIMIT 40"
    with cluster.connect(db, autocommit=False) as rr, cluster.connect(db) as other:
        rr.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        strict(rr)
        before = rr.execute(sql).fetchall()
        rr.execute(f"DECLARE c CURSOR FOR SELECT id, v <-> '{qt}' FROM t WHERE id % 10 = 0 ORDER BY v <-> '{qt}'")
        first = rr.execute("FETCH 20 FROM c").fetchall()
        ids = [i for i, _ in before]
        other.execute("DELETE FROM t WHERE id = ANY(%s)", (ids[::2], ))
        other.execute("UPDATE t SET v = v::real[]::real[]::vector WHERE id = ANY(%s)", (ids[1::2], ))
        far = vec_text(-queries[2])
        other.execute(f"UPDATE t SET v = '{far}' WHERE id %% 10 = 0 AND id <> ALL(%s) AND id < 1500", (ids, ))
        other.execute("VACUUM t")
        after = rr.execute(sql).fetchall()
        rest = rr.execute("FETCH 20 FROM c").fetchall()
        assert after == before
        assert first + rest == before
        rr.commit()
        strict(rr)
        now = rr.execute(sql).fetchall()
        check_order(now)
        assert not set(ids[::2]) & {i for i, _ in now}


def test_serializable_and_subquery_update(cluster):
    """SERIALIZABLE, an UPDATE ... WHERE id IN (strict sq8 top-k), a CTE:
    the rows touched are the query's top-k."""
    db, base, queries = minilm_db(cluster, "ser")
    qt = vec_text(queries[3])
    with cluster.connect(db, autocommit=False) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
        strict(conn)
        conn.execute("ALTER TABLE t ADD COLUMN hit int DEFAULT 0")
        top = conn.execute(f"SELECT id FROM t WHERE id % 10 = 0 ORDER BY v <-> '{qt}' LIMIT 25").fetchall()
        n = conn.execute(f"UPDATE t SET hit = 1 WHERE id IN (SELECT id FROM t WHERE id % 10 = 0 ORDER BY v <-> '{qt}' LIMIT 25)").rowcount
        assert n == 25
        cte = conn.execute(f"WITH k AS (SELECT id, v <-> '{qt}' d FROM t WHERE id % 10 = 0 ORDER BY v <-> '{qt}' LIMIT 25) "
                           "SELECT id FROM k ORDER BY d").fetchall()
        assert cte == top
        assert conn.execute("SELECT array_agg(id ORDER BY id) FROM t WHERE hit = 1").fetchone()[0] == sorted(i for i, in top)
        conn.commit()


def test_partitions_many_columns_nulls_fast_default(cluster):
    """A partitioned table (a dropped column, a vector added later with a
    fast default in one partition, many columns, NULL vectors): strict sq8
    scans through Merge Append in exact order."""
    db = ext_db(cluster, "parts", "vecstore")
    base, queries = minilm_fixture()
    cols = ", ".join(f"c{i} int" for i in range(60))
    with cluster.connect(db) as conn:
        conn.execute(f"CREATE TABLE p (id int, junk text, {cols}, v vector(384)) PARTITION BY RANGE (id)")
        conn.execute("CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (1500)")
        conn.execute(f"CREATE TABLE p2 (id int, {cols}, zz int, junk text)")
        conn.execute("ALTER TABLE p2 DROP COLUMN zz")
        conn.execute("INSERT INTO p2 (id) SELECT g FROM generate_series(1500, 1510) g")
        conn.execute(f"ALTER TABLE p2 ADD COLUMN v vector(384) DEFAULT '{vec_text(base[0] + 0.01)}'")
        conn.execute("ALTER TABLE p ATTACH PARTITION p2 FOR VALUES FROM (1500) TO (10000)")
        copy_rows(conn, "p", np.arange(1, 3001), base[:3000])
        conn.execute("INSERT INTO p (id, v) SELECT g, NULL FROM generate_series(3001, 3100) g")
        conn.execute(f"CREATE INDEX p_i ON p USING hnsw (v vector_l2_ops) {SQ8}")
        conn.execute("ANALYZE p")
        strict(conn)
        for q in [base[0]] + list(queries[:10]):
            qt = vec_text(q)
            rows = conn.execute(f"SELECT id, v <-> '{qt}' FROM p WHERE id % 10 = 0 ORDER BY v <-> '{qt}' LIMIT 40").fetchall()
            check_order(rows)
            assert len(rows) == 40 and all(d is not None for _, d in rows)


def test_hostile_filter_heap_work_is_bounded(cluster):
    """A filter keeping 1 row in 1,000 (3 of 3,000): the strict scan walks
    to max_scan_tuples and nearly every row of a later batch is
    'uncertain'. Its buffer accesses stay within twice relaxed_order's
    (which hands every row to the executor) and its time within 3x."""
    db, base, queries = minilm_db(cluster, "hostile")
    with cluster.connect(db) as conn:
        conn.execute("INSERT INTO t SELECT id + 3000, v FROM t")  # exact duplicates, twice over
        conn.execute("INSERT INTO t SELECT id + 6000, v FROM t")
        conn.execute("REINDEX INDEX t_i")
        conn.execute("VACUUM ANALYZE t")
        force_index(conn)
        conn.execute("SET hnsw.ef_search = 10")
        res = {}
        for mode in ("relaxed_order", "strict_order", "off"):
            conn.execute(f"SET hnsw.iterative_scan = {mode}")
            bufs = ms = rows = 0
            for q in queries[:10]:
                qt = vec_text(q)
                plan = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT id FROM t WHERE id % 1000 = 0 "
                                    f"ORDER BY v <-> '{qt}' LIMIT 10").fetchone()[0][0]
                node = plan["Plan"]
                bufs += node["Shared Hit Blocks"] + node["Shared Read Blocks"]
                ms += plan["Execution Time"]
                rows += node["Actual Rows"]
            res[mode] = (bufs, round(ms, 1), rows)
    print("hostile filter (buffers, ms, rows) per mode:", res)
    assert res["strict_order"][0] <= 2 * res["relaxed_order"][0] + 1000, res
    assert res["strict_order"][1] <= 3 * res["relaxed_order"][1] + 50, res



def test_cursor_fetched_under_another_role(cluster):
    """A strict sq8 scan of an expression index, started by a role that may
    call the expression's function (a SECURITY DEFINER function opening a
    refcursor, or a cursor declared before SET ROLE) and fetched by one that
    may not: the executor checked its expressions' privileges when the
    query started, so the fetch works with a float4 index; it must work the
    same with sq8 (the scan's exact distance must not re-check them for the
    role fetching)."""
    db, base, queries = minilm_db(cluster, "roles")
    qt = vec_text(queries[4])
    with cluster.connect(db) as conn:
        conn.execute("DROP ROLE IF EXISTS fetcher")
        conn.execute("CREATE ROLE fetcher")
        conn.execute("CREATE TABLE e AS SELECT id, v::real[] AS a FROM t")
        conn.execute("CREATE FUNCTION emb(a real[]) RETURNS vector IMMUTABLE STRICT LANGUAGE plpgsql "
                     "AS 'BEGIN RETURN a::vector(384); END'")
        conn.execute("REVOKE EXECUTE ON FUNCTION emb(real[]) FROM PUBLIC")
        conn.execute("""CREATE FUNCTION open_knn(q vector) RETURNS refcursor SECURITY DEFINER LANGUAGE plpgsql AS $$
            DECLARE c refcursor := 'knn';
            BEGIN
              OPEN c FOR SELECT id, emb(a)::vector(384) <-> q FROM e WHERE id % 10 = 0 ORDER BY emb(a)::vector(384) <-> q;
              RETURN c;
            END $$""")
        conn.execute("GRANT EXECUTE ON FUNCTION open_knn(vector) TO fetcher")
        conn.execute("GRANT USAGE ON SCHEMA public TO fetcher")
        out = {}
        for side, opts in (("float4", ""), ("sq8", SQ8)):
            conn.execute("DROP INDEX IF EXISTS e_i")
            conn.execute(f"CREATE INDEX e_i ON e USING hnsw ((emb(a)::vector(384)) vector_l2_ops) {opts}")
            got = []
            with cluster.connect(db, autocommit=False) as c2:
                strict(c2)
                c2.execute("SET ROLE fetcher")
                c2.execute("SELECT open_knn(%s::vector)", (qt, ))
                got.append(c2.execute("FETCH 60 FROM knn").fetchall())
                c2.rollback()
                strict(c2)
                c2.execute(f"DECLARE d CURSOR FOR SELECT id, emb(a)::vector(384) <-> '{qt}' FROM e WHERE id % 10 = 0 "
                           f"ORDER BY emb(a)::vector(384) <-> '{qt}'")
                c2.execute("SET LOCAL ROLE fetcher")
                got.append(c2.execute("FETCH 60 FROM d").fetchall())
                c2.rollback()
            out[side] = got
    for rows in out["float4"] + out["sq8"]:
        assert len(rows) == 60
        check_order(rows)


def test_idle_strict_cursor_pins_no_more_heap_pages_than_float4(cluster):
    """Between FETCHes, a strict cursor's scan holds no heap page pinned
    for its own exact-distance reads (the module says the row's pin goes
    after every row): an idle sq8 cursor pins no more of the table's pages
    than the same cursor over a float4 index (the executor's own), so it
    does not keep VACUUM from more pages."""
    db, base, queries = minilm_db(cluster, "pins")
    qt = vec_text(queries[5])
    with cluster.connect(db) as conn:
        conn.execute("CREATE EXTENSION pg_buffercache")
        conn.execute("CREATE TABLE t4 AS SELECT * FROM t")
        conn.execute("CREATE INDEX t4_i ON t4 USING hnsw (v vector_l2_ops)")
        pinned = {}
        for side, table in (("sq8", "t"), ("float4", "t4")):
            with cluster.connect(db, autocommit=False) as cur:
                strict(cur)
                cur.execute(f"DECLARE c CURSOR FOR SELECT id FROM {table} WHERE id % 10 = 0 ORDER BY v <-> '{qt}'")
                n = []
                for _ in range(5):
                    assert len(cur.execute("FETCH 20 FROM c").fetchall()) == 20
                    n.append(conn.execute("SELECT count(*) FROM pg_buffercache WHERE relfilenode = pg_relation_filenode(%s) "
                                          "AND pinning_backends > 0", (table, )).fetchone()[0])
                cur.rollback()
            pinned[side] = n
    print("heap pages pinned by an idle strict cursor after each FETCH:", pinned)
    assert max(pinned["sq8"]) <= max(pinned["float4"]), pinned
