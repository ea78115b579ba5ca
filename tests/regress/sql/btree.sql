CREATE TABLE btree_t (id int, v vector);
INSERT INTO btree_t VALUES (1, '[1,2,3]'), (2, '[1,2]'), (3, '[0,5]'), (4, '[1,2,3]'), (5, '[-1,10,1]'), (6, NULL);
SELECT v FROM btree_t ORDER BY v;
SELECT v FROM btree_t ORDER BY v DESC NULLS LAST;
SELECT DISTINCT v FROM btree_t ORDER BY v;
SELECT v, count(*) FROM btree_t GROUP BY v ORDER BY v;
SELECT '[1,2]'::vector < '[1,2,3]', '[1,2]'::vector <= '[1,2]', '[1,2]'::vector = '[1,2]',
       '[1,2]'::vector <> '[1,3]', '[2]'::vector >= '[1,9]', '[2]'::vector > '[1,9]';
SELECT vector_cmp('[1,2]', '[1,3]'), vector_cmp('[1,3]', '[1,2]'), vector_cmp('[1,2]', '[1,2]');
CREATE INDEX btree_t_v ON btree_t (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM btree_t WHERE v = '[1,2,3]';
SELECT id FROM btree_t WHERE v = '[1,2,3]' ORDER BY id;
SELECT id FROM btree_t WHERE v > '[0,9]' ORDER BY v, id;
RESET enable_seqscan;
DROP TABLE btree_t;
