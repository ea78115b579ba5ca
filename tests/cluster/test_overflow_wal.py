"""Issue item 17 (WAL part): a build that overflows maintenance_work_mem
(NOTICE "hnsw graph no longer fits into maintenance_work_mem") inserts the
remaining rows on disk. Everything it writes must reach WAL in a form that
replays without full-page images: a streaming standby of a primary with
full_page_writes = off must answer index scans exactly like the primary, and
crash recovery of the primary right after such a build must give an index
that agrees with exact search."""

import pytest

from helpers import copy_vectors, mismatched_queries, random_vectors, unreachable_rows

CLUSTER_CONF = {"full_page_writes": "off", "wal_level": "replica", "checkpoint_timeout": "30min"}
N, DIMS = 5000, 48


def probe_results(c, db, k=10, probes=30):
    """Index-scan answers (ids) for fixed probes, ef_search 1000."""
    out = []
    with c.connect(db) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET hnsw.ef_search = 1000")
        for q in random_vectors(probes, DIMS, seed=99):
            qs = "[" + ",".join(f"{x:.6f}" for x in q) + "]"
            out.append([r[0] for r in conn.execute(f"SELECT id FROM t ORDER BY v <-> %s::vector LIMIT {k}", (qs,))])
    return out


def overflowing_build(c, db):
    """Loads N rows and builds with maintenance_work_mem = 1MB; returns the
    NOTICEs seen."""
    notices = []
    with c.connect(db) as conn:
        conn.add_notice_handler(lambda n: notices.append(n.message_primary))
        conn.execute(f"CREATE TABLE t (id int PRIMARY KEY, v vector({DIMS}))")
        copy_vectors(conn, "t", random_vectors(N, DIMS, seed=21))
        conn.execute("SET maintenance_work_mem = '1MB'")
        conn.execute("CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops)")
    overflow = [n for n in notices if "hnsw graph no longer fits into maintenance_work_mem" in n]
    print("build NOTICE:", overflow)
    assert overflow, "the build overflowed maintenance_work_mem (the test exercises the on-disk inserts)"
    return notices


def test_standby_without_full_page_writes_replays_an_overflowing_build(cluster, db):
    standby = cluster.standby()
    try:
        overflowing_build(cluster, db)
        # and a few ordinary inserts on top
        with cluster.connect(db) as conn:
            copy_vectors(conn, "t", random_vectors(200, DIMS, seed=22), start_id=N + 1)
        cluster.wait_replay(standby)
        primary = probe_results(cluster, db)
        replica = probe_results(standby, db)
        differ = sum(a != b for a, b in zip(primary, replica))
        p_stranded, s_stranded = unreachable_rows(cluster, db, "t"), unreachable_rows(standby, db, "t")
        s_mismatch = mismatched_queries(standby, db, "t", DIMS)
        print(f"probes answered differently by the standby: {differ} of {len(primary)}; rows not found through the "
              f"index: primary {p_stranded}, standby {s_stranded}; standby probes disagreeing with exact search: "
              f"{s_mismatch} of 20")
        assert all(len(r) == 10 for r in primary)
        assert differ == 0, "the standby answers index scans like the primary"
        assert s_stranded == p_stranded == 0, "every row is found through the index on both"
        assert s_mismatch == 0, "the standby's index agrees with exact search"
        assert not standby.log_problems(), standby.log_problems()
    except Exception:
        print("standby log:\n" + standby.log()[-3000:])
        raise
    finally:
        standby.destroy()


def test_crash_right_after_an_overflowing_build(cluster, db):
    cluster.sql("CHECKPOINT")
    overflowing_build(cluster, db)
    before = probe_results(cluster, db)
    cluster.crash()
    cluster.start()
    after = probe_results(cluster, db)
    stranded = unreachable_rows(cluster, db, "t")
    mismatch = mismatched_queries(cluster, db, "t", DIMS)
    differ = sum(a != b for a, b in zip(before, after))
    print(f"after crash recovery: rows not found through the index {stranded} of {N}; probes disagreeing with exact "
          f"search {mismatch} of 20; probes answered differently than before the crash {differ} of {len(before)}")
    assert stranded == 0, "every row is found through the index after recovery"
    assert mismatch == 0, "the recovered index agrees with exact search"
    assert differ == 0, "recovery gives back the index the build wrote"
    assert not cluster.log_problems(allow=("the database system is",)), cluster.log_problems()
