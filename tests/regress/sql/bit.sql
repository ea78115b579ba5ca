-- bit distances (PostgreSQL's bit type)
SELECT hamming_distance('111', '001');
SELECT hamming_distance('', '');
SELECT '1100'::bit(4) <~> '0110';
SELECT jaccard_distance('1100', '1000');
SELECT jaccard_distance('1111', '0000');
SELECT jaccard_distance('0000', '0000');
SELECT jaccard_distance('', '');
SELECT '10101'::bit(5) <%> '11111';
SELECT hamming_distance('111', '00');
SELECT jaccard_distance('111', '00');
SELECT hamming_distance(B'1011'::varbit, B'0001'::varbit);
SELECT hamming_distance(repeat('10', 100)::bit(200), repeat('01', 100)::bit(200));
SELECT round(jaccard_distance(repeat('1100', 50)::bit(200), repeat('1000', 50)::bit(200))::numeric, 6);
SELECT binary_quantize('[1,-2,3]'::vector) <~> binary_quantize('[-1,2,3]'::halfvec);
