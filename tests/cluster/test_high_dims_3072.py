"""Issues 8 and 9: 3,072-d (and 4,096-d) vectors indexed past pgvector's
2,000-dims limit, and halfvec past pgvector's 4,000 (halfvec(8000)).

Data: the 3,000 real MiniLM embeddings (384-d) of the fixture and their
queries, embedded into `dims` dimensions by a fixed (seeded) random
projection with orthonormal columns, plus a small full-rank gaussian residual
(|noise| ~ 0.1), renormalised to unit length: real neighbourhood structure,
and a value of every dimension non-zero as in a true 3,072-d embedding.
Exact answers are computed with numpy on exactly the values indexed (for
halfvec: the values rounded to float16).

A 3,072-d float4 value is 12,288 bytes: more than a page, so every element
keeps the part that does not fit its element tuple in chunk tuples; the
page walk below (pageinspect) checks the graph really has several layers and
chunked elements. The crash test restarts the cluster: it is last.
"""

import re
import threading
import time

import numpy as np
import psycopg
import pytest

from helpers import unreachable_rows, wait_for
from helpers_index import copy_rows, ext_db, force_index, has_pgvector, minilm_fixture, vec_text

CLUSTER_CONF = {"maintenance_work_mem": "'512MB'"}
K = 10
SQ8 = "WITH (vecstore_quantize = sq8)"
# (column type, opclass, WITH clause)
CASES = {
    "vector3072": ("vector(3072)", "vector_l2_ops", ""),
    "vector3072_sq8": ("vector(3072)", "vector_l2_ops", SQ8),
    "halfvec3072": ("halfvec(3072)", "halfvec_l2_ops", ""),
    "halfvec8000": ("halfvec(8000)", "halfvec_l2_ops", ""),
    "vector4096": ("vector(4096)", "vector_l2_ops", ""),
}
EF = 40  # ef_search (pgvector's default) at which recall@10 must reach 0.95
MIN_RECALL = 0.95
PROBES = 50
# errors test_dims_limits_against_pgvector provokes on purpose (the server log is the module's)
EXPECTED_ERRORS = ("dimensions for hnsw index", "dimensions for ivfflat index")


# ---------------------------------------------------------------- data


def embedded(dims, seed=3072):
    """The fixture's base rows and queries embedded into `dims` dimensions
    (unit vectors, float32)."""
    base, queries = minilm_fixture()
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((dims, base.shape[1])))  # dims x 384, Q^T Q = I

    def embed(x):
        y = x.astype(np.float64) @ q.T + rng.normal(0, 0.1 / np.sqrt(dims), (len(x), dims))
        return (y / np.linalg.norm(y, axis=1, keepdims=True)).astype(np.float32)

    return embed(base), embed(queries)


def col_type(coltype):
    return coltype.split("(")[0]


def as_stored(data, coltype):
    """The values the column holds (halfvec rounds to float16)."""
    return data.astype(np.float16).astype(np.float32) if col_type(coltype) == "halfvec" else data


def make_table(conn, table, coltype, ids, data, extra=""):
    """CREATE TABLE table (id int PRIMARY KEY, v coltype [, extra]) with rows
    (binary COPY of vector values; a halfvec column is converted after)."""
    dims = data.shape[1]
    conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v vector({dims}){', ' + extra if extra else ''})")
    if len(ids):
        copy_rows(conn, table, ids, data)
    if coltype != f"vector({dims})":
        conn.execute(f"ALTER TABLE {table} ALTER COLUMN v TYPE {coltype}")
    conn.execute(f"VACUUM ANALYZE {table}")


def plan_text(conn, sql):
    return "\n".join(r[0] for r in conn.execute("EXPLAIN (COSTS OFF) " + sql))


def knn(conn, table, coltype, q, k=K):
    return [r[0] for r in conn.execute(f"SELECT id FROM {table} ORDER BY v <-> %s::{coltype} LIMIT {k}",
                                       (vec_text(q),))]


def plan(conn, table, coltype, q):
    return "\n".join(r[0] for r in conn.execute(
        f"EXPLAIN (COSTS OFF) SELECT id FROM {table} ORDER BY v <-> '{vec_text(q)}'::{coltype} LIMIT {K}"))


