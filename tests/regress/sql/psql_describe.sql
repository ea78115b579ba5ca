-- psql shows what each object is
SELECT obj_description('vector'::regtype, 'pg_type') AS type_comment;
SELECT p.proname, obj_description(p.oid, 'pg_proc') FROM pg_proc p
WHERE p.proname IN ('l2_distance', 'cosine_distance', 'inner_product', 'l1_distance') ORDER BY 1;
SELECT o.oprname, obj_description(o.oid, 'pg_operator') FROM pg_operator o
WHERE o.oprname IN ('<->', '<#>', '<=>', '<+>') AND o.oprleft = 'vector'::regtype ORDER BY 1;
SELECT amname, obj_description(oid, 'pg_am') FROM pg_am WHERE amname = 'hnsw';
SELECT comment FROM pg_available_extensions WHERE name = 'vecstore';
