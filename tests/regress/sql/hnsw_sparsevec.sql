-- hnsw over sparsevec: each opclass on a small table answers in exact
-- order (pgvector prints the same)
SET enable_seqscan = off;
CREATE TABLE s (id int, val sparsevec(5));
INSERT INTO s VALUES (1, '{}/5'), (2, '{1:1,2:2,3:3}/5'), (3, '{1:1,2:1,3:1}/5'), (4, NULL),
    (5, '{1:-1,2:4,3:2}/5'), (6, '{1:3,2:0.5,3:1,5:2}/5'), (7, '{4:1}/5');

CREATE INDEX s_l2 ON s USING hnsw (val sparsevec_l2_ops);
EXPLAIN (COSTS OFF) SELECT id FROM s ORDER BY val <-> '{1:3,2:3,3:3}/5' LIMIT 3;
SELECT id, round((val <-> '{1:3,2:3,3:3}/5')::numeric, 4) AS d FROM s ORDER BY val <-> '{1:3,2:3,3:3}/5';
SELECT count(*) FROM (SELECT id FROM s ORDER BY val <-> (SELECT NULL::sparsevec)) q;
SELECT id FROM s ORDER BY val <-> '{1:1}/4' LIMIT 1;
DROP INDEX s_l2;

CREATE INDEX s_ip ON s USING hnsw (val sparsevec_ip_ops);
SELECT id, val <#> '{1:3,2:3,3:3}/5' AS d FROM s ORDER BY val <#> '{1:3,2:3,3:3}/5';
DROP INDEX s_ip;

CREATE INDEX s_cos ON s USING hnsw (val sparsevec_cosine_ops);
SELECT id, round((val <=> '{1:3,2:3,3:3}/5')::numeric, 4) AS d FROM s ORDER BY val <=> '{1:3,2:3,3:3}/5';
SELECT count(*) FROM (SELECT id FROM s ORDER BY val <=> '{}/5') q;
DROP INDEX s_cos;

CREATE INDEX s_l1 ON s USING hnsw (val sparsevec_l1_ops);
SELECT id, val <+> '{1:3,2:3.3,3:3}/5' AS d FROM s ORDER BY val <+> '{1:3,2:3.3,3:3}/5';
-- rows inserted after the build, duplicates among them
INSERT INTO s VALUES (8, '{1:3,2:3,3:3}/5'), (9, '{1:2.5,2:3,3:3}/5'), (10, '{1:3,2:3,3:3}/5');
SELECT id, val <+> '{1:3,2:3.3,3:3}/5' AS d FROM s ORDER BY val <+> '{1:3,2:3.3,3:3}/5', id LIMIT 3;
DROP INDEX s_l1;

-- a wide column (SPLADE's vocabulary) with few non-zeros
CREATE TABLE w (id int, val sparsevec(30522));
INSERT INTO w SELECT i, ('{' || i || ':1,' || (i + 7) || ':' || (i % 5 + 1) || '}/30522')::sparsevec FROM generate_series(1, 50) i;
CREATE INDEX ON w USING hnsw (val sparsevec_ip_ops);
SELECT id FROM w ORDER BY val <#> '{10:1,17:5}/30522' LIMIT 3;
CREATE INDEX ON w USING hnsw (val sparsevec_cosine_ops);
SELECT id FROM w ORDER BY val <=> '{10:1,17:5}/30522' LIMIT 3;
DROP TABLE w;

-- an index on a cast expression
CREATE TABLE v (id int, val vector(3));
INSERT INTO v VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[1,1,0]');
CREATE INDEX ON v USING hnsw ((val::sparsevec(3)) sparsevec_l2_ops);
SELECT id FROM v ORDER BY val::sparsevec(3) <-> '{1:1}/3' LIMIT 2;
DROP TABLE v;

-- no dimensions
CREATE TABLE sn (val sparsevec);
CREATE INDEX ON sn USING hnsw (val sparsevec_l2_ops);
DROP TABLE sn;
DROP TABLE s;
