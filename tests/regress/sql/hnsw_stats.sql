-- every hnsw index scan counts in pg_stat_user_indexes.idx_scan (one per
-- scan, and one per rescan); statistics are flushed lazily, so force the
-- flush and drop the cached snapshot before reading them
SET enable_seqscan = off;
CREATE TABLE st (id int, val vector(3));
INSERT INTO st SELECT i, ARRAY[i, i % 7, i % 3] FROM generate_series(1, 200) i;
CREATE INDEX st_idx ON st USING hnsw (val vector_l2_ops);
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'st_idx';
EXPLAIN (COSTS OFF) SELECT id FROM st ORDER BY val <-> '[3,3,3]' LIMIT 2;
SELECT id FROM st ORDER BY val <-> '[3,3,3]' LIMIT 2;
SELECT id FROM st ORDER BY val <-> '[50,1,2]' LIMIT 1;
SELECT count(*) FROM (SELECT id FROM st ORDER BY val <-> '[9,9,9]' LIMIT 10) s;
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT idx_scan, idx_tup_read > 0 AS read_tuples FROM pg_stat_user_indexes WHERE indexrelname = 'st_idx';
SELECT idx_scan FROM pg_stat_user_tables WHERE relname = 'st';
-- a rescan per outer row (nested loop over 4 probes)
EXPLAIN (COSTS OFF) SELECT p, (SELECT id FROM st ORDER BY val <-> ARRAY[p, p, p]::vector LIMIT 1) FROM generate_series(1, 4) p;
SELECT p, (SELECT id FROM st ORDER BY val <-> ARRAY[p, p, p]::vector LIMIT 1) FROM generate_series(1, 4) p;
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'st_idx';
DROP TABLE st;
RESET enable_seqscan;
