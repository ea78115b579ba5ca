-- the worked example: a = [2,3,4], b = [1,2,3]
SELECT inner_product('[2,3,4]'::vector, '[1,2,3]');
SELECT round(l2_distance('[2,3,4]'::vector, '[1,2,3]')::numeric, 7) AS l2;
SELECT round((1 - cosine_distance('[2,3,4]'::vector, '[1,2,3]'))::numeric, 5) AS cosine_similarity;
SELECT round(cosine_distance('[2,3,4]'::vector, '[1,2,3]')::numeric, 5) AS cosine_distance;
SELECT l1_distance('[2,3,4]'::vector, '[1,2,3]');
-- operators
SELECT '[2,3,4]'::vector <-> '[1,2,3]' AS l2, '[2,3,4]'::vector <#> '[1,2,3]' AS neg_ip,
       round(('[2,3,4]'::vector <=> '[1,2,3]')::numeric, 8) AS cos, '[2,3,4]'::vector <+> '[1,2,3]' AS l1;
SELECT '[0,0]'::vector <=> '[1,1]' AS zero_norm_cosine;
SELECT '[1,1]'::vector <=> '[1,1]' AS same, '[1,1]'::vector <=> '[-1,-1]' AS opposite;
SELECT vector_l2_squared_distance('[0,0]'::vector, '[3,4]'), vector_negative_inner_product('[1,2]'::vector, '[3,4]');
SELECT vector_spherical_distance('[1,0]'::vector, '[0,1]');
-- helpers
SELECT vector_dims('[1,2,3]'::vector), vector_norm('[3,4]'::vector);
SELECT l2_normalize('[3,4]'::vector), l2_normalize('[0,0]'::vector), l2_normalize('[3e37,4e37]'::vector);
SELECT binary_quantize('[1,0,-1,2.5,0.1,-3,7,8,9]'::vector);
SELECT subvector('[1,2,3,4,5]'::vector, 2, 3), subvector('[1,2,3,4,5]'::vector, 0, 3), subvector('[1,2,3,4,5]'::vector, 4, 10);
SELECT subvector('[1,2,3,4,5]'::vector, 6, 1);
SELECT subvector('[1,2,3,4,5]'::vector, 1, 0);
-- arithmetic
SELECT '[1,2,3]'::vector + '[4,5,6]', '[1,2,3]'::vector - '[4,5,6]', '[1,2,3]'::vector * '[4,5,6]';
SELECT '[1,2]'::vector || '[3,4,5]';
SELECT '[3e38]'::vector + '[3e38]';
SELECT '[-3e38]'::vector - '[3e38]';
SELECT '[1e20]'::vector * '[1e20]';
SELECT '[1e-30]'::vector * '[1e-30]';
-- dimension mismatch
SELECT '[1,2,3]'::vector <-> '[1,2]';
SELECT inner_product('[1,2,3]'::vector, '[1,2]');
SELECT cosine_distance('[1,2,3]'::vector, '[1,2]');
SELECT '[1,2,3]'::vector <+> '[1,2]';
SELECT '[1,2,3]'::vector + '[1,2]';
-- every function is IMMUTABLE STRICT PARALLEL SAFE
SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
JOIN pg_extension e ON e.oid = d.refobjid
WHERE e.extname = 'vecstore' AND p.prokind = 'f' AND p.prorettype NOT IN ('index_am_handler'::regtype, 'internal'::regtype)
  AND NOT (p.provolatile = 'i' AND p.proisstrict AND p.proparallel = 's')
ORDER BY 1;
SELECT count(*) AS functions_checked
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
JOIN pg_extension e ON e.oid = d.refobjid
WHERE e.extname = 'vecstore' AND p.prokind = 'f';
