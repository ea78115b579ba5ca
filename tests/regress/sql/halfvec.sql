-- halfvec: text form, rounding to half, range, typmod
SELECT '[1,2.5,-3]'::halfvec;
SELECT '[1.23456]'::halfvec;
SELECT ' [ 1 , -0 ,  0.1 ] '::halfvec;
SELECT '[65504,-65504]'::halfvec;
SELECT '[65519]'::halfvec;
SELECT '[65520]'::halfvec;
SELECT '[-1e5]'::halfvec;
SELECT '[4e38]'::halfvec;
SELECT '[1e-8,-1e-8,1e-46]'::halfvec;
SELECT '[6e-8,3e-8]'::halfvec;
SELECT '[nan]'::halfvec;
SELECT '[-inf]'::halfvec;
SELECT '[hello,1]'::halfvec;
SELECT '1,2]'::halfvec;
SELECT '[1,2] x'::halfvec;
SELECT '[1,]'::halfvec;
SELECT '[]'::halfvec;
SELECT '[1,2,3]'::halfvec(3);
SELECT '[1,2]'::halfvec(3);
SELECT '[1]'::halfvec(0);
SELECT '[1]'::halfvec(16001);
SELECT '[1]'::halfvec(2, 3);
SELECT pg_column_size('[1,2,3]'::halfvec);
SELECT halfvec_send('[1,-2,0.5]');
-- casts
SELECT '[1.5,2.1]'::vector::halfvec;
SELECT '[1e5]'::vector::halfvec;
SELECT '[1.5,2.1]'::halfvec::vector;
SELECT '[1.5,2.1]'::halfvec::real[];
SELECT ARRAY[1,2,3]::halfvec;
SELECT ARRAY[1.5,65519]::real[]::halfvec;
SELECT ARRAY[65520]::real[]::halfvec;
SELECT '{4e38}'::float8[]::halfvec;
SELECT '{1e5}'::float8[]::halfvec;
SELECT ARRAY[1.25,2]::numeric[]::halfvec;
SELECT ARRAY[1,2,3]::halfvec(2);
SELECT ARRAY[[1,2],[3,4]]::halfvec;
SELECT ARRAY[1,NULL,3]::halfvec;
SELECT '{}'::real[]::halfvec;
SELECT '[1,2]'::halfvec::halfvec(2);
SELECT '[1,2]'::halfvec::halfvec(3);
-- distances
SELECT l2_distance('[0,0]'::halfvec, '[3,4]');
SELECT '[1,2,3]'::halfvec <-> '[3,1,2]';
SELECT inner_product('[1,2]'::halfvec, '[3,4]');
SELECT '[1,2]'::halfvec <#> '[3,4]';
SELECT cosine_distance('[1,2]'::halfvec, '[2,4]');
SELECT cosine_distance('[1,1]'::halfvec, '[-1,-1]');
SELECT cosine_distance('[0,0]'::halfvec, '[1,1]');
SELECT '[1,2]'::halfvec <=> '[2,1]';
SELECT l1_distance('[0,0]'::halfvec, '[3,4]');
SELECT '[1,2]'::halfvec <+> '[-1,5]';
SELECT l2_distance('[65504]'::halfvec, '[-65504]');
SELECT '[1,2]'::halfvec <-> '[1]';
SELECT inner_product('[1,2]'::halfvec, '[1]');
-- helpers
SELECT vector_dims('[1,2,3]'::halfvec);
SELECT l2_norm('[3,4]'::halfvec);
SELECT l2_norm('[65504,65504]'::halfvec);
SELECT l2_normalize('[3,4]'::halfvec);
SELECT l2_normalize('[0,0]'::halfvec);
SELECT l2_normalize('[65504,0.001]'::halfvec);
SELECT binary_quantize('[1,-1,0,2,0.1,-0.1,3,4,5]'::halfvec);
SELECT subvector('[1,2,3,4,5]'::halfvec, 1, 3);
SELECT subvector('[1,2,3,4,5]'::halfvec, 3, 9);
SELECT subvector('[1,2,3,4,5]'::halfvec, -1, 3);
SELECT subvector('[1,2,3,4,5]'::halfvec, -1, 2);
SELECT subvector('[1,2,3,4,5]'::halfvec, 6, 1);
SELECT subvector('[1,2,3,4,5]'::halfvec, 1, 0);
SELECT subvector('[1,2]'::halfvec, -2147483644, 2147483647);
-- arithmetic
SELECT '[1,2]'::halfvec + '[3,4.5]';
SELECT '[1,2]'::halfvec - '[3,4.5]';
SELECT '[1,2]'::halfvec * '[3,4.5]';
SELECT '[1,2]'::halfvec || '[3]';
SELECT '[65519]'::halfvec + '[65519]';
SELECT '[-65504]'::halfvec - '[65504]';
SELECT '[300]'::halfvec * '[300]';
SELECT '[1e-7]'::halfvec * '[1e-7]';
SELECT '[1,2]'::halfvec + '[1]';
-- comparison and btree
SELECT '[1,2]'::halfvec < '[1,3]', '[1,2]'::halfvec < '[1,2,0]', '[0]'::halfvec = '[-0]';
SELECT '[1,2]'::halfvec <= '[1,2]', '[2]'::halfvec > '[1,9]', '[1]'::halfvec <> '[1]', '[1]'::halfvec >= '[1.001]';
SELECT halfvec_cmp('[1,2]', '[1,2]'), halfvec_cmp('[1,2]', '[1]'), halfvec_cmp('[0.5]', '[1]');
CREATE TABLE hv (v halfvec);
INSERT INTO hv VALUES ('[1,2,3]'), ('[1,2]'), ('[0,5]'), ('[1,2,3]'), ('[-1]'), (NULL);
CREATE INDEX ON hv (v);
SET enable_seqscan = off;
SELECT v FROM hv WHERE v > '[0]' ORDER BY v;
RESET enable_seqscan;
SELECT v FROM hv ORDER BY v DESC;
-- aggregates
SELECT avg(v) FROM (VALUES ('[1,2]'::halfvec), ('[3,5]')) t(v);
SELECT avg(v) FROM (VALUES ('[65504]'::halfvec), ('[65504]')) t(v);
SELECT avg(v) FROM hv WHERE false;
SELECT avg(v) FROM hv;
SELECT sum(v) FROM (VALUES ('[1,2]'::halfvec), ('[3,5]')) t(v);
SELECT sum(v) FROM (VALUES ('[65504]'::halfvec), ('[65504]')) t(v);
SELECT sum(v) FROM hv WHERE false;
SELECT halfvec_accum('{0}', '[1,2]');
SELECT halfvec_accum('{0,0}', '[1,2,3]');
SELECT halfvec_avg('{2,200000}');
SELECT halfvec_avg('{1}');
SELECT halfvec_avg('{0,5}');
SELECT halfvec_combine('{1,1}', '{2,2}');
SELECT halfvec_accum('{{1}}', '[1]');
DROP TABLE hv;
-- shortest float4 text: exact ties between two shortest forms print the
-- even one (Ryu's rule), for vector and halfvec alike
SELECT '[-7.41015625,0.251953125,-2.66015625,3.72265625]'::vector;
SELECT '[-7.940245899984921,91.31729044863188,-0.26746369963434447,0.08992239598032192]'::halfvec;
-- every halfvec and bit user error with its SQLSTATE
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT q, pg_temp.err(q) FROM (VALUES
  ($q$SELECT '[hello,1]'::halfvec$q$),
  ($q$SELECT 'x'::halfvec$q$),
  ($q$SELECT '[1]x'::halfvec$q$),
  ($q$SELECT '[]'::halfvec$q$),
  ($q$SELECT '[65520]'::halfvec$q$),
  ($q$SELECT '[NaN]'::halfvec$q$),
  ($q$SELECT '[inf]'::halfvec$q$),
  ($q$SELECT ('[' || repeat('1,', 16000) || '1]')::halfvec$q$),
  ($q$SELECT '[1,2]'::halfvec(3)$q$),
  ($q$SELECT '[1]'::halfvec(1,2)$q$),
  ($q$SELECT '[1]'::halfvec(0)$q$),
  ($q$SELECT '[1]'::halfvec(16001)$q$),
  ($q$SELECT '[1,2]'::halfvec <-> '[1]'$q$),
  ($q$SELECT '[1,2]'::halfvec <#> '[1]'$q$),
  ($q$SELECT '[1,2]'::halfvec <=> '[1]'$q$),
  ($q$SELECT '[1,2]'::halfvec <+> '[1]'$q$),
  ($q$SELECT '[65504]'::halfvec + '[65504]'$q$),
  ($q$SELECT '[1e-7]'::halfvec * '[1e-7]'$q$),
  ($q$SELECT ARRAY[[1]]::halfvec$q$),
  ($q$SELECT ARRAY[1,NULL]::halfvec$q$),
  ($q$SELECT ARRAY[1]::halfvec(2)$q$),
  ($q$SELECT ARRAY[1e5]::real[]::halfvec$q$),
  ($q$SELECT '{4e38}'::float8[]::halfvec$q$),
  ($q$SELECT '[1e5]'::vector::halfvec$q$),
  ($q$SELECT '[1,2]'::halfvec::vector(3)$q$),
  ($q$SELECT subvector('[1,2]'::halfvec, 3, 1)$q$),
  ($q$SELECT avg(v) FROM (VALUES ('[1]'::halfvec), ('[1,2]')) t(v)$q$),
  ($q$SELECT avg(v) FROM (VALUES ('[65504]'::halfvec), ('[65504]'), ('[65504]')) t(v)$q$),
  ($q$SELECT halfvec_avg('{1,1e6}')$q$),
  ($q$SELECT halfvec_avg('{1,1e39}')$q$),
  ($q$SELECT ('[' || repeat('1,', 8000) || '1]')::halfvec || ('[' || repeat('1,', 8000) || '1]')::halfvec$q$),
  ($q$SELECT hamming_distance('101', '10')$q$),
  ($q$SELECT '101'::bit(3) <%> '10'::bit(2)$q$)
) t(q);
