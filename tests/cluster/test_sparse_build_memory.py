"""A sparsevec hnsw build holds each collected value at its own size (8
bytes plus 8 per non-zero), not padded to the index's room for non-zeros
(`vecstore_max_nnz`, default 1,000: ~8 KB a row), and its
maintenance_work_mem budget counts those real bytes.

- Fits: 12,000 rows of 5-40 non-zeros with the default maintenance_work_mem
  (64 MB). Padded, they need ~100 MB and the build used to spill to the slow
  on-disk insert after ~7,500 rows; at their real size (~200 bytes each)
  all of them are linked in memory: no spill NOTICE, DEBUG1 reports every
  row linked, and every row is found by an index scan for its own value.
- Exceeds: 1,500 rows of ~300 non-zeros (2.4 KB each, 3.6 MB) with
  maintenance_work_mem = 1MB still spill, after the number of rows their
  real size allows (not the ~120 a padded row allows), and every row,
  linked in memory or inserted after the spill, is found.
"""

# deterministic sparse values: about n distinct indices (hash of seed, k)
# over a small vocabulary (rows overlap, so a cosine graph is navigable;
# near-orthogonal rows under L2 strand many), values 1..97
RS = """CREATE FUNCTION rs(seed int, n int, vocab int) RETURNS sparsevec LANGUAGE sql IMMUTABLE AS $$
  SELECT ('{' || string_agg(i::text || ':' || ((i * seed) % 97 + 1)::text, ',' ORDER BY i) || '}/30522')::sparsevec
  FROM (SELECT DISTINCT (abs(hashint4(seed * 100003 + k)) % vocab) + 1 AS i FROM generate_series(1, n) k) s $$"""


def build(cluster, db, mwm=None):
    """Builds t_v with DEBUG1 on; returns (notices, rows linked in memory)."""
    with cluster.connect(db) as conn:
        messages = []
        conn.add_notice_handler(lambda n: messages.append(n.message_primary))
        if mwm:
            conn.execute(f"SET maintenance_work_mem = '{mwm}'")
        conn.execute("SET client_min_messages = debug1")
        conn.execute("CREATE INDEX t_v ON t USING hnsw (v sparsevec_cosine_ops)")
    linked = [int(m.split()[3]) for m in messages if m.startswith("hnsw build: linked ")]
    return messages, linked


def unfound_rows(cluster, db):
    """Rows not among the index scan's 5 nearest (ef_search 1000) to their
    own value; the seqscan's nearest is the row itself (distance 0)."""
    not_found = """NOT EXISTS (SELECT 1 FROM (SELECT id FROM t t2 ORDER BY t2.v <=> t.v LIMIT 5) s WHERE s.id = t.id)"""
    with cluster.connect(db) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET hnsw.ef_search = 1000")
        return conn.execute(f"SELECT count(*) FROM t WHERE {not_found}").fetchone()[0]


def test_rows_with_few_non_zeros_are_linked_in_memory(cluster, db):
    n = 12000
    cluster.sql(RS, db)
    cluster.sql(f"""CREATE TABLE t (id int PRIMARY KEY, v sparsevec(30522));
        INSERT INTO t SELECT g, rs(g, 5 + g % 36, 300) FROM generate_series(1, {n}) g""", db)
    assert cluster.scalar("SHOW maintenance_work_mem", db) == "64MB"
    messages, linked = build(cluster, db)
    assert not [m for m in messages if "no longer fits" in m], messages
    assert linked == [n], messages
    assert unfound_rows(cluster, db) == 0


def test_rows_over_the_budget_still_spill(cluster, db):
    n = 1500
    cluster.sql(RS, db)
    cluster.sql(f"""CREATE TABLE t (id int PRIMARY KEY, v sparsevec(30522));
        INSERT INTO t SELECT g, rs(g, 300, 3000) FROM generate_series(1, {n}) g""", db)
    messages, linked = build(cluster, db, mwm="1MB")
    spill = [m for m in messages if "no longer fits into maintenance_work_mem" in m]
    assert len(spill) == 1, messages
    after = int(spill[0].split()[-2])
    # ~2.6 KB of value and bookkeeping a row: some 400 rows fit in 1 MB
    # (padded to 1,000 non-zeros, only ~120 would)
    assert 250 <= after <= 450, spill
    assert linked == [after], messages
    assert cluster.scalar("SELECT count(*) FROM t", db) == n
    assert unfound_rows(cluster, db) == 0
