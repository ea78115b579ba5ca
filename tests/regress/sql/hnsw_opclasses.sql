-- each opclass on a small table: the index answers, and in exact order
SET enable_seqscan = off;
CREATE TABLE t (id int, val vector(3));
INSERT INTO t VALUES (1, '[0,0,0]'), (2, '[1,2,3]'), (3, '[1,1,1]'), (4, NULL), (5, '[-1,4,2]'), (6, '[3,0.5,1]');

CREATE INDEX t_l2 ON t USING hnsw (val vector_l2_ops);
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY val <-> '[3,3,3]' LIMIT 3;
SELECT id, round((val <-> '[3,3,3]')::numeric, 4) AS d FROM t ORDER BY val <-> '[3,3,3]';
-- a NULL query vector orders every indexed row (row order undefined; the
-- NULL row is not indexed)
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY val <-> (SELECT NULL::vector);
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM t ORDER BY val <-> (SELECT NULL::vector)) s;
SELECT count(*) FROM (SELECT id FROM t ORDER BY val <-> (SELECT NULL::vector) LIMIT 3) s;
DROP INDEX t_l2;

CREATE INDEX t_ip ON t USING hnsw (val vector_ip_ops);
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY val <#> '[3,3,3]' LIMIT 3;
SELECT id, val <#> '[3,3,3]' AS d FROM t ORDER BY val <#> '[3,3,3]';
DROP INDEX t_ip;

-- cosine: the zero vector is not indexed
CREATE INDEX t_cos ON t USING hnsw (val vector_cosine_ops);
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY val <=> '[3,3,3]' LIMIT 3;
SELECT id, round((val <=> '[3,3,3]')::numeric, 4) AS d FROM t ORDER BY val <=> '[3,3,3]';
SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM t ORDER BY val <=> (SELECT NULL::vector)) s;
DROP INDEX t_cos;

CREATE INDEX t_l1 ON t USING hnsw (val vector_l1_ops);
EXPLAIN (COSTS OFF) SELECT id FROM t ORDER BY val <+> '[3,3.3,3]' LIMIT 3;
SELECT id, val <+> '[3,3.3,3]' AS d FROM t ORDER BY val <+> '[3,3.3,3]';
DROP INDEX t_l1;

-- a query of the wrong size
CREATE INDEX ON t USING hnsw (val vector_l2_ops);
SELECT id FROM t ORDER BY val <-> '[1,2]' LIMIT 1;
DROP TABLE t;
RESET enable_seqscan;
