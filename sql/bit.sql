-- vecstore: distances over PostgreSQL's own `bit` type (pgvector's
-- hamming_distance and jaccard_distance, operators <~> and <%>).

CREATE FUNCTION hamming_distance(bit, bit) RETURNS float8
    AS 'MODULE_PATHNAME', 'hamming_distance_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION jaccard_distance(bit, bit) RETURNS float8
    AS 'MODULE_PATHNAME', 'jaccard_distance_wrapper' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR <~> (LEFTARG = bit, RIGHTARG = bit, PROCEDURE = hamming_distance, COMMUTATOR = '<~>');
CREATE OPERATOR <%> (LEFTARG = bit, RIGHTARG = bit, PROCEDURE = jaccard_distance, COMMUTATOR = '<%>');

COMMENT ON FUNCTION hamming_distance(bit, bit) IS 'number of differing bits';
COMMENT ON FUNCTION jaccard_distance(bit, bit) IS 'Jaccard distance: 1 - |a AND b| / |a OR b|';
COMMENT ON OPERATOR <~> (bit, bit) IS 'Hamming distance';
COMMENT ON OPERATOR <%> (bit, bit) IS 'Jaccard distance';
