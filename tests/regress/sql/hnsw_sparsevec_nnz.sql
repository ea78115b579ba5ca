-- hnsw over sparsevec beyond pgvector: values with more than 1,000
-- non-zeros (SPLADE documents have ~1,100) in an index built WITH
-- (vecstore_max_nnz = n). pgvector refuses them; its message is kept for
-- the default room of 1,000, with a DETAIL saying how to make room.
SET enable_seqscan = off;
CREATE FUNCTION nz(n int, scale real, dim int) RETURNS sparsevec LANGUAGE sql AS
$$ SELECT ('{' || array_to_string(array(SELECT i || ':' || (scale * i) FROM generate_series(1, n) i), ',') || '}/' || dim)::sparsevec $$;
CREATE TABLE b (id int, val sparsevec(30522));
INSERT INTO b VALUES (1, nz(1001, 1, 30522));
CREATE INDEX ON b USING hnsw (val sparsevec_ip_ops);
CREATE INDEX b_ip ON b USING hnsw (val sparsevec_ip_ops) WITH (vecstore_max_nnz = 1200);
INSERT INTO b VALUES (2, nz(1100, 2, 30522)), (3, nz(1200, 0.5, 30522)), (4, nz(5, 1, 30522));
INSERT INTO b VALUES (5, nz(1201, 1, 30522));
SELECT id FROM b ORDER BY val <#> nz(1200, 1, 30522);
-- queries may have any number of non-zeros
SELECT id FROM b ORDER BY val <#> nz(2000, 1, 30522) LIMIT 1;
CREATE INDEX b_cos ON b USING hnsw (val sparsevec_cosine_ops) WITH (vecstore_max_nnz = 1200);
SELECT id FROM b ORDER BY val <=> nz(1100, 1, 30522) LIMIT 2;
-- the type's own limit: 16,000 non-zeros, values spanning chunk tuples
DROP INDEX b_ip, b_cos;
CREATE INDEX b_l2 ON b USING hnsw (val sparsevec_l2_ops) WITH (vecstore_max_nnz = 16000);
INSERT INTO b VALUES (6, nz(16000, 0.001, 30522));
SELECT id FROM b ORDER BY val <-> nz(16000, 0.001, 30522) LIMIT 1;
SELECT id FROM b ORDER BY val <-> nz(1100, 2, 30522) LIMIT 1;
CREATE INDEX ON b USING hnsw (val sparsevec_l1_ops) WITH (vecstore_max_nnz = 16001);
CREATE INDEX ON b USING hnsw (val sparsevec_l1_ops) WITH (vecstore_max_nnz = 0);
DROP TABLE b;
DROP FUNCTION nz;
