SET enable_seqscan = off;
-- empty table, then inserts after the build
CREATE TABLE t (id int, val vector(3));
CREATE INDEX t_idx ON t USING hnsw (val vector_l2_ops);
SELECT id FROM t ORDER BY val <-> '[1,1,1]' LIMIT 3;
INSERT INTO t VALUES (1, '[1,1,1]');
SELECT id FROM t ORDER BY val <-> '[0,0,0]' LIMIT 3;
INSERT INTO t VALUES (2, '[2,2,2]'), (3, NULL), (4, '[0,0,1]');
SELECT id FROM t ORDER BY val <-> '[0,0,0]' LIMIT 10;
-- duplicates
INSERT INTO t SELECT 100 + i, '[5,5,5]' FROM generate_series(1, 100) i;
SELECT count(*) FROM (SELECT id FROM t ORDER BY val <-> '[5,5,5]' LIMIT 20) s WHERE id > 100;
SELECT id FROM t ORDER BY val <-> '[0,0,0]' LIMIT 3;
-- TRUNCATE empties the index
TRUNCATE t;
SELECT id FROM t ORDER BY val <-> '[0,0,0]' LIMIT 3;
INSERT INTO t VALUES (7, '[7,7,7]');
SELECT id FROM t ORDER BY val <-> '[0,0,0]' LIMIT 3;
-- REINDEX, CONCURRENTLY too
INSERT INTO t SELECT i, ARRAY[i, i % 7, i % 3] FROM generate_series(10, 500) i;
REINDEX INDEX t_idx;
SELECT id FROM t ORDER BY val <-> '[20,6,2]' LIMIT 3;
REINDEX INDEX CONCURRENTLY t_idx;
SELECT id FROM t ORDER BY val <-> '[20,6,2]' LIMIT 3;
DROP INDEX t_idx;
CREATE INDEX CONCURRENTLY t_idx ON t USING hnsw (val vector_l2_ops);
SELECT id FROM t ORDER BY val <-> '[20,6,2]' LIMIT 3;
SELECT indisvalid FROM pg_index WHERE indexrelid = 't_idx'::regclass;
-- a WHERE filter is applied after the index (at most ef_search rows)
SELECT count(*) FROM (SELECT id FROM t WHERE id % 2 = 0 ORDER BY val <-> '[20,6,2]' LIMIT 5) s;
-- prepared statements and rescans (LATERAL); rows at equal distances
-- (399 and 401 from [400,1,1]) come in no particular order
PREPARE knn(vector) AS SELECT round((val <-> $1)::numeric, 4) AS dist FROM t ORDER BY val <-> $1 LIMIT 2;
EXECUTE knn('[20,6,2]');
EXECUTE knn('[400,1,1]');

DEALLOCATE knn;
SELECT q.id AS query, n.id IN (q.id - 1, q.id + 1) AS nearest_is_next_door FROM t q CROSS JOIN LATERAL
  (SELECT id FROM t WHERE id <> q.id ORDER BY val <-> q.val LIMIT 1) n
WHERE q.id IN (11, 250, 499) ORDER BY q.id;
-- an unlogged table
CREATE UNLOGGED TABLE u (val vector(2));
INSERT INTO u VALUES ('[1,1]'), ('[2,2]');
CREATE INDEX ON u USING hnsw (val vector_l2_ops);
SELECT val FROM u ORDER BY val <-> '[2,2]' LIMIT 1;
DROP TABLE u;
-- DROP
DROP INDEX t_idx;
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY val <-> '[20,6,2]' LIMIT 3;
DROP TABLE t;
RESET enable_seqscan;
