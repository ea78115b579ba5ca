-- every user error with its SQLSTATE (never XX000)
CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT q, pg_temp.err(q) FROM (VALUES
  ($q$SELECT '[hello,1]'::vector$q$),
  ($q$SELECT 'x'::vector$q$),
  ($q$SELECT '[1]x'::vector$q$),
  ($q$SELECT '[]'::vector$q$),
  ($q$SELECT '[4e38]'::vector$q$),
  ($q$SELECT '[NaN]'::vector$q$),
  ($q$SELECT '[inf]'::vector$q$),
  ($q$SELECT ('[' || repeat('1,', 16000) || '1]')::vector$q$),
  ($q$SELECT '[1,2]'::vector(3)$q$),
  ($q$SELECT '[1]'::vector(1,2)$q$),
  ($q$SELECT '[1]'::vector(0)$q$),
  ($q$SELECT '[1]'::vector(16001)$q$),
  ($q$SELECT '[1,2]'::vector <-> '[1]'$q$),
  ($q$SELECT '[1,2]'::vector <#> '[1]'$q$),
  ($q$SELECT '[1,2]'::vector <=> '[1]'$q$),
  ($q$SELECT '[1,2]'::vector <+> '[1]'$q$),
  ($q$SELECT '[1,2]'::vector - '[1]'$q$),
  ($q$SELECT '[3e38]'::vector + '[3e38]'$q$),
  ($q$SELECT '[1e-30]'::vector * '[1e-30]'$q$),
  ($q$SELECT ARRAY[[1]]::vector$q$),
  ($q$SELECT ARRAY[1,NULL]::vector$q$),
  ($q$SELECT ARRAY[1]::vector(2)$q$),
  ($q$SELECT subvector('[1,2]'::vector, 3, 1)$q$),
  ($q$SELECT avg(v) FROM (VALUES ('[1]'::vector), ('[1,2]')) t(v)$q$),
  ($q$SELECT ('[' || repeat('1,', 8000) || '1]')::vector || ('[' || repeat('1,', 8000) || '1]')::vector$q$)
) t(q);
