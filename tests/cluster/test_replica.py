"""Streaming replication: a standby made with pg_basebackup replays index
builds, inserts and VACUUM from WAL and answers ANN queries like the primary."""

from helpers import unreachable_rows

PROBES = """SET enable_seqscan = off; SET hnsw.ef_search = 40;
  SELECT string_agg(id, ',') FROM (SELECT p, (SELECT string_agg(id::text, ',') FROM (
    SELECT id FROM t ORDER BY v <-> ARRAY(SELECT sin(p * 7.3 + j * 1.1) FROM generate_series(1, 8) j)::vector LIMIT 10) s) AS id
  FROM generate_series(1, 30) p) r"""


def test_standby_replays_build_inserts_and_vacuum(cluster, db):
    standby = cluster.standby()
    try:
        cluster.sql("""CREATE TABLE t (id int PRIMARY KEY, v vector(8));
            INSERT INTO t SELECT i, ARRAY(SELECT random() + 0 * i FROM generate_series(1, 8) j) FROM generate_series(1, 3000) i;
            CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops);
            INSERT INTO t SELECT i, ARRAY(SELECT random() + 0 * i FROM generate_series(1, 8) j) FROM generate_series(3001, 4000) i;
            DELETE FROM t WHERE id % 5 = 0""", db)
        cluster.sql("VACUUM t", db)
        cluster.sql("INSERT INTO t SELECT i, ARRAY(SELECT random() + 0 * i FROM generate_series(1, 8) j) "
                    "FROM generate_series(4001, 4500) i", db)
        cluster.wait_replay(standby)  # "standby replayed up to the primary's LSN"
        primary = cluster.psql(PROBES, db).stdout.strip().splitlines()[-1]
        replica = standby.psql(PROBES, db).stdout.strip().splitlines()[-1]
        assert primary.count(",") == 299, "the primary answers all 30 probes with 10 rows"
        assert replica == primary, "standby returns the same ANN results as the primary"
        with standby.connect(db) as conn:
            conn.execute("SET enable_seqscan = off")
            plan = "\n".join(r[0] for r in conn.execute(
                "EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 3"))
        assert "Index Scan using t_v" in plan, "standby uses the hnsw index"
        assert unreachable_rows(standby, db, "t") == unreachable_rows(cluster, db, "t"), \
            "the standby finds as many rows through the index as the primary"
        assert not standby.log_problems(), "no error on the standby"
    finally:
        standby.destroy()
