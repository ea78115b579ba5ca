"""ivfflat lists for L2 on normalised embeddings (every row on one sphere
about the origin): k-means runs on the sphere (as for cosine), with the
centers put back on that sphere, so vector_l2_ops builds the lists that
vector_cosine_ops builds from the same rows, and a query reads the same
lists and returns the same rows under either operator.

Data: the MiniLM fixture (3,000 real 384-d sentence embeddings, 200
queries), normalised again in float32 so that L2 and cosine order rows
alike.
"""

import numpy as np

from helpers_index import copy_rows, minilm_fixture, vec_text

CLUSTER_CONF = {"maintenance_work_mem": "'256MB'"}

K, LISTS = 10, 30


def unit(x):
    x = x.astype(np.float64)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def build(conn, table, data, opclass):
    conn.execute(f"CREATE TABLE {table} (id int, v vector({data.shape[1]}))")
    copy_rows(conn, table, np.arange(1, len(data) + 1), data)
    conn.execute(f"CREATE INDEX ON {table} USING ivfflat (v {opclass}) WITH (lists = {LISTS})")


def ids(conn, table, op, q, probes):
    conn.execute("SET enable_seqscan = off")
    conn.execute(f"SET ivfflat.probes = {probes}")
    return [r[0] for r in conn.execute(f"SELECT id FROM {table} ORDER BY v {op} %s::vector LIMIT {K}", (vec_text(q),))]


def test_l2_lists_of_normalised_rows_are_the_cosine_lists(cluster, db):
    """Same rows found through the L2 and the cosine index at probes 1 and
    4 (a query differing only by a rounding tie at most for 2% of the
    queries). With Euclidean k-means for L2 (pgvector's, vecstore's before)
    the lists differ and so do most results at probes 1."""
    base, queries = minilm_fixture()
    base, queries = unit(base), unit(queries)
    with cluster.connect(db) as conn:
        build(conn, "l2", base, "vector_l2_ops")
        build(conn, "cos", base, "vector_cosine_ops")
        for probes in (1, 4):
            differ = sum(ids(conn, "l2", "<->", q, probes) != ids(conn, "cos", "<=>", q, probes) for q in queries)
            assert differ <= 0.02 * len(queries), f"probes {probes}: {differ} of {len(queries)} queries differ"


def test_build_says_when_it_clusters_on_the_sphere(cluster, db):
    """DEBUG1 names the sphere for rows on one (radius 2 here) and not for
    rows whose norms differ by more than 1%."""
    base, _ = minilm_fixture()
    on = 2 * unit(base[:600])
    off = on * np.linspace(0.9, 1.1, len(on), dtype=np.float32)[:, None]
    for table, data, want in (("on_sphere", on, True), ("off_sphere", off, False)):
        seen = []
        with cluster.connect(db) as conn:
            conn.add_notice_handler(lambda d: seen.append(d.message_primary))
            conn.execute(f"CREATE TABLE {table} (id int, v vector(384))")
            copy_rows(conn, table, np.arange(1, len(data) + 1), data)
            conn.execute("SET client_min_messages = debug1")
            conn.execute(f"CREATE INDEX ON {table} USING ivfflat (v vector_l2_ops) WITH (lists = 10)")
        kmeans = [m for m in seen if m.startswith("ivfflat build:") and "k-means" in m]
        assert kmeans, seen
        assert ("on the sphere of radius 2.0000" in kmeans[0]) == want, kmeans