def recalls(conn, table, coltype, ids, data, probes, efs=(EF,)):
    """Mean tie-tolerant recall@10 of the index (forced) at each ef_search
    against exact l2 over the live rows (`ids`, `data` as stored)."""
    force_index(conn)
    assert "Index Scan" in plan(conn, table, coltype, probes[0])
    d = np.asarray(data, dtype=np.float64)
    p = as_stored(probes, coltype).astype(np.float64)
    dist = np.sqrt(np.maximum((p ** 2).sum(1)[:, None] + (d ** 2).sum(1)[None, :] - 2 * p @ d.T, 0))
    kth = np.partition(dist, K - 1, axis=1)[:, K - 1]
    tol = 1e-5 * np.maximum(kth, 1e-3) + 1e-7
    col = {int(i): c for c, i in enumerate(ids)}
    out = {}
    for ef in efs:
        conn.execute(f"SET hnsw.ef_search = {ef}")
        total = 0.0
        for j, q in enumerate(probes):
            got = [col[i] for i in dict.fromkeys(knn(conn, table, coltype, q)) if i in col][:K]
            total += int((dist[j, got] <= kth[j] + tol[j]).sum()) / K
        out[ef] = total / len(probes)
    return out


def fmt(r):
    return ", ".join(f"ef {ef}: {v:.4f}" for ef, v in r.items())


# ---------------------------------------------------------------- page walk


def graph_shape(conn, index):
    """Walks the index pages (pageinspect): element count per level, live
    elements, chunk tuples and the metapage's entry level."""
    conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
    nblocks = conn.execute("SELECT pg_relation_size(%s::regclass) / 8192", (index,)).fetchone()[0]
    levels, live, chunks = {}, 0, 0
    with conn.cursor() as cur:
        cur.execute("SELECT get_raw_page(%s, b::int) FROM generate_series(1, %s) b", (index, nblocks - 1))
        for (page,) in cur:
            page = bytes(page)
            lower = int.from_bytes(page[12:14], "little")
            for off in range(24, lower, 4):
                lp = int.from_bytes(page[off:off + 4], "little")
                start, flags, length = lp & 0x7FFF, (lp >> 15) & 3, lp >> 17
                if flags != 1 or length == 0:
                    continue
                kind = page[start]
                if kind == 0xE1:  # element: kind, state, level
                    live += page[start + 1] == 1
                    levels[page[start + 2]] = levels.get(page[start + 2], 0) + 1
                elif kind == 0xC3:
                    chunks += 1
    return {"levels": dict(sorted(levels.items())), "live": live, "chunks": chunks, "blocks": nblocks}


def entry_level(conn, index):
    """The metapage's entry level (MetaPage at the page contents, offset 24:
    magic u32, version u32, dims u32, m u16, ef_construction u16, metric u8,
    value kind u8, entry level u8)."""
    conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
    page = bytes(conn.execute("SELECT get_raw_page(%s, 0)", (index,)).fetchone()[0])
    assert int.from_bytes(page[24:28], "little") == 0x5653484E, "vecstore metapage magic"
    return page[42]


# ---------------------------------------------------------------- 1. recall per type


