"""The quantised index (WITH (vecstore_quantize = sq8)) as a whole: recall and
size against the float4 index, single-row inserts, VACUUM and re-inserts,
crash recovery, streaming replication and exact result order.

All on the 3,000 real MiniLM embeddings (384-d) with their 200 queries.
The index searches 8-bit codes and reports a lower bound per row; the
executor re-checks and re-orders by exact distances, so results are exact
in value and order, and recall should stay near the float4 index's.
"""

import re
import threading
import time

import numpy as np
import psycopg
import pytest

from helpers import unreachable_rows, wait_for
from helpers_index import (OPS, assert_uses_index, copy_rows, ext_db, force_index, has_pgvector, index_ids,
                           minilm_fixture, vec_text)

SQ8 = "WITH (vecstore_quantize = sq8)"
OPCLASS = {"l2": "vector_l2_ops", "cosine": "vector_cosine_ops", "ip": "vector_ip_ops", "l1": "vector_l1_ops"}
K = 10
MARGIN = 0.03


def fixture_table(conn, base, ids=None, table="t"):
    ids = np.arange(1, len(base) + 1) if ids is None else ids
    conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v vector({base.shape[1]}))")
    copy_rows(conn, table, ids, base)
    conn.execute(f"VACUUM ANALYZE {table}")
    return ids


def index_size(conn, index):
    return conn.execute("SELECT pg_relation_size(%s::regclass)", (index,)).fetchone()[0]


def exact_distances(data, probes, metric):
    """(probes x rows) exact distances in float64, as helpers_index.distances."""
    d = np.asarray(data, dtype=np.float64)
    q = np.asarray(probes, dtype=np.float64)
    if metric == "l2":
        return np.sqrt(np.maximum((q ** 2).sum(1)[:, None] + (d ** 2).sum(1)[None, :] - 2 * q @ d.T, 0))
    if metric == "cosine":
        return 1 - (q @ d.T) / np.outer(np.linalg.norm(q, axis=1), np.linalg.norm(d, axis=1))
    raise ValueError(metric)


def recalls(conn, table, ids, data, probes, metric, efs=(40, 100)):
    """Mean tie-tolerant recall@10 (as helpers_index.recall: a returned live
    row within the exact 10th distance is a hit) at each ef_search, exact
    distances computed once for all probes."""
    force_index(conn)
    assert_uses_index(conn, f"SELECT id FROM {table} ORDER BY v {OPS[metric]} '{vec_text(probes[0])}' LIMIT {K}")
    dist = exact_distances(data, probes, metric)
    kth = np.partition(dist, K - 1, axis=1)[:, K - 1]
    tol = 1e-5 * np.maximum(np.abs(kth), 1e-3) + 1e-9  # + float64 rounding of the expanded l2 form
    col = {int(i): c for c, i in enumerate(ids)}
    out = {}
    for ef in efs:
        total = 0.0
        for p, q in enumerate(probes):
            got = [col[i] for i in dict.fromkeys(index_ids(conn, table, q, K, ef, metric)) if i in col][:K]
            total += int((dist[p, got] <= kth[p] + tol[p]).sum()) / K
        out[ef] = total / len(probes)
    return out


def fmt(r):
    return ", ".join(f"ef {ef}: {v:.4f}" for ef, v in r.items())


# ---------------------------------------------------------------- 1. recall and size


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_sq8_recall_and_size_against_float4(cluster, metric):
    """recall@10 over the 200 queries at ef_search 40 and 100: sq8 >= 0.93
    at 100 and within 0.03 of the float4 index on the same rows at both;
    the sq8 index is at most 0.4 x the float4 index's size."""
    base, queries = minilm_fixture()
    db = ext_db(cluster, f"sq8_recall_{metric}", "vecstore")
    ops = OPCLASS[metric]
    with cluster.connect(db) as conn:
        ids = fixture_table(conn, base)
        conn.execute(f"CREATE INDEX t_f32 ON t USING hnsw (v {ops})")
        f32 = recalls(conn, "t", ids, base, queries, metric)
        f32_size = index_size(conn, "t_f32")
        conn.execute("DROP INDEX t_f32")
        t0 = time.time()
        conn.execute(f"CREATE INDEX t_sq8 ON t USING hnsw (v {ops}) {SQ8}")
        build = time.time() - t0
        sq8 = recalls(conn, "t", ids, base, queries, metric)
        sq8_size = index_size(conn, "t_sq8")
    msg = (f"{metric}: recall@10 sq8 [{fmt(sq8)}] float4 [{fmt(f32)}]; size sq8 {sq8_size / 2**20:.2f} MB, "
           f"float4 {f32_size / 2**20:.2f} MB (ratio {sq8_size / f32_size:.3f}); sq8 build {build:.2f} s")
    if has_pgvector(cluster):
        pdb = ext_db(cluster, f"sq8_recall_{metric}_pgv", "pgvector")
        with cluster.connect(pdb) as conn:
            fixture_table(conn, base)
            conn.execute(f"CREATE INDEX t_pgv ON t USING hnsw (v {ops})")
            pgv = recalls(conn, "t", ids, base, queries, metric)
            msg += f"; pgvector float4 [{fmt(pgv)}] {index_size(conn, 't_pgv') / 2**20:.2f} MB"
    print(msg)
    assert sq8[100] >= 0.93, msg
    for ef in (40, 100):
        assert sq8[ef] >= f32[ef] - MARGIN, msg
    assert sq8_size <= 0.4 * f32_size, msg


