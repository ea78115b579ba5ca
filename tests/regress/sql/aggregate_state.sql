-- avg(vector)'s state functions called directly with hand-made states: every
-- bad state is an error with pgvector's wording and SQLSTATE, never a crash
-- or an invalid vector. State = [n, sum_1, ..., sum_d].
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  EXECUTE q INTO r;
  RETURN coalesce(r, 'NULL');
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- vector_accum
SELECT q, pg_temp.try(q) FROM (VALUES
  ($q$SELECT vector_accum('{0}', '[1,2,3]'::vector)$q$),
  ($q$SELECT vector_accum('{5}', '[1,2]'::vector)$q$),
  ($q$SELECT vector_accum('{0,0,0,0}', '[1,2,3]'::vector)$q$),
  ($q$SELECT vector_accum('{2,1,2,3}', '[1,2,3]'::vector)$q$),
  ($q$SELECT vector_accum('{0,0}', '[1,2,3]'::vector)$q$),
  ($q$SELECT vector_accum('{1,2,3}', '[1]'::vector)$q$),
  ($q$SELECT vector_accum('{}', '[1,2]'::vector)$q$),
  ($q$SELECT vector_accum('{{1,2},{3,4}}', '[1]'::vector)$q$),
  ($q$SELECT vector_accum('{1,NULL}', '[1]'::vector)$q$),
  ($q$SELECT vector_accum('{NULL}', '[1]'::vector)$q$),
  ($q$SELECT vector_accum('{1,1e308}', '[3e38]'::vector)$q$),
  ($q$SELECT vector_accum('{1,1.7976931348623157e308}', '[3e38]'::vector)$q$),
  ($q$SELECT vector_accum('{1,Infinity}', '[1]'::vector)$q$),
  ($q$SELECT vector_accum('{1,NaN}', '[1]'::vector)$q$),
  ($q$SELECT vector_accum('{NaN,1}', '[1]'::vector)$q$),
  ($q$SELECT array_length(vector_accum(array_fill(0::float8, ARRAY[16001]), array_fill(1, ARRAY[16000])::vector), 1)::text$q$),
  ($q$SELECT vector_accum(array_fill(0::float8, ARRAY[16002]), array_fill(1, ARRAY[16000])::vector)::text$q$)
) t(q);
-- vector_avg
SELECT q, pg_temp.try(q) FROM (VALUES
  ($q$SELECT vector_avg('{2,1,3}')::text$q$),
  ($q$SELECT vector_avg('{0}')::text$q$),
  ($q$SELECT vector_avg('{0,5}')::text$q$),
  ($q$SELECT vector_avg('{1}')::text$q$),
  ($q$SELECT vector_avg('{1,NaN}')::text$q$),
  ($q$SELECT vector_avg('{1,Infinity}')::text$q$),
  ($q$SELECT vector_avg('{1,-1e39}')::text$q$),
  ($q$SELECT vector_avg('{2,6e38}')::text$q$),
  ($q$SELECT vector_avg('{1e300,1e300}')::text$q$),
  ($q$SELECT vector_avg('{NaN,1}')::text$q$),
  ($q$SELECT vector_avg('{}')::text$q$),
  ($q$SELECT vector_avg('{{1,2},{3,4}}')::text$q$),
  ($q$SELECT vector_avg('{1,NULL}')::text$q$),
  ($q$SELECT vector_dims(vector_avg(array_fill(1::float8, ARRAY[16001])))::text$q$),
  ($q$SELECT vector_avg(array_fill(1::float8, ARRAY[16002]))::text$q$),
  ($q$SELECT vector_avg(array_fill(1::float8, ARRAY[20001]))::text$q$),
  ($q$SELECT vector_avg(array_fill(1::float8, ARRAY[40001]))::text$q$),
  ($q$SELECT vector_avg(array_fill(1::float8, ARRAY[65538]))::text$q$),
  ($q$SELECT vector_avg(array_fill(0::float8, ARRAY[40001]))::text$q$)
) t(q);
-- vector_combine
SELECT q, pg_temp.try(q) FROM (VALUES
  ($q$SELECT vector_combine('{0}', '{0}')$q$),
  ($q$SELECT vector_combine('{2}', '{3}')$q$),
  ($q$SELECT vector_combine('{1,1}', '{2}')$q$),
  ($q$SELECT vector_combine('{2}', '{1,1}')$q$),
  ($q$SELECT vector_combine('{0,5}', '{0,7}')$q$),
  ($q$SELECT vector_combine('{1,1,2}', '{2,3,4}')$q$),
  ($q$SELECT vector_combine('{1,1}', '{1,1,2}')$q$),
  ($q$SELECT vector_combine('{1,1e308}', '{1,1e308}')$q$),
  ($q$SELECT vector_combine('{1,Infinity}', '{1,1}')$q$),
  ($q$SELECT vector_combine('{1,Infinity}', '{1}')$q$),
  ($q$SELECT vector_combine('{1,NaN}', '{1,1}')$q$),
  ($q$SELECT vector_combine('{}', '{1,1}')$q$),
  ($q$SELECT vector_combine('{1,1}', '{}')$q$),
  ($q$SELECT vector_combine('{1,1}', '{{1,2}}')$q$),
  ($q$SELECT vector_combine('{1,NULL}', '{1,1}')$q$),
  ($q$SELECT vector_combine('{1}', array_fill(1::float8, ARRAY[16002]))$q$),
  ($q$SELECT vector_combine(array_fill(1::float8, ARRAY[16002]), '{1}')$q$),
  ($q$SELECT vector_combine(array_fill(1::float8, ARRAY[16002]), array_fill(1::float8, ARRAY[16002]))$q$),
  ($q$SELECT array_length(vector_combine('{1}', array_fill(1::float8, ARRAY[16001])), 1)::text$q$)
) t(q);
-- parallel avg over zero rows combines two empty states
CREATE TABLE agg_empty (v vector(3));
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT avg(v) IS NULL AS avg_is_null FROM agg_empty;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP TABLE agg_empty;