@pytest.mark.parametrize("case", list(CASES))
def test_recall_at_high_dims(cluster, case):
    """1,500 rows, hnsw m 16 ef_construction 64 (the defaults) built on
    1,400 (the build's levels are seeded: the same graph every run), 100 as
    single-row inserts:
    recall@10 over 50 queries >= 0.95 at ef_search 40; the graph has >= 3
    layers and one live element per row, and values over a page span chunk
    tuples."""
    coltype, ops, with_ = CASES[case]
    dims = int(coltype.split("(")[1].rstrip(")"))
    base, queries = embedded(dims)
    base = base[:1500]
    n_build = len(base) - 100
    db = ext_db(cluster, f"recall_{case}", "vecstore")
    ids = np.arange(1, len(base) + 1)
    stored = as_stored(base, coltype)
    with cluster.connect(db) as conn:
        make_table(conn, "t", coltype, ids[:n_build], base[:n_build])
        t0 = time.time()
        conn.execute(f"CREATE INDEX t_v ON t USING hnsw (v {ops}) {with_}")
        build = time.time() - t0
        built_levels = entry_level(conn, "t_v")
        t0 = time.time()
        with conn.cursor() as cur:  # autocommit: one transaction per row
            cur.executemany(f"INSERT INTO t VALUES (%s, %s::{coltype})",
                            [(int(i), vec_text(v)) for i, v in zip(ids[n_build:], base[n_build:])])
        inserts = time.time() - t0
        r = recalls(conn, "t", coltype, ids, stored, queries[:PROBES])
        shape = graph_shape(conn, "t_v")
        size = conn.execute("SELECT pg_relation_size('t_v')").fetchone()[0]
    value_bytes = {"vector": 4 * dims, "halfvec": 2 * dims}[col_type(coltype)] if not with_ else dims + 16
    msg = (f"{case}: build {n_build} rows {build:.1f} s, {len(base) - n_build} inserts {inserts:.1f} s; "
           f"recall@10 [{fmt(r)}]; index {size / 2**20:.1f} MB ({size / len(base):.0f} B/row, value {value_bytes} B); "
           f"graph {shape}, entry level after the build {built_levels}")
    print(msg)
    assert r[EF] >= MIN_RECALL, msg
    assert shape["live"] == len(base), msg
    assert built_levels >= 2 and max(shape["levels"]) >= built_levels, msg
    if value_bytes > 8192:
        assert shape["chunks"] >= len(base) * (value_bytes // 8192), msg


# ---------------------------------------------------------------- 2. limits against pgvector


LIMITS = [
    # (statement, pgvector's error), vecstore: the same error, or none where vecstore goes further
    ("CREATE INDEX ON h8000 USING hnsw (v halfvec_l2_ops)",
     "column cannot have more than 4000 dimensions for hnsw index"),
    ("CREATE INDEX ON h4001 USING hnsw (v halfvec_cosine_ops)",
     "column cannot have more than 4000 dimensions for hnsw index"),
    ("CREATE INDEX h16000_v ON h16000 USING hnsw (v halfvec_l2_ops)",
     "column cannot have more than 4000 dimensions for hnsw index"),
    ("CREATE INDEX ON v3072 USING hnsw (v vector_l2_ops)",
     "column cannot have more than 2000 dimensions for hnsw index"),
    ("CREATE INDEX ON b64001 USING hnsw (v bit_hamming_ops)",
     "column cannot have more than 64000 dimensions for hnsw index"),
    ("CREATE INDEX ON h4001 USING ivfflat (v halfvec_l2_ops) WITH (lists = 1)",
     "column cannot have more than 4000 dimensions for ivfflat index"),
    ("CREATE INDEX ON v3072 USING ivfflat (v vector_l2_ops) WITH (lists = 1)",
     "column cannot have more than 2000 dimensions for ivfflat index"),
]
TABLES = """CREATE TABLE h8000 (v halfvec(8000)); CREATE TABLE h4001 (v halfvec(4001));
  CREATE TABLE h16000 (id int, v halfvec(16000));
  INSERT INTO h16000 SELECT i, array_fill(i * 0.25, ARRAY[16000]) FROM generate_series(1, 20) i;
  CREATE TABLE v3072 (v vector(3072)); CREATE TABLE b64001 (v bit(64001));
  INSERT INTO h8000 SELECT array_fill(0.5, ARRAY[8000]); INSERT INTO h4001 SELECT array_fill(0.5, ARRAY[4001]);
  INSERT INTO v3072 SELECT array_fill(0.5, ARRAY[3072])"""


def limit_outcomes(cluster, db):
    cluster.psql(TABLES, db)
    out = []
    with cluster.connect(db) as conn:
        for stmt, _ in LIMITS:
            try:
                conn.execute(stmt)
                out.append(None)
            except psycopg.Error as e:
                out.append((e.sqlstate, e.diag.message_primary))
    return out


def test_dims_limits_against_pgvector(cluster):
    """hnsw indexes halfvec(4001), halfvec(8000), halfvec(16000) (the type's
    own limit; then inserts and answers in order) and vector(3072), which
    pgvector refuses; the limits vecstore keeps (bit 64,000 for hnsw, ivfflat's
    halfvec 4,000 and vector 2,000) fail with pgvector's wording and SQLSTATE
    54000."""
    db = "limits_vs"
    expect_vs = [None, None, None, None, ("54000", LIMITS[4][1]), ("54000", LIMITS[5][1]), ("54000", LIMITS[6][1])]
    vs = limit_outcomes(cluster, ext_db(cluster, db, "vecstore"))
    assert vs == expect_vs
    with cluster.connect(db) as conn:
        conn.execute("INSERT INTO h16000 SELECT i, array_fill(i * 0.25, ARRAY[16000]) FROM generate_series(21, 30) i")
        force_index(conn)
        q = "SELECT id FROM h16000 ORDER BY v <-> array_fill(5.3, ARRAY[16000])::halfvec LIMIT 5"
        assert "Index Scan using h16000_v" in plan_text(conn, q)
        assert [r[0] for r in conn.execute(q)] == [21, 22, 20, 23, 19]
    if has_pgvector(cluster):
        pgv = limit_outcomes(cluster, ext_db(cluster, "limits_pgv", "pgvector"))
        assert pgv == [("54000", msg) for _, msg in LIMITS]


# ---------------------------------------------------------------- 3. concurrent inserts and VACUUM


def insert_rows(cluster, db, ranges, acknowledged, log=None):
    """One thread per id range: each row copied from `src` in its own
    transaction; acknowledged ids (after COMMIT) are appended."""

    def load(first, last):
        try:
            with cluster.connect(db) as conn:
                conn.add_notice_handler(lambda n: acknowledged.append((time.time(), n.message_primary)))
                conn.execute(f"""DO $$ BEGIN
                  FOR i IN {first}..{last} LOOP
                    INSERT INTO t SELECT id, v FROM src WHERE id = i;
                    COMMIT;
                    RAISE NOTICE 'committed %', i;
                  END LOOP; END $$""")
        except psycopg.Error as e:
            if log is not None:
                log.append(str(e).splitlines()[0])

    threads = [threading.Thread(target=load, args=r) for r in ranges]
    for t in threads:
        t.start()
    return threads


def committed_ids(acknowledged):
    return [int(m.group(1)) for _, a in acknowledged if (m := re.fullmatch(r"committed (\d+)", a))]


def full_scan_count(conn, q):
    """Rows a full relaxed iterative index scan returns."""
    force_index(conn)
    conn.execute("SET hnsw.iterative_scan = relaxed_order")
    conn.execute("SET hnsw.max_scan_tuples = 1000000")
    sql = f"SELECT count(*) FROM (SELECT id FROM t ORDER BY v <-> '{vec_text(q)}' LIMIT 1000000) s"
    assert "Index Scan using t_v" in "\n".join(r[0] for r in conn.execute("EXPLAIN (COSTS OFF) " + sql))
    n = conn.execute(sql).fetchone()[0]
    conn.execute("RESET hnsw.iterative_scan; RESET hnsw.max_scan_tuples")
    return n


def test_concurrent_inserts_during_vacuum(cluster):
    """vector(3072): index built on 1,500 rows, every 3rd deleted; VACUUM
    runs while 4 sessions insert 500 more rows, one per transaction. After:
    every row reachable, recall@10 >= 0.95 at ef_search 40 over the live
    rows, a full index scan returns each live row once."""
    base, queries = embedded(3072)
    base = base[:2000]
    ids = np.arange(1, len(base) + 1)
    db = ext_db(cluster, "concurrent_vacuum", "vecstore")
    with cluster.connect(db) as conn:
        make_table(conn, "t", "vector(3072)", ids[:1500], base[:1500])
        make_table(conn, "src", "vector(3072)", ids[1500:], base[1500:])
        conn.execute("CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops)")
        conn.execute("DELETE FROM t WHERE id % 3 = 0")
    acknowledged, errors = [], []
    vac = {}

    def vacuum():
        vac["start"] = time.time()
        try:
            cluster.sql("VACUUM t", db)
        except psycopg.Error as e:
            errors.append(str(e).splitlines()[0])
        vac["end"] = time.time()

    vt = threading.Thread(target=vacuum)
    vt.start()
    loaders = insert_rows(cluster, db, [(1501 + 125 * k, 1625 + 125 * k) for k in range(4)], acknowledged, errors)
    for t in [vt, *loaders]:
        t.join()
    during = sum(1 for ts, _ in acknowledged if vac["start"] <= ts <= vac["end"])
    live = ids[(ids % 3 != 0) | (ids > 1500)]
    with cluster.connect(db) as conn:
        rows = conn.execute("SELECT count(*) FROM t").fetchone()[0]
        r = recalls(conn, "t", "vector(3072)", live, base[live - 1], queries[:PROBES])
        via_index = full_scan_count(conn, queries[0])
        dup = conn.execute("SELECT count(*) - count(DISTINCT id) FROM t").fetchone()[0]
    stranded = unreachable_rows(cluster, db, "t")
    msg = (f"VACUUM {vac['end'] - vac['start']:.1f} s, {during} of {len(acknowledged)} inserts committed during it; "
           f"errors {errors}; rows {rows}, full index scan {via_index}, unreachable {stranded}; recall@10 [{fmt(r)}]")
    print(msg)
    assert not errors, msg
    assert len(committed_ids(acknowledged)) == 500 and rows == len(live) and dup == 0, msg
    assert during > 0, "inserts ran while VACUUM did: " + msg
    assert stranded == 0, msg
    assert via_index == rows, msg
    assert r[EF] >= MIN_RECALL, msg
    assert not cluster.log_problems(allow=EXPECTED_ERRORS), cluster.log_problems(allow=EXPECTED_ERRORS)


# ---------------------------------------------------------------- 4. UPDATE keeping the vector


def test_update_keeping_the_vector(cluster):
    """vector(3072), 600 rows indexed; UPDATEs that keep the vector (a
    payload column: HOT where it can be; the primary key: never HOT, so a
    new index entry for the same value), then VACUUM: each row found once
    through the index by its own vector, exact top 10 for the queries, a
    full index scan returns each row once."""
    base, queries = embedded(3072)
    base = base[:600]
    ids = np.arange(1, len(base) + 1)
    db = ext_db(cluster, "update_keep", "vecstore")
    with cluster.connect(db) as conn:
        make_table(conn, "t", "vector(3072)", ids, base, extra="note text")
        conn.execute("CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops)")
        size0 = conn.execute("SELECT pg_relation_size('t_v')").fetchone()[0]
        conn.execute("UPDATE t SET note = 'payload ' || id WHERE id % 2 = 0")
        conn.execute("UPDATE t SET id = id + 100000 WHERE id % 3 = 0")
        conn.execute("UPDATE t SET note = 'again' WHERE id % 5 = 0")
        size1 = conn.execute("SELECT pg_relation_size('t_v')").fetchone()[0]
        conn.execute("VACUUM t")
        new_ids = np.where(ids % 3 == 0, ids + 100000, ids)
        force_index(conn)
        conn.execute("SET hnsw.ef_search = 100")
        self_first = sum(knn(conn, "t", "vector(3072)", v, 1) == [int(i)] for i, v in zip(new_ids[::7], base[::7]))
        r = recalls(conn, "t", "vector(3072)", new_ids, base, queries[:PROBES])
        answers = [knn(conn, "t", "vector(3072)", q, 20) for q in queries[:PROBES]]
        via_index = full_scan_count(conn, queries[0])
        rows = conn.execute("SELECT count(*) FROM t").fetchone()[0]
        notes = conn.execute("SELECT count(*) FROM t WHERE note IS NOT NULL").fetchone()[0]
        shape = graph_shape(conn, "t_v")
    stranded = unreachable_rows(cluster, db, "t")
    repeated = sum(len(a) != len(set(a)) for a in answers)
    msg = (f"index {size0 / 2**20:.1f} MB -> {size1 / 2**20:.1f} MB after the UPDATEs; self-query first "
           f"{self_first} of {len(new_ids[::7])}; recall@10 [{fmt(r)}]; full index scan {via_index} of {rows}; "
           f"unreachable {stranded}; answers with a repeated id {repeated}; after VACUUM {shape}")
    print(msg)
    assert rows == len(ids) and notes == len(ids[(ids % 2 == 0) | (ids % 5 == 0)]), msg
    assert self_first == len(new_ids[::7]), msg
    assert r[EF] >= MIN_RECALL, msg
    assert via_index == rows and stranded == 0 and repeated == 0, msg


# ---------------------------------------------------------------- 5. streaming standby


def probe_answers(c, db, coltype, queries):
    with c.connect(db) as conn:
        force_index(conn)
        conn.execute(f"SET hnsw.ef_search = {EF}")
        assert "Index Scan using t_v" in plan(conn, "t", coltype, queries[0])
        return [knn(conn, "t", coltype, q) for q in queries]


def test_standby_answers_like_the_primary(cluster, coltype="vector(3072)", ops="vector_l2_ops"):
    """Build on 600 rows, 200 more inserted, every 5th deleted, VACUUM, 100
    inserted back, all on the primary; the standby, caught up, answers 20
    probes with the same ids in the same order, as reachable as the primary."""
    dims = int(coltype.split("(")[1].rstrip(")"))
    base, queries = embedded(dims)
    base = base[:800]
    ids = np.arange(1, len(base) + 1)
    db = ext_db(cluster, f"replica_{col_type(coltype)}", "vecstore")
    standby = cluster.standby(name=f"standby-{col_type(coltype)}")
    try:
        with cluster.connect(db) as conn:
            make_table(conn, "t", coltype, ids[:600], base[:600])
            conn.execute(f"CREATE INDEX t_v ON t USING hnsw (v {ops})")
            make_table(conn, "src", coltype, ids[600:], base[600:])
            conn.execute("INSERT INTO t SELECT * FROM src")
            conn.execute("DELETE FROM t WHERE id % 5 = 0")
            conn.execute("VACUUM t")
            conn.execute("INSERT INTO t SELECT * FROM src WHERE id % 5 = 0 ORDER BY id LIMIT 100")
            back = conn.execute("SELECT count(*) FROM t").fetchone()[0]
        cluster.wait_replay(standby)
        primary = probe_answers(cluster, db, coltype, queries[:20])
        replica = probe_answers(standby, db, coltype, queries[:20])
        un_p, un_s = unreachable_rows(cluster, db, "t"), unreachable_rows(standby, db, "t")
        same = sum(p == r for p, r in zip(primary, replica))
        print(f"{coltype}: {back} rows; standby answers {same} of 20 probes as the primary; "
              f"unreachable primary {un_p}, standby {un_s}")
        assert all(len(p) == K for p in primary)
        assert replica == primary
        assert un_s == un_p == 0
        assert not standby.log_problems(), standby.log_problems()
    finally:
        standby.destroy()


# ---------------------------------------------------------------- 6. crash recovery (last: restarts the cluster)


def test_immediate_stop_during_inserts_loses_nothing(cluster):
    """vector(3072) index on 600 rows (no checkpoint after the build); two
    sessions insert 1,000 more, one per transaction, until an immediate stop
    once 150 are acknowledged; after restart every acknowledged row is in
    the table, found through the index, and a full index scan counts every
    row; inserts and VACUUM work after."""
    base, queries = embedded(3072)
    base = base[:1600]
    ids = np.arange(1, len(base) + 1)
    db = ext_db(cluster, "crash", "vecstore")
    with cluster.connect(db) as conn:
        make_table(conn, "t", "vector(3072)", ids[:600], base[:600])
        make_table(conn, "src", "vector(3072)", ids[600:], base[600:])
        conn.execute("CREATE INDEX t_v ON t USING hnsw (v vector_l2_ops)")
    acknowledged = []
    loaders = insert_rows(cluster, db, [(601, 1100), (1101, 1600)], acknowledged)
    assert wait_for(lambda: len(acknowledged) >= 150, timeout=120), "the loaders commit rows"
    cluster.crash()
    for t in loaders:
        t.join()
    cluster.start()
    committed = committed_ids(acknowledged)
    per_loader = [sum(1 for c in committed if lo <= c <= hi) for lo, hi in ((601, 1100), (1101, 1600))]
    assert min(per_loader) > 0 and len(committed) < 1000, per_loader
    assert cluster.scalar("SELECT count(*) FROM unnest(%s::int[]) i WHERE NOT EXISTS (SELECT 1 FROM t WHERE id = i)",
                          db, (committed,)) == 0, "no acknowledged row is lost"
    with cluster.connect(db) as conn:
        rows = conn.execute("SELECT count(*) FROM t").fetchone()[0]
        via_index = full_scan_count(conn, queries[0])
        present = np.array([r[0] for r in conn.execute("SELECT id FROM t ORDER BY id")])
        r = recalls(conn, "t", "vector(3072)", present, base[present - 1], queries[:PROBES])
    stranded = unreachable_rows(cluster, db, "t")
    msg = (f"acknowledged {len(committed)} (per session {per_loader}); after recovery {rows} rows, full index scan "
           f"{via_index}, unreachable {stranded}, recall@10 [{fmt(r)}]")
    print(msg)
    assert stranded == 0 and via_index == rows, msg
    assert r[EF] >= MIN_RECALL, msg
    with cluster.connect(db) as conn:
        conn.execute("INSERT INTO t SELECT * FROM src WHERE id NOT IN (SELECT id FROM t)")
        conn.execute("DELETE FROM t WHERE id % 3 = 0")
        conn.execute("VACUUM t")
    assert unreachable_rows(cluster, db, "t") == 0, "inserts and VACUUM work after recovery"
    problems = cluster.log_problems(allow=("terminating connection because of crash", "the database system is",
                                            *EXPECTED_ERRORS))
    assert not problems, problems
