-- hnsw over halfvec and bit: each opclass on a small table answers in
-- exact order
SET enable_seqscan = off;
CREATE TABLE h (id int, val halfvec(3));
INSERT INTO h VALUES (1, '[0,0,0]'), (2, '[1,2,3]'), (3, '[1,1,1]'), (4, NULL), (5, '[-1,4,2]'), (6, '[3,0.5,1]');

CREATE INDEX h_l2 ON h USING hnsw (val halfvec_l2_ops);
EXPLAIN (COSTS OFF) SELECT id FROM h ORDER BY val <-> '[3,3,3]' LIMIT 3;
SELECT id, round((val <-> '[3,3,3]')::numeric, 4) AS d FROM h ORDER BY val <-> '[3,3,3]';
SELECT count(*) FROM (SELECT id FROM h ORDER BY val <-> (SELECT NULL::halfvec)) s;
DROP INDEX h_l2;

CREATE INDEX h_ip ON h USING hnsw (val halfvec_ip_ops);
SELECT id, val <#> '[3,3,3]' AS d FROM h ORDER BY val <#> '[3,3,3]';
DROP INDEX h_ip;

CREATE INDEX h_cos ON h USING hnsw (val halfvec_cosine_ops);
SELECT id, round((val <=> '[3,3,3]')::numeric, 4) AS d FROM h ORDER BY val <=> '[3,3,3]';
DROP INDEX h_cos;

CREATE INDEX h_l1 ON h USING hnsw (val halfvec_l1_ops);
SELECT id, val <+> '[3,3.3,3]' AS d FROM h ORDER BY val <+> '[3,3.3,3]';
SELECT id FROM h ORDER BY val <+> '[1,2]' LIMIT 1;
-- rows inserted after the build
INSERT INTO h VALUES (7, '[3,3,3]'), (8, '[2.5,3,3]');
SELECT id, val <+> '[3,3.3,3]' AS d FROM h ORDER BY val <+> '[3,3.3,3]' LIMIT 3;
DROP INDEX h_l1;

-- an index on a cast expression, as pgvector documents
CREATE TABLE v (id int, val vector(3));
INSERT INTO v SELECT id, val::vector FROM h WHERE val IS NOT NULL;
CREATE INDEX ON v USING hnsw ((val::halfvec(3)) halfvec_l2_ops);
EXPLAIN (COSTS OFF) SELECT id FROM v ORDER BY val::halfvec(3) <-> '[3,3,3]' LIMIT 3;
SELECT id FROM v ORDER BY val::halfvec(3) <-> '[3,3,3]' LIMIT 3;
DROP TABLE v;

-- no dimensions, too many dimensions
CREATE TABLE hn (val halfvec);
CREATE INDEX ON hn USING hnsw (val halfvec_l2_ops);
DROP TABLE hn;

-- bit
CREATE TABLE b (id int, val bit(4));
INSERT INTO b VALUES (1, '0000'), (2, '1111'), (3, '1100'), (4, NULL), (5, '1000'), (6, '0111');
CREATE INDEX b_ham ON b USING hnsw (val bit_hamming_ops);
EXPLAIN (COSTS OFF) SELECT id FROM b ORDER BY val <~> '1110' LIMIT 3;
SELECT id, val <~> '1110' AS d FROM b ORDER BY val <~> '1110', id;
SELECT id FROM b ORDER BY val <~> '111' LIMIT 1;
DROP INDEX b_ham;
CREATE INDEX b_jac ON b USING hnsw (val bit_jaccard_ops);
EXPLAIN (COSTS OFF) SELECT id FROM b ORDER BY val <%> '1110' LIMIT 3;
SELECT id, round((val <%> '1110')::numeric, 4) AS d FROM b ORDER BY val <%> '1110';
DROP INDEX b_jac;
-- binary quantisation of an expression
CREATE TABLE q (id int, val vector(3));
INSERT INTO q VALUES (1, '[1,-1,1]'), (2, '[-1,-1,1]'), (3, '[1,1,1]');
CREATE INDEX ON q USING hnsw ((binary_quantize(val)::bit(3)) bit_hamming_ops);
SELECT id FROM q ORDER BY binary_quantize(val)::bit(3) <~> binary_quantize('[1,1,-1]'::vector) LIMIT 2;
DROP TABLE q;
-- varbit and bit without length
CREATE TABLE vb (val varbit(4));
CREATE INDEX ON vb USING hnsw (val bit_hamming_ops);
DROP TABLE vb;
CREATE TABLE bb (val bit(64001));
CREATE INDEX ON bb USING hnsw (val bit_hamming_ops);
DROP TABLE bb;
DROP TABLE b;
DROP TABLE h;
RESET enable_seqscan;
