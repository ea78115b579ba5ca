-- a build that outgrows maintenance_work_mem: NOTICE, then the rest of the
-- rows go through on-disk inserts and the index is complete
SELECT setseed(0.7);
CREATE TABLE b (id int PRIMARY KEY, v vector(128));
INSERT INTO b SELECT i, ARRAY(SELECT random() + 0 * i FROM generate_series(1, 128)) FROM generate_series(1, 3000) i;
SET maintenance_work_mem = '1MB';
SET max_parallel_maintenance_workers = 0; -- the rows that fit depend on the threads
CREATE INDEX b_v ON b USING hnsw (v vector_l2_ops);
RESET maintenance_work_mem;
RESET max_parallel_maintenance_workers;
SET enable_seqscan = off;
SET hnsw.ef_search = 200;
-- (random 128-d vectors are the hardest case for a graph: allow 0.1%)
SELECT count(*) <= 3 AS own_vector_finds_row FROM b WHERE NOT EXISTS (
  SELECT 1 FROM (SELECT id FROM b b2 ORDER BY b2.v <-> b.v LIMIT 3) s WHERE s.id = b.id);
-- a serial build and a parallel one are both complete
SET max_parallel_maintenance_workers = 0;
REINDEX INDEX b_v;
SELECT count(*) <= 3 AS serial_build_finds_rows FROM b WHERE NOT EXISTS (
  SELECT 1 FROM (SELECT id FROM b b2 ORDER BY b2.v <-> b.v LIMIT 3) s WHERE s.id = b.id);
SET max_parallel_maintenance_workers = 3;
REINDEX INDEX b_v;
SELECT count(*) <= 3 AS parallel_build_finds_rows FROM b WHERE NOT EXISTS (
  SELECT 1 FROM (SELECT id FROM b b2 ORDER BY b2.v <-> b.v LIMIT 3) s WHERE s.id = b.id);
-- index size: about 10 elements of 128 dimensions (596 bytes with their
-- 10 heap TID slots) with their neighbour tuples (204 bytes) per 8 kB page
SELECT pg_relation_size('b_v') / 8192 BETWEEN 3000 / 11 AND 3000 / 9 AS compact;
DROP TABLE b;
