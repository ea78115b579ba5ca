-- recall against exact search on 5000 clustered 16-d rows, for each
-- metric, fresh and after deleting half the rows and VACUUM
SELECT setseed(0.42);
CREATE TABLE centers AS SELECT c, ARRAY(SELECT random() * 6 + 0 * c FROM generate_series(1, 16)) AS v FROM generate_series(0, 49) c;
CREATE TABLE items (id int PRIMARY KEY, val vector(16));
INSERT INTO items SELECT i, ARRAY(SELECT v[j] + random() * 2 - 1 FROM generate_series(1, 16) j)
FROM generate_series(1, 5000) i JOIN centers ON c = (i / 2) % 50;
CREATE TABLE queries AS SELECT q AS qid, ARRAY(SELECT v[j] + random() * 2 - 1 FROM generate_series(1, 16) j)::vector(16) AS val
FROM generate_series(1, 200) q JOIN centers ON c = (q * 7) % 50;
CREATE FUNCTION pg_temp.recall(op text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE hits int := 0; r record; got int[]; truth int[];
BEGIN
  FOR r IN SELECT * FROM queries LOOP
    SET LOCAL enable_indexscan = off; SET LOCAL enable_seqscan = on;
    EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY val %s $1 LIMIT 10) s', op) INTO truth USING r.val;
    SET LOCAL enable_indexscan = on; SET LOCAL enable_seqscan = off;
    EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY val %s $1 LIMIT 10) s', op) INTO got USING r.val;
    hits := hits + (SELECT count(*) FROM unnest(got) g WHERE g = ANY (truth));
  END LOOP;
  RETURN hits / 2000.0;
END $$;
CREATE INDEX l2 ON items USING hnsw (val vector_l2_ops);
SELECT pg_temp.recall('<->') >= 0.95 AS l2_recall_ok;
DROP INDEX l2;
CREATE INDEX ip ON items USING hnsw (val vector_ip_ops);
SELECT pg_temp.recall('<#>') >= 0.85 AS ip_recall_ok;
DROP INDEX ip;
CREATE INDEX cos ON items USING hnsw (val vector_cosine_ops);
SELECT pg_temp.recall('<=>') >= 0.95 AS cosine_recall_ok;
DROP INDEX cos;
CREATE INDEX l1 ON items USING hnsw (val vector_l1_ops);
SELECT pg_temp.recall('<+>') >= 0.95 AS l1_recall_ok;
DROP INDEX l1;
-- delete half, VACUUM, compare with a fresh index on the remaining rows
-- (unclustered data: see README for VACUUM on well-separated clusters)
TRUNCATE items;
INSERT INTO items SELECT i, ARRAY(SELECT random() + 0 * i FROM generate_series(1, 16)) FROM generate_series(1, 5000) i;
UPDATE queries SET val = ARRAY(SELECT random() + 0 * qid FROM generate_series(1, 16));
CREATE INDEX l2 ON items USING hnsw (val vector_l2_ops);
DELETE FROM items WHERE id % 2 = 0;
VACUUM items;
CREATE TEMP TABLE after_vacuum AS SELECT pg_temp.recall('<->') AS r;
-- freed slots are reused by new rows: without reuse these 500 rows would
-- add about 18 pages; a row whose level exceeds every free slot's takes a
-- new page, so allow 2
SELECT pg_relation_size('l2') AS size_before \gset
INSERT INTO items SELECT id + 10000, val FROM items WHERE id <= 1000;
SELECT pg_relation_size('l2') <= :size_before + 2 * 8192 AS slots_reused;
DELETE FROM items WHERE id > 10000;
VACUUM items;
REINDEX INDEX l2;
SELECT (SELECT r FROM after_vacuum) >= pg_temp.recall('<->') - 0.02 AS vacuum_recall_within_002;
DROP TABLE items, queries, centers;
