"""Crash safety: an insert workload is killed by an immediate shutdown; after
restart no committed row is lost and the index is consistent."""

import re
import threading
import time

import psycopg

from helpers import mismatched_queries, unreachable_rows


def test_immediate_stop_during_inserts_loses_nothing(cluster, db):
    cluster.sql("""CREATE TABLE t (id int PRIMARY KEY, v vector(16));
        INSERT INTO t SELECT i, ARRAY(SELECT random() + 0 * i FROM generate_series(1, 16) j) FROM generate_series(1, 2000) i;
        CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops)""", db)
    acknowledged = []

    def load():
        # one transaction per row; the NOTICE is sent only after the COMMIT
        try:
            with cluster.connect(db) as conn:
                conn.add_notice_handler(lambda n: acknowledged.append(n.message_primary))
                conn.execute("""DO $$ BEGIN
                  FOR i IN 2001..1000000 LOOP
                    INSERT INTO t SELECT i, ARRAY(SELECT random() + 0 * i FROM generate_series(1, 16) j);
                    COMMIT;
                    RAISE NOTICE 'committed %', i;
                  END LOOP; END $$""")
        except psycopg.Error:
            pass  # the crash ends the session

    loader = threading.Thread(target=load)
    loader.start()
    time.sleep(4)
    cluster.crash()
    loader.join()
    cluster.start()
    committed = [int(m.group(1)) for a in acknowledged if (m := re.fullmatch(r"committed (\d+)", a))]
    print(f"inserts acknowledged before the crash: {len(committed)}")
    assert len(committed) > 50, "the workload committed rows before the crash"
    last = max(committed)
    assert cluster.scalar(
        "SELECT count(*) FROM generate_series(2001, %s) i WHERE NOT EXISTS (SELECT 1 FROM t WHERE id = i)", db, (last,)
    ) == 0, "no acknowledged row is lost"
    stranded = unreachable_rows(cluster, db, "t")
    print(f"rows not found through the index after recovery: {stranded}")
    assert stranded <= len(committed) // 2000 + 1, "at most 0.05% of rows unreachable after recovery (pruning, not the crash)"
    cluster.sql("VACUUM t", db)
    assert unreachable_rows(cluster, db, "t") == 0, "every row is reachable through the index after recovery and VACUUM"
    assert mismatched_queries(cluster, db, "t", 16) == 0, "index results match exact search after recovery"
    cluster.sql("INSERT INTO t SELECT i, ARRAY(SELECT random() * 2 + 0 * i FROM generate_series(1, 16) j) "
                "FROM generate_series(2000001, 2000500) i", db)
    cluster.sql("DELETE FROM t WHERE id % 3 = 0", db)
    cluster.sql("VACUUM t", db)
    assert unreachable_rows(cluster, db, "t") == 0, "inserts and VACUUM work after recovery"
    problems = cluster.log_problems(allow=("terminating connection because of crash", "the database system is"))
    assert not problems, problems