# ---------------------------------------------------------------- 2. single-row inserts


def test_sq8_single_row_inserts_match_a_build(cluster):
    """An empty sq8 index, then the 3,000 rows as single-row INSERTs (one
    transaction each): recall@10 within 0.03 of a build on the same rows,
    and every row reachable through the index."""
    base, queries = minilm_fixture()
    db = ext_db(cluster, "sq8_inserts", "vecstore")
    ids = np.arange(1, len(base) + 1)
    with cluster.connect(db) as conn:
        conn.execute(f"CREATE TABLE t (id int PRIMARY KEY, v vector({base.shape[1]}))")
        conn.execute(f"CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops) {SQ8}")
        t0 = time.time()
        with conn.cursor() as cur:  # autocommit: each INSERT commits on its own
            cur.executemany("INSERT INTO t VALUES (%s, %s::vector)",
                            [(int(i), vec_text(v)) for i, v in zip(ids, base)])
        took = time.time() - t0
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == len(base)
        inserted = recalls(conn, "t", ids, base, queries, "l2")
        inserted_size = index_size(conn, "t_v")
        stranded = unreachable_rows(cluster, db, "t")
        conn.execute("REINDEX INDEX t_v")
        built = recalls(conn, "t", ids, base, queries, "l2")
        built_size = index_size(conn, "t_v")
    msg = (f"3,000 single-row INSERTs in {took:.1f} s ({len(base) / took:.0f}/s): recall@10 [{fmt(inserted)}], "
           f"{inserted_size / 2**20:.2f} MB; built [{fmt(built)}], {built_size / 2**20:.2f} MB; "
           f"unreachable rows {stranded}")
    print(msg)
    for ef in (40, 100):
        assert inserted[ef] >= built[ef] - MARGIN, msg
    assert stranded == 0, msg


# ---------------------------------------------------------------- 3. VACUUM


def test_sq8_vacuum_then_reinsert(cluster):
    """Build on the 3,000 rows, delete half, VACUUM: recall@10 (200 queries
    plus 100 deleted rows as probes) within 0.03 of a fresh build on the
    same rows, every live row reachable; the deleted rows inserted back:
    recall within 0.03 of the first build, every row reachable."""
    base, queries = minilm_fixture()
    db = ext_db(cluster, "sq8_vacuum", "vecstore")
    n = len(base)
    keep = np.random.default_rng(77).random(n) < 0.5
    probes = np.concatenate([queries, base[~keep][:100]])
    with cluster.connect(db) as conn:
        ids = fixture_table(conn, base)
        conn.execute(f"CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops) {SQ8}")
        first = recalls(conn, "t", ids, base, probes, "l2")
        first_size = index_size(conn, "t_v")
        conn.execute("DELETE FROM t WHERE NOT (id = ANY(%s))", (ids[keep].tolist(),))
        conn.execute("VACUUM t")
        vacuumed = recalls(conn, "t", ids[keep], base[keep], probes, "l2")
        stranded_vac = unreachable_rows(cluster, db, "t")
        # a fresh build on the same live rows (same ids, same heap order)
        fixture_table(conn, base[keep], ids[keep], table="fresh")
        conn.execute(f"CREATE INDEX fresh_v ON fresh USING hnsw (v vector_l2_ops) {SQ8}")
        fresh = recalls(conn, "fresh", ids[keep], base[keep], probes, "l2")
        # the deleted rows back, into the vacuumed index
        copy_rows(conn, "t", ids[~keep], base[~keep])
        back = recalls(conn, "t", ids, base, probes, "l2")
        back_size = index_size(conn, "t_v")
        stranded_back = unreachable_rows(cluster, db, "t")
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == n
    msg = (f"{keep.sum()} of {n} rows kept, {len(probes)} probes: first build [{fmt(first)}] "
           f"{first_size / 2**20:.2f} MB; after VACUUM [{fmt(vacuumed)}], unreachable {stranded_vac}; "
           f"fresh build [{fmt(fresh)}]; deleted rows back [{fmt(back)}] {back_size / 2**20:.2f} MB, "
           f"unreachable {stranded_back}")
    print(msg)
    for ef in (40, 100):
        assert vacuumed[ef] >= fresh[ef] - MARGIN, msg
        assert back[ef] >= first[ef] - MARGIN, msg
    assert stranded_vac == 0, msg
    assert stranded_back == 0, msg


