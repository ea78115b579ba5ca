-- review: a sparsevec_ip_ops query that overlaps no row (inner product 0
-- everywhere, the common case for SPLADE queries against most documents)
-- must not turn the scan's first batch into a walk of the whole graph:
-- without iterative scans it returns about hnsw.ef_search rows, as pgvector
-- (40 rows here), not every row tied at distance 0
SET enable_seqscan = off;
CREATE TABLE tt (id int, v sparsevec(30522));
INSERT INTO tt SELECT i, ('{' || (1 + (i * 7919) % 15000) || ':1,' || (15001 + (i * 104729) % 15000) || ':2}/30522')::sparsevec
    FROM generate_series(1, 5000) i;
CREATE INDEX ON tt USING hnsw (v sparsevec_ip_ops);
SELECT count(*) <= 400 AS bounded FROM (SELECT id FROM tt ORDER BY v <#> '{30522:1}/30522') s;
SELECT count(*) <= 400 AS bounded FROM (SELECT id FROM tt ORDER BY v <#> '{1:1}/30522') s;
SELECT count(*) FROM (SELECT id FROM tt ORDER BY v <#> '{30522:1}/30522' LIMIT 10) s;
DROP TABLE tt;
