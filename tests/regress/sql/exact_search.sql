-- exact k-NN over a plain table, every operator
CREATE TABLE items (id int PRIMARY KEY, embedding vector(3));
INSERT INTO items VALUES (1, '[1,1,1]'), (2, '[2,2,2]'), (3, '[1,1,2]'), (4, '[-1,0,5]'), (5, '[0,0,0]'), (6, NULL), (7, '[10,-3,1]');
SELECT id, round((embedding <-> '[1,1,1]')::numeric, 6) AS dist FROM items ORDER BY embedding <-> '[1,1,1]', id LIMIT 4;
SELECT id, embedding <#> '[1,1,1]' AS neg_ip FROM items ORDER BY embedding <#> '[1,1,1]', id LIMIT 4;
SELECT id, round((embedding <=> '[1,1,1]')::numeric, 6) AS dist FROM items ORDER BY embedding <=> '[1,1,1]', id LIMIT 4;
SELECT id, embedding <+> '[1,1,1]' AS dist FROM items ORDER BY embedding <+> '[1,1,1]', id LIMIT 4;
SELECT id FROM items WHERE embedding <-> '[1,1,1]' < 1.5 ORDER BY id;
-- against the same search done by hand in SQL, on 2000 random rows
CREATE TABLE big AS SELECT i AS id, ARRAY[sin(i), cos(i), sin(i * 7), cos(i * 3)]::vector AS v FROM generate_series(1, 2000) i;
SELECT array_agg(id) = (SELECT array_agg(id) FROM (SELECT id FROM big ORDER BY
         sqrt((sin(id)-0.1)^2 + (cos(id)-0.2)^2 + (sin(id*7)-0.3)^2 + (cos(id*3)-0.4)^2), id LIMIT 10) s) AS l2_matches
FROM (SELECT id FROM big ORDER BY v <-> '[0.1,0.2,0.3,0.4]', id LIMIT 10) t;
SELECT array_agg(id) = (SELECT array_agg(id) FROM (SELECT id FROM big ORDER BY
         abs(sin(id)-0.1) + abs(cos(id)-0.2) + abs(sin(id*7)-0.3) + abs(cos(id*3)-0.4), id LIMIT 10) s) AS l1_matches
FROM (SELECT id FROM big ORDER BY v <+> '[0.1,0.2,0.3,0.4]', id LIMIT 10) t;
-- parallel sequential scan for large exact searches
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT id FROM big ORDER BY v <-> '[0.1,0.2,0.3,0.4]' LIMIT 5;
RESET ALL;
DROP TABLE items, big;