# ---------------------------------------------------------------- 5. replica

PROBES = 20


def probe_answers(c, db, queries):
    with c.connect(db) as conn:
        force_index(conn)
        conn.execute("SET hnsw.ef_search = 40")
        plan = "\n".join(r[0] for r in conn.execute(
            f"EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY v <-> '{vec_text(queries[0])}' LIMIT {K}"))
        assert "Index Scan using t_v" in plan, plan
        return [[r[0] for r in conn.execute(f"SELECT id FROM t ORDER BY v <-> %s::vector LIMIT {K}",
                                           (vec_text(q),))] for q in queries]


def test_sq8_standby_answers_like_the_primary(cluster):
    """Build on 2,000 rows, insert 1,000 more, delete every 5th, VACUUM,
    insert 300 back, all on the primary; the standby, caught up, answers
    20 probes with the same ids in the same order."""
    base, queries = minilm_fixture()
    db = ext_db(cluster, "sq8_replica", "vecstore")
    standby = cluster.standby(name="sq8-standby")
    try:
        ids = np.arange(1, len(base) + 1)
        with cluster.connect(db) as conn:
            conn.execute(f"CREATE TABLE t (id int PRIMARY KEY, v vector({base.shape[1]}))")
            copy_rows(conn, "t", ids[:2000], base[:2000])
            conn.execute(f"CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops) {SQ8}")
            copy_rows(conn, "t", ids[2000:], base[2000:])
            conn.execute("DELETE FROM t WHERE id % 5 = 0")
            conn.execute("VACUUM t")
            back = ids[(ids % 5 == 0)][:300]
            copy_rows(conn, "t", back, base[back - 1])
        cluster.wait_replay(standby)
        probes = queries[:PROBES]
        primary = probe_answers(cluster, db, probes)
        replica = probe_answers(standby, db, probes)
        same = sum(p == r for p, r in zip(primary, replica))
        un_p, un_s = unreachable_rows(cluster, db, "t"), unreachable_rows(standby, db, "t")
        print(f"standby: {same} of {PROBES} probes answered exactly as the primary; unreachable rows "
              f"primary {un_p}, standby {un_s}")
        assert all(len(p) == K for p in primary)
        assert replica == primary
        assert un_s == un_p == 0
        assert not standby.log_problems(), standby.log_problems()
    finally:
        standby.destroy()


# ---------------------------------------------------------------- 6. exact order


@pytest.mark.parametrize("metric", ["l2", "cosine", "ip", "l1"])
def test_sq8_results_are_exact_distances_in_order(cluster, metric):
    """100 queries, LIMIT 20 at ef_search 1000 through the sq8 index: the
    distances come sorted and equal the exact top 20 (a sequential scan's)."""
    base, queries = minilm_fixture()
    db = ext_db(cluster, f"sq8_exact_{metric}", "vecstore")
    op = {"l2": "<->", "cosine": "<=>", "ip": "<#>", "l1": "<+>"}[metric]
    q_sql = f"SELECT v {op} %s::vector FROM t ORDER BY v {op} %s::vector LIMIT 20"
    unsorted, differ = [], []
    with cluster.connect(db) as conn:
        fixture_table(conn, base)
        conn.execute(f"CREATE INDEX t_v ON t USING hnsw (v {OPCLASS[metric]}) {SQ8}")
        conn.execute("SET hnsw.ef_search = 1000")
        for k, q in enumerate(queries[:100]):
            qt = vec_text(q)
            force_index(conn)
            if k == 0:
                plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (COSTS OFF) " + q_sql, (qt, qt)))
                assert "Index Scan using t_v" in plan, plan
            got = [r[0] for r in conn.execute(q_sql, (qt, qt))]
            conn.execute("SET enable_indexscan = off; SET enable_seqscan = on")
            exact = [r[0] for r in conn.execute(q_sql, (qt, qt))]
            conn.execute("RESET enable_indexscan")
            if got != sorted(got):
                unsorted.append(k)
            if got != exact:
                differ.append(k)
    msg = (f"{metric} ({op}): of 100 queries, {len(unsorted)} out of order {unsorted[:10]}, "
           f"{len(differ)} differ from the exact top 20 {differ[:10]}")
    print(msg)
    assert not unsorted and not differ, msg


