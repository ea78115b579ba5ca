-- text input and output
SELECT '[1,2,3]'::vector;
SELECT '  [ 1 , -2.5 ,3e2 ]  '::vector;
SELECT '[1.5e38,-1.5e38]'::vector;
SELECT '[1.23456]'::vector;
SELECT '[1e-46]'::vector;
SELECT '[-0,0.1,100000,1000000,0.0001,0.00001]'::vector;
SELECT '[+1,.5,1.]'::vector;
SELECT '[0x10]'::vector;
SELECT '[1,2,3]'::vector(3);
SELECT NULL::vector;
-- errors
SELECT '[hello,1]'::vector;
SELECT '1,2,3'::vector;
SELECT '[1,2,3]x'::vector;
SELECT '[1,,2]'::vector;
SELECT '[1,2'::vector;
SELECT ''::vector;
SELECT '[]'::vector;
SELECT '[4e38]'::vector;
SELECT '[-4e38]'::vector;
SELECT '[NaN]'::vector;
SELECT '[Infinity]'::vector;
SELECT '[-inf]'::vector;
SELECT '[1,2]'::vector(3);
SELECT '[1]'::vector(0);
SELECT '[1]'::vector(16001);
SELECT '[1]'::vector(2, 3);
SELECT array_fill(1, ARRAY[16000])::vector IS NOT NULL AS max_dims_ok;
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']')::vector;
-- binary output
SELECT vector_send('[1,2]');
SELECT vector_send('[1.5e38,-0]');
