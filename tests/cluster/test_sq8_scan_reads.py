"""What a scan of a quantised index (WITH (vecstore_quantize = sq8)) reads
beyond its search: the lower bound reported with each row comes from the
code distance the search computed and the code's header (its minimum and
step), remembered when the search scored the element, so a batch's rows
are not read again up front; an element is read again only for the full
bound of a row about to be handed out (or of a later row whose cheap bound
could lower the value reported)."""

import numpy as np

from helpers_index import copy_rows, ext_db, force_index, minilm_fixture, vec_text

SQ8 = "WITH (vecstore_quantize = sq8)"


def index_reads(conn, sql, q):
    """Index blocks a statement reads (fetched, as counted by pgstat)."""
    before = conn.execute("SELECT pg_stat_get_xact_blocks_fetched('t_v'::regclass)").fetchone()[0]
    rows = conn.execute(sql, (vec_text(q), )).fetchall()
    after = conn.execute("SELECT pg_stat_get_xact_blocks_fetched('t_v'::regclass)").fetchone()[0]
    return after - before, len(rows)


def test_sq8_rows_not_handed_out_are_not_read_again(cluster):
    """3,000 real embeddings, ef_search 40, 20 queries: LIMIT 1 hands out a
    row or two of the batch of 40, LIMIT 40 all of them. Reading every row
    of the batch again up front (for its cheap bound) made both read the
    same blocks; reading a row again only to hand it out makes LIMIT 1
    read at least 25 blocks fewer per query."""
    db = ext_db(cluster, "sq8_reads", "vecstore")
    base, queries = minilm_fixture()
    with cluster.connect(db, autocommit=False) as conn:
        conn.execute("CREATE TABLE t (id int, v vector(384))")
        copy_rows(conn, "t", np.arange(1, len(base) + 1), base)
        conn.execute(f"CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops) {SQ8}")
        conn.commit()
        force_index(conn)
        conn.execute("SET hnsw.ef_search = 40")
        saved = []
        for q in queries[:20]:
            one, n1 = index_reads(conn, "SELECT id FROM t ORDER BY v <-> %s::vector LIMIT 1", q)
            forty, n40 = index_reads(conn, "SELECT id FROM t ORDER BY v <-> %s::vector LIMIT 40", q)
            assert (n1, n40) == (1, 40)
            saved.append(forty - one)
    print(f"index blocks LIMIT 40 minus LIMIT 1 per query: mean {np.mean(saved):.1f}, min {min(saved)}")
    assert np.mean(saved) >= 25, saved
