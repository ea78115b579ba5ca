"""Review of the prepared sparse query (branch sparse2): an index scan that
is rescanned with a new ORDER BY value (the inner side of a LATERAL join,
a nested loop) must score every rescan against its own query, never the
table prepared for the previous one; queries over 1,024 non-zeros (merged,
not prepared), an all-zero query and huge indices (hashed filter) in the
same loop. On a small table with ef_search above its size the index must
answer exactly what a sequential scan does, for ip, cosine, l2 and l1."""

import pytest

RS = """CREATE FUNCTION rs(seed int, n int, dim int) RETURNS sparsevec LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(('{' || string_agg(i::text || ':' || ((i::bigint * seed) % 97 - 48.5)::text, ',' ORDER BY i) || '}/' || dim)::sparsevec,
                  ('{}/' || dim)::sparsevec)
  FROM (SELECT DISTINCT (abs(hashint4(seed * 100003 + k)) % 3000) + 1 + (seed % 3) * (dim / 4) AS i FROM generate_series(1, n) k) s $$"""

TOP = """SELECT string_agg(q.p::text || ':' || x.ids, ';' ORDER BY q.p) FROM q, LATERAL (
  SELECT string_agg(d, ',' ORDER BY rn) AS ids FROM (
    SELECT d, row_number() OVER () AS rn FROM (SELECT (v {op} q.v)::text AS d FROM t ORDER BY v {op} q.v LIMIT 5) s) s2) x"""


@pytest.mark.parametrize("opclass,op", [("sparsevec_ip_ops", "<#>"), ("sparsevec_cosine_ops", "<=>"),
                                        ("sparsevec_l2_ops", "<->"), ("sparsevec_l1_ops", "<+>")])
def test_lateral_rescans_reprepare_the_sparse_query(cluster, db, opclass, op):
    dim = 1_000_000_000
    cluster.sql(RS, db)
    cluster.sql(f"""CREATE TABLE t (id int PRIMARY KEY, v sparsevec({dim}));
        INSERT INTO t SELECT g, rs(g, 20 + g % 40, {dim}) FROM generate_series(1, 300) g;
        CREATE TABLE q (p int, v sparsevec({dim}));
        INSERT INTO q SELECT g, rs(g * 7 + 1, CASE WHEN g % 5 = 0 THEN 1600 ELSE 10 + g % 30 END, {dim})
          FROM generate_series(1, 25) g;
        INSERT INTO q SELECT g, rs(g, 20 + g % 40, {dim}) FROM generate_series(26, 30) g;
        CREATE INDEX t_v ON t USING hnsw (v {opclass}) WITH (vecstore_max_nnz = 2000);
        ANALYZE t; ANALYZE q""", db)
    # an all-zero query (no cosine distance to order by: not for cosine)
    if op != "<=>":
        cluster.sql(f"INSERT INTO q VALUES (31, '{{}}/{dim}')", db)
    assert cluster.scalar("SELECT count(*) FROM q WHERE length(v::text) - length(replace(v::text, ':', '')) > 1024", db) >= 4
    seq = cluster.psql("SET enable_indexscan = off; SET enable_bitmapscan = off;\n" + TOP.format(op=op), db)
    idx = cluster.psql("SET enable_seqscan = off; SET enable_hashjoin = off; SET enable_mergejoin = off;"
                       " SET hnsw.ef_search = 1000;\n" + TOP.format(op=op), db)
    plan = cluster.psql("SET enable_seqscan = off; SET enable_hashjoin = off; SET enable_mergejoin = off;\n"
                        "EXPLAIN " + TOP.format(op=op), db).stdout
    assert "Index Scan using t_v" in plan and "Nested Loop" in plan, plan
    assert idx.stdout.strip().splitlines()[-1] == seq.stdout.strip().splitlines()[-1]
