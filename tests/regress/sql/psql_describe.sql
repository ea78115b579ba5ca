-- psql shows what each object is
SELECT t::regtype AS type, obj_description(t::regtype, 'pg_type') AS type_comment
FROM unnest(ARRAY['vector', 'halfvec']) t ORDER BY 1;
SELECT p.oid::regprocedure AS function, obj_description(p.oid, 'pg_proc') FROM pg_proc p
WHERE p.proname IN ('l2_distance', 'cosine_distance', 'inner_product', 'l1_distance', 'l2_norm',
                    'hamming_distance', 'jaccard_distance') ORDER BY p.oid::regprocedure::text;
SELECT o.oid::regoperator AS operator, obj_description(o.oid, 'pg_operator') FROM pg_operator o
WHERE o.oprname IN ('<->', '<#>', '<=>', '<+>', '<~>', '<%>')
  AND o.oprleft IN ('vector'::regtype, 'halfvec'::regtype, 'bit'::regtype) ORDER BY o.oid::regoperator::text;
SELECT amname, obj_description(oid, 'pg_am') FROM pg_am WHERE amname = 'hnsw';
SELECT comment FROM pg_available_extensions WHERE name = 'vecstore';
-- the types, operator classes and casts of the extension (as \dT, \dAc, \dC)
SELECT t.typname FROM pg_type t JOIN pg_depend d ON d.objid = t.oid AND d.classid = 'pg_type'::regclass
JOIN pg_extension e ON e.oid = d.refobjid WHERE e.extname = 'vecstore' ORDER BY 1;
SELECT am.amname, c.opcname, c.opcintype::regtype, c.opcdefault
FROM pg_opclass c JOIN pg_am am ON am.oid = c.opcmethod
WHERE c.opcintype IN ('vector'::regtype, 'halfvec'::regtype, 'bit'::regtype) AND am.amname IN ('hnsw', 'btree')
  AND c.opcname NOT IN ('bit_ops') ORDER BY 1, 2;
SELECT c.castsource::regtype, c.casttarget::regtype, c.castcontext
FROM pg_cast c WHERE 'halfvec'::regtype IN (c.castsource, c.casttarget)
ORDER BY c.castsource::regtype::text, c.casttarget::regtype::text;
SELECT count(*) AS operators FROM pg_operator o
WHERE 'halfvec'::regtype IN (o.oprleft, o.oprright);
