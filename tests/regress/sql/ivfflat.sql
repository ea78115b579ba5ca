-- ivfflat: options, errors, settings, plans and exact results on small data
SET enable_seqscan = off;
-- options
CREATE TABLE t (val vector(3));
CREATE INDEX ON t USING ivfflat (val vector_l2_ops) WITH (lists = 0);
CREATE INDEX ON t USING ivfflat (val vector_l2_ops) WITH (lists = 32769);
CREATE INDEX ON t USING ivfflat (val vector_l2_ops) WITH (foo = 1);
-- an empty table: the little-data notice
CREATE INDEX t_idx ON t USING ivfflat (val) WITH (lists = 32768);
SELECT reloptions FROM pg_class WHERE relname = 't_idx';
DROP INDEX t_idx;
-- lists = 1..
INSERT INTO t (val) VALUES ('[0,0,0]'), ('[1,2,3]'), ('[1,1,1]'), (NULL);
CREATE INDEX t_idx ON t USING ivfflat (val vector_l2_ops) WITH (lists = 1);
SELECT * FROM t ORDER BY val <-> '[3,3,3]';
SELECT * FROM t ORDER BY val <-> (SELECT NULL::vector);
SELECT COUNT(*) FROM t;
INSERT INTO t (val) VALUES ('[1,2,4]');
SELECT * FROM t ORDER BY val <-> '[3,3,3]';
-- the query must have the index's dimensions (index first, as pgvector)
SELECT * FROM t ORDER BY val <-> '[3,3]';
TRUNCATE t;
SELECT * FROM t ORDER BY val <-> '[3,3,3]';
DROP TABLE t;
-- errors at build
CREATE TABLE t (val vector);
CREATE INDEX ON t USING ivfflat (val vector_l2_ops);
DROP TABLE t;
CREATE TABLE t (val vector(2001));
CREATE INDEX ON t USING ivfflat (val vector_l2_ops);
DROP TABLE t;
CREATE TABLE t (val vector(1));
CREATE INDEX ON t USING ivfflat (val vector_ip_ops);
CREATE INDEX ON t USING ivfflat (val vector_cosine_ops);
CREATE INDEX t_one ON t USING ivfflat (val vector_l2_ops) WITH (lists = 1);
DROP TABLE t;
CREATE TABLE t (val halfvec(4001));
CREATE INDEX ON t USING ivfflat (val halfvec_l2_ops);
DROP TABLE t;
CREATE TABLE t (val bit(64001));
CREATE INDEX ON t USING ivfflat (val bit_hamming_ops);
DROP TABLE t;
CREATE TABLE t (val varbit(3));
CREATE INDEX ON t USING ivfflat (val bit_hamming_ops);
DROP TABLE t;
-- inner product and cosine
CREATE TABLE t (val vector(3));
INSERT INTO t (val) VALUES ('[0,0,0]'), ('[1,2,3]'), ('[1,1,1]'), (NULL);
CREATE INDEX ON t USING ivfflat (val vector_ip_ops) WITH (lists = 1);
SELECT * FROM t ORDER BY val <#> '[3,3,3]';
DROP INDEX t_val_idx;
CREATE INDEX ON t USING ivfflat (val vector_cosine_ops) WITH (lists = 1);
-- the zero vector is not indexed
SELECT * FROM t ORDER BY val <=> '[3,3,3]';
SELECT COUNT(*) FROM (SELECT * FROM t ORDER BY val <=> '[0,0,0]') s;
DROP TABLE t;
-- halfvec and bit
CREATE TABLE t (val halfvec(3));
INSERT INTO t (val) VALUES ('[0,0,0]'), ('[1,2,3]'), ('[1,1,1]'), (NULL);
CREATE INDEX ON t USING ivfflat (val halfvec_l2_ops) WITH (lists = 1);
SELECT * FROM t ORDER BY val <-> '[3,3,3]';
DROP INDEX t_val_idx;
CREATE INDEX ON t USING ivfflat (val halfvec_ip_ops) WITH (lists = 1);
SELECT * FROM t ORDER BY val <#> '[3,3,3]';
DROP INDEX t_val_idx;
CREATE INDEX ON t USING ivfflat (val halfvec_cosine_ops) WITH (lists = 1);
SELECT * FROM t ORDER BY val <=> '[3,3,3]';
DROP TABLE t;
CREATE TABLE t (val bit(3));
INSERT INTO t (val) VALUES (B'000'), (B'100'), (B'111'), (NULL);
CREATE INDEX ON t USING ivfflat (val bit_hamming_ops) WITH (lists = 1);
SELECT * FROM t ORDER BY val <~> B'111';
DROP TABLE t;
-- more lists than rows: every row still found with enough probes
CREATE TABLE t (id int, val vector(2));
INSERT INTO t SELECT i, ARRAY[i, i % 7] FROM generate_series(1, 50) i;
CREATE INDEX ON t USING ivfflat (val vector_l2_ops) WITH (lists = 5);
SET ivfflat.probes = 5;
SELECT id FROM t ORDER BY val <-> '[20.2, 6]' LIMIT 5;
SELECT COUNT(*) FROM (SELECT id FROM t ORDER BY val <-> '[0, 0]') s;
-- probes = 1 reads one list only
SET ivfflat.probes = 1;
SELECT COUNT(*) < 50 AS one_list FROM (SELECT id FROM t ORDER BY val <-> '[0, 0]') s;
-- a filter: relaxed_order reads more lists until rows are found
SELECT COUNT(*) FROM (SELECT id FROM t WHERE id % 10 = 0 ORDER BY val <-> '[49, 0]' LIMIT 5) s;
SET ivfflat.iterative_scan = relaxed_order;
SELECT COUNT(*) FROM (SELECT id FROM t WHERE id % 10 = 0 ORDER BY val <-> '[49, 0]' LIMIT 5) s;
SET ivfflat.max_probes = 2;
SELECT COUNT(*) <= 5 AS capped FROM (SELECT id FROM t WHERE id % 10 = 0 ORDER BY val <-> '[49, 0]' LIMIT 5) s;
RESET ivfflat.max_probes;
RESET ivfflat.iterative_scan;
RESET ivfflat.probes;
-- VACUUM removes dead rows
DELETE FROM t WHERE id > 10;
VACUUM t;
SET ivfflat.probes = 5;
SELECT id FROM t ORDER BY val <-> '[20.2, 6]' LIMIT 3;
RESET ivfflat.probes;
DROP TABLE t;
-- settings
SHOW ivfflat.probes;
SET ivfflat.probes = 0;
SET ivfflat.probes = 32769;
SHOW ivfflat.iterative_scan;
SET ivfflat.iterative_scan = strict_order;
SHOW ivfflat.max_probes;
SET ivfflat.max_probes = 0;
SET ivfflat.max_probes = 32769;
SET ivfflat.nonexistent = 1;
RESET enable_seqscan;
-- plans: ORDER BY ... LIMIT uses the index, other shapes do not
CREATE TABLE p (id int, val vector(3));
INSERT INTO p SELECT i, ARRAY[i % 13, i % 7, i % 5] FROM generate_series(1, 10000) i;
CREATE INDEX p_idx ON p USING ivfflat (val vector_l2_ops) WITH (lists = 10);
ANALYZE p;
EXPLAIN (COSTS OFF) SELECT id FROM p ORDER BY val <-> '[1,2,3]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM p ORDER BY val <#> '[1,2,3]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM p WHERE val <-> '[1,2,3]' < 1;
EXPLAIN (COSTS OFF) SELECT id FROM p ORDER BY val <-> '[1,2,3]' DESC LIMIT 5;
EXPLAIN (COSTS OFF) SELECT COUNT(*) FROM p;
-- build progress phase names
SELECT amname, pg_indexam_progress_phasename(oid, n) FROM pg_am, generate_series(1, 5) n WHERE amname = 'ivfflat';
DROP TABLE p;
-- memory: samples that do not fit maintenance_work_mem
CREATE TABLE m (val vector(2000));
INSERT INTO m SELECT array_fill(i::real, ARRAY[2000]) FROM generate_series(1, 100) i;
SET maintenance_work_mem = '1MB';
CREATE INDEX ON m USING ivfflat (val vector_l2_ops) WITH (lists = 200);
RESET maintenance_work_mem;
DROP TABLE m;
-- a build whose rows outgrow maintenance_work_mem loads them in batches
SELECT setseed(0.3);
CREATE TABLE b (id int, v vector(64));
INSERT INTO b SELECT i, ARRAY(SELECT random() + 0 * i FROM generate_series(1, 64)) FROM generate_series(1, 30000) i;
SET maintenance_work_mem = '4MB';
CREATE INDEX b_v ON b USING ivfflat (v) WITH (lists = 10);
RESET maintenance_work_mem;
SELECT reltuples FROM pg_class WHERE relname = 'b_v';
SET enable_seqscan = off;
SET ivfflat.probes = 10;
SELECT COUNT(*) FROM (SELECT id FROM b ORDER BY v <-> (SELECT v FROM b WHERE id = 1)) s;
SET ivfflat.probes = 1;
SELECT COUNT(*) AS own_row_missing FROM b WHERE id % 300 = 0 AND id <> (SELECT id FROM b b2 ORDER BY b2.v <-> b.v LIMIT 1);
RESET ivfflat.probes;
RESET enable_seqscan;
DROP TABLE b;
