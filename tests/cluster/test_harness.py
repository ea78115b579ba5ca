"""The throwaway-cluster harness itself: private, restartable, crash-safe."""


def test_cluster_is_private_and_has_vecstore(cluster, db):
    assert cluster.scalar("SHOW data_directory").startswith(cluster.dir)
    assert cluster.scalar("SELECT '[1,2]'::vector <-> '[2,3]'", db) > 1.41


def test_crash_and_recovery_keep_committed_rows(cluster, db):
    cluster.sql("CREATE TABLE t (v vector(2)); INSERT INTO t SELECT '[1,1]' FROM generate_series(1, 10)", db)
    cluster.crash()
    cluster.start()
    assert cluster.scalar("SELECT count(*) FROM t", db) == 10