# ---------------------------------------------------------------- 4. crash recovery (last: restarts the cluster)


def test_sq8_immediate_stop_during_inserts_loses_nothing(cluster):
    """sq8 index on 1,000 rows; two sessions insert the other 2,000 rows one
    per transaction until an immediate stop; after restart every
    acknowledged row is in the table and found through the index, and a
    full index scan counts every row."""
    base, _ = minilm_fixture()
    db = ext_db(cluster, "sq8_crash", "vecstore")
    ids = np.arange(1, len(base) + 1)
    with cluster.connect(db) as conn:
        fixture_table(conn, base[:1000], ids[:1000])
        conn.execute(f"CREATE TABLE src (id int PRIMARY KEY, v vector({base.shape[1]}))")
        copy_rows(conn, "src", ids[1000:], base[1000:])
        # no CHECKPOINT: recovery replays the build's WAL as well as the inserts'
        conn.execute(f"CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops) {SQ8}")
    acknowledged = []

    def load(first, last):
        # one transaction per row; the NOTICE is sent only after the COMMIT
        try:
            with cluster.connect(db) as conn:
                conn.add_notice_handler(lambda n: acknowledged.append(n.message_primary))
                conn.execute(f"""DO $$ BEGIN
                  FOR i IN {first}..{last} LOOP
                    INSERT INTO t SELECT id, v FROM src WHERE id = i;
                    COMMIT;
                    RAISE NOTICE 'committed %', i;
                  END LOOP; END $$""")
        except psycopg.Error:
            pass  # the crash ends the session

    loaders = [threading.Thread(target=load, args=r) for r in ((1001, 2000), (2001, 3000))]
    for t in loaders:
        t.start()
    # crash in mid-workload: once 400 rows are acknowledged (a fixed sleep
    # would let a fast machine finish the 2,000)
    assert wait_for(lambda: len(acknowledged) >= 400, timeout=120), "the loaders commit rows"
    cluster.crash()
    for t in loaders:
        t.join()
    cluster.start()
    committed = [int(m.group(1)) for a in acknowledged if (m := re.fullmatch(r"committed (\d+)", a))]
    per_loader = [sum(1 for c in committed if lo <= c <= hi) for lo, hi in ((1001, 2000), (2001, 3000))]
    print(f"inserts acknowledged before the crash: {len(committed)} of 2000 (per session {per_loader})")
    assert min(per_loader) > 0, "both sessions inserted"
    assert len(committed) > 50, "the workload committed rows before the crash"
    assert len(committed) < 2000, "the crash hit the workload before it finished"
    assert cluster.scalar("SELECT count(*) FROM unnest(%s::int[]) i WHERE NOT EXISTS (SELECT 1 FROM t WHERE id = i)",
                          db, (committed,)) == 0, "no acknowledged row is lost"
    rows = cluster.scalar("SELECT count(*) FROM t", db)
    stranded = unreachable_rows(cluster, db, "t")
    with cluster.connect(db) as conn:
        force_index(conn)
        conn.execute("SET hnsw.iterative_scan = relaxed_order")
        conn.execute("SET hnsw.max_scan_tuples = 100000")
        q = f"SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '{vec_text(base[0])}' LIMIT 100000) s"
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (COSTS OFF) " + q))
        assert "Index Scan using t_v" in plan, plan
        via_index = conn.execute(q).fetchone()[0]
    print(f"after recovery: {rows} rows (1000 + {rows - 1000} inserted), {via_index} through a full index scan, "
          f"{stranded} unreachable")
    assert stranded == 0, "every row is found through the index after recovery"
    assert via_index == rows, "a full index scan returns every row"
    with cluster.connect(db) as conn:
        missing = conn.execute("SELECT array_agg(id) FROM src WHERE NOT EXISTS (SELECT 1 FROM t WHERE t.id = src.id)"
                               ).fetchone()[0] or []
        conn.execute("INSERT INTO t SELECT * FROM src WHERE id = ANY(%s)", (missing,))
        conn.execute("DELETE FROM t WHERE id % 3 = 0")
        conn.execute("VACUUM t")
    assert unreachable_rows(cluster, db, "t") == 0, "inserts and VACUUM work after recovery"
    problems = cluster.log_problems(allow=("terminating connection because of crash", "the database system is"))
    assert not problems, problems
