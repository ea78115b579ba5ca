-- Arithmetic at the edges of float4, as pgvector computes it: distance sums
-- accumulate in float4 (so they overflow to Infinity, and cosine to NaN),
-- norms in float8, avg sums in float8, sum in float4 with an overflow error.
SELECT l2_distance('[3e38]'::vector, '[-3e38]'::vector) AS l2,
       inner_product('[3e38]'::vector, '[3e38]'::vector) AS ip,
       l1_distance('[3e38]'::vector, '[-3e38]'::vector) AS l1,
       cosine_distance('[3e38]'::vector, '[3e38]'::vector) AS cos;
SELECT vector_l2_squared_distance('[3e38]'::vector, '[-3e38]'::vector) AS l2sq,
       vector_negative_inner_product('[3e38]'::vector, '[3e38]'::vector) AS neg_ip,
       vector_spherical_distance('[3e38]'::vector, '[3e38]'::vector) AS spherical;
SELECT inner_product('[2e38,2e38]'::vector, '[1,1]'::vector) AS ip_sum_overflows,
       l2_distance('[2e38,2e38]'::vector, '[0,0]'::vector) AS l2_sum_overflows,
       l1_distance('[3e38,3e38]'::vector, '[0,0]'::vector) AS l1_sum_overflows,
       inner_product('[3e38,-3e38]'::vector, '[3e38,3e38]'::vector) AS ip_inf_minus_inf;
SELECT cosine_distance('[1e20,1]'::vector, '[1e20,1]'::vector) AS cos_norm_overflows,
       cosine_distance('[1e19,1]'::vector, '[1e19,1]'::vector) AS cos_large,
       cosine_distance('[1e-30]'::vector, '[1e-30]'::vector) AS cos_norm_underflows,
       inner_product('[1e-30]'::vector, '[1e-30]'::vector) AS ip_underflows;
-- the same past the first SIMD block (16+ elements)
SELECT l2_distance(array_fill(3e38::real, ARRAY[37])::vector, array_fill(-3e38::real, ARRAY[37])::vector) AS l2,
       inner_product(array_fill(1e20::real, ARRAY[37])::vector, array_fill(1e20::real, ARRAY[37])::vector) AS ip,
       cosine_distance(array_fill(1e20::real, ARRAY[37])::vector, array_fill(1e20::real, ARRAY[37])::vector) AS cos,
       l1_distance(array_fill(3e38::real, ARRAY[37])::vector, array_fill(-3e38::real, ARRAY[37])::vector) AS l1;
-- norms accumulate in float8
SELECT vector_norm('[3e37,4e37]'::vector)::real AS norm_3e37_4e37,
       vector_norm('[3e38,3e38]'::vector) AS norm_beyond_float4,
       vector_norm('[1e-30]'::vector)::real AS norm_tiny,
       vector_norm('[3,4]'::vector) AS norm_3_4,
       vector_norm('[1,1,1]'::vector) AS norm_ones;
SELECT (vector_norm(array_fill(3e38::real, ARRAY[16000])::vector) / 1e38)::real AS norm_max_over_1e38;
SELECT l2_normalize('[3e38]'::vector) AS n1, l2_normalize('[3e37,4e37]'::vector) AS n2,
       l2_normalize('[-3e38,3e38]'::vector) AS n3, l2_normalize('[1e-45]'::vector) AS n4,
       l2_normalize('[1e-30,1e-30]'::vector) AS n5, l2_normalize('[0,0]'::vector) AS n6;
-- aggregates: avg in float8, sum in float4
SELECT avg(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);
SELECT avg(v) FROM (VALUES ('[3e38,-3e38]'::vector), ('[3e38,-3e38]'), ('[3e38,-3e38]')) t(v);
SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);
SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[-3e38]'), ('[3e38]')) t(v);
-- element-wise arithmetic
SELECT '[3e38]'::vector - '[-3e38]'::vector;
SELECT '[1e30]'::vector * '[1e10]'::vector;
SELECT '[3.4028235e38]'::vector + '[0]'::vector AS max_plus_zero;
-- text input of huge and tiny values
SELECT '[3.4028235e38,-3.4028235e38]'::vector AS float4_max;
SELECT '[3.4028236e38]'::vector;
SELECT '[-3.5e38]'::vector;
SELECT '[1e39]'::vector;
SELECT '[0x1p128]'::vector;
SELECT '[0x1.fffffep127]'::vector AS hex_max;
SELECT '[1e-45,1e-40,-1e-46]'::vector AS tiny;
SELECT ('[' || repeat('9', 60) || ']')::vector;
-- arrays of huge values
SELECT ARRAY[3.4028235e38]::float8[]::vector AS from_float8;
SELECT ARRAY[3.5e38]::float8[]::vector;
SELECT ARRAY['1e-50']::float8[]::vector AS tiny_float8;
SELECT ARRAY[1e39]::numeric[]::vector(2);
SELECT ARRAY[1e39, 1]::numeric[]::vector(2);
SELECT ARRAY[1]::int[]::vector(2);
SELECT array_fill(1, ARRAY[16001])::vector(3);
-- concatenation and subvector never build more than 16000 dimensions
SELECT vector_dims(array_fill(1, ARRAY[8000])::vector || array_fill(2, ARRAY[8000])::vector) AS dims_16000;
SELECT array_fill(1, ARRAY[8000])::vector || array_fill(2, ARRAY[8001])::vector;
SELECT array_fill(1, ARRAY[16000])::vector || array_fill(1, ARRAY[16000])::vector;
SELECT array_fill(1, ARRAY[16000])::vector || '[1]'::vector;
SELECT vector_dims(subvector(array_fill(1, ARRAY[16000])::vector, -5, 2147483647)) AS sub_all;
SELECT subvector('[1,2,3,4,5]'::vector, -2147483644, 2147483647) AS sub_wide;
SELECT subvector('[1,2,3]'::vector, 2147483647, 2147483647);
SELECT length(binary_quantize(array_fill(1, ARRAY[16000])::vector)) AS bits_16000;
