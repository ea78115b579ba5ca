"""Review of the sparsevec hnsw opclasses: values that span overflow chunks
(WITH vecstore_max_nnz = 16000, each element 128 KB) must survive WAL
replay on a standby without full-page images, concurrent inserts and crash
recovery: the standby answers like the primary, and the index answers the
same after a crash as before. (Reachability is compared, not required to
be total: on these near-orthogonal values pgvector's graph also strands
rows.)"""

import threading

import psycopg
import pytest

from helpers import unreachable_rows

CLUSTER_CONF = {"full_page_writes": "off", "wal_level": "replica", "checkpoint_timeout": "30min"}

# deterministic sparse values with about n non-zeros over a SPLADE-sized
# vocabulary (indices from a hash of seed and k, values 1..97)
RS = """CREATE FUNCTION rs(seed int, n int) RETURNS sparsevec LANGUAGE sql IMMUTABLE AS $$
  SELECT ('{' || string_agg(i::text || ':' || ((i * seed) % 97 + 1)::text, ',' ORDER BY i) || '}/30522')::sparsevec
  FROM (SELECT DISTINCT (abs(hashint4(seed * 100003 + k)) % 30522) + 1 AS i FROM generate_series(1, n) k) s $$"""

PROBES = """SET enable_seqscan = off; SET hnsw.ef_search = 200;
  SELECT string_agg(ids, ';' ORDER BY p) FROM (SELECT p, (SELECT string_agg(id::text, ',') FROM (
    SELECT id FROM t ORDER BY v <-> rs(p * 31, 2500) LIMIT 5) s) AS ids FROM generate_series(1, 8) p) r"""


def probes(c, db):
    return c.psql(PROBES, db).stdout.strip().splitlines()[-1]


def test_standby_replays_sparse_values_in_overflow_chunks(cluster, db):
    standby = cluster.standby()
    try:
        cluster.sql(RS, db)
        cluster.sql("""CREATE TABLE t (id int PRIMARY KEY, v sparsevec(30522));
            INSERT INTO t SELECT g, rs(g, 1000 + (g % 7) * 1300) FROM generate_series(1, 40) g;
            CREATE INDEX t_v ON t USING hnsw (v sparsevec_l2_ops) WITH (vecstore_max_nnz = 16000);
            INSERT INTO t SELECT g, rs(g, 2000 + (g % 5) * 2500) FROM generate_series(41, 70) g;
            DELETE FROM t WHERE id % 3 = 0""", db)
        cluster.sql("VACUUM t", db)
        cluster.sql("INSERT INTO t SELECT g, rs(g, 500 + (g % 4) * 4000) FROM generate_series(71, 90) g", db)
        # a build that outgrows maintenance_work_mem inserts the rest on disk
        with cluster.connect(db) as conn:
            notices = []
            conn.add_notice_handler(lambda n: notices.append(n.message_primary))
            conn.execute("CREATE TABLE u (id int PRIMARY KEY, v sparsevec(30522))")
            conn.execute("INSERT INTO u SELECT g, rs(g + 500, 300 + (g % 6) * 1500) FROM generate_series(1, 40) g")
            conn.execute("SET maintenance_work_mem = '1MB'")
            conn.execute("CREATE INDEX u_v ON u USING hnsw (v sparsevec_ip_ops) WITH (vecstore_max_nnz = 16000)")
        assert any("no longer fits into maintenance_work_mem" in n for n in notices), notices
        cluster.wait_replay(standby)
        ip = """SET enable_seqscan = off; SET hnsw.ef_search = 100;
          SELECT string_agg(id::text, ',') FROM (SELECT id FROM u ORDER BY v <#> rs(77, 3000) LIMIT 40) s"""
        assert cluster.psql(ip, db).stdout.strip().splitlines()[-1] == standby.psql(ip, db).stdout.strip().splitlines()[-1]
        assert cluster.psql(ip, db).stdout.strip().splitlines()[-1].count(",") == 39
        primary, replica = probes(cluster, db), probes(standby, db)
        assert primary.count(",") == 8 * 4, primary
        assert replica == primary, "the standby answers like the primary"
        assert unreachable_rows(cluster, db, "t") == unreachable_rows(standby, db, "t")
        full = "SET enable_seqscan = off; SET hnsw.ef_search = 1000; SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> rs(3, 4000)) s"
        assert cluster.psql(full, db).stdout.split()[-3:] == standby.psql(full, db).stdout.split()[-3:]
        assert not standby.log_problems(), standby.log_problems()
    finally:
        standby.destroy()


def test_concurrent_inserts_of_chunked_sparse_values_then_crash(cluster, db):
    cluster.sql(RS, db)
    cluster.sql("""CREATE TABLE t (id int PRIMARY KEY, v sparsevec(30522));
        INSERT INTO t SELECT g, rs(g, 3000) FROM generate_series(1, 4) g;
        CREATE INDEX t_v ON t USING hnsw (v sparsevec_cosine_ops) WITH (vecstore_max_nnz = 4000)""", db)
    cluster.sql("CHECKPOINT")
    errors = []

    def worker(w):
        try:
            with cluster.connect(db) as conn:
                for k in range(12):
                    g = 100 + w * 100 + k
                    conn.execute("INSERT INTO t VALUES (%s, rs(%s, %s))", (g, g, 500 + (g % 4) * 1100))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert cluster.scalar("SELECT count(*) FROM t", db) == 4 + 36
    # every row finds itself (cosine distance 0) through the index
    reach = """SET enable_seqscan = off; SET hnsw.ef_search = 100;
      SELECT count(*) FROM t WHERE NOT EXISTS (SELECT 1 FROM (SELECT id FROM t t2 ORDER BY t2.v <=> t.v LIMIT 3) s
                                               WHERE s.id = t.id)"""
    order = """SET enable_seqscan = off; SET hnsw.ef_search = 100;
      SELECT string_agg(id::text, ',') FROM (SELECT id FROM t ORDER BY v <=> rs(7, 2500) LIMIT 20) s"""
    before = [cluster.psql(q, db).stdout.strip().splitlines()[-1] for q in (reach, order)]
    cluster.crash()
    cluster.start()
    after = [cluster.psql(q, db).stdout.strip().splitlines()[-1] for q in (reach, order)]
    assert before == after, (before, after)
    assert int(before[0]) <= 2, before
    assert not [l for l in cluster.log().splitlines() if "PANIC" in l or "TRAP" in l]


def test_latin1_database_echoes_the_raw_input_in_syntax_errors(cluster):
    cluster.sql("CREATE DATABASE lat ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    cluster.sql("CREATE EXTENSION vecstore", "lat")
    with cluster.connect("lat") as conn:
        conn.execute("SET client_encoding = 'LATIN1'")
        for lit, typ in (("{1:\xe9}/3", "sparsevec"), ("[\xe9]", "vector"), ("[1,\xe9\xff]", "halfvec")):
            with pytest.raises(psycopg.errors.InvalidTextRepresentation) as e:
                conn.execute(f"SELECT '{lit}'::{typ}")
            assert e.value.diag.message_primary == f'invalid input syntax for type {typ}: "{lit}"'
