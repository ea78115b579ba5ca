-- Sparse lexical vectors for the demo corpus (table docs (id, body)): the
-- BM25 weight (k1 = 1.2, b = 0.75) of each word of a sentence over the
-- corpus's vocabulary, as docs.lex sparsevec(vocabulary size) with an HNSW
-- index (inner product: lex <#> q is minus the BM25 score of a query q that
-- has weight 1 per word). Used by scripts/demo.sh and tests/pipeline.
CREATE TABLE doc_terms AS
SELECT d.id AS doc, t.term, count(*) AS tf
FROM docs d, regexp_split_to_table(lower(d.body), '[^a-z0-9]+') AS t(term)
WHERE length(t.term) > 1
GROUP BY 1, 2;
CREATE TABLE vocab AS
SELECT row_number() OVER (ORDER BY term)::int AS idx, term, count(*) AS df FROM doc_terms GROUP BY term;
CREATE UNIQUE INDEX ON vocab (term);
SELECT format('ALTER TABLE docs ADD COLUMN lex sparsevec(%s)', count(*)) FROM vocab \gexec
WITH len AS (SELECT doc, sum(tf) AS dl FROM doc_terms GROUP BY doc),
corpus AS (SELECT count(*)::float8 AS n, avg(dl) AS avgdl FROM len),
weights AS (
  SELECT t.doc, v.idx,
         ln(1 + (c.n - v.df + 0.5) / (v.df + 0.5)) * t.tf * 2.2 / (t.tf + 1.2 * (0.25 + 0.75 * l.dl / c.avgdl)) AS w
  FROM doc_terms t JOIN vocab v USING (term) JOIN len l USING (doc), corpus c)
UPDATE docs SET lex = s.lex::sparsevec
FROM (SELECT doc, format('{%s}/%s', string_agg(idx || ':' || round(w::numeric, 4), ',' ORDER BY idx),
                         (SELECT count(*) FROM vocab)) AS lex
      FROM weights GROUP BY doc) s
WHERE s.doc = docs.id;
-- vecstore gives every element of a sparsevec index room for a fixed number
-- of non-zeros (default 1000, pgvector's limit); sentences of the demo have
-- at most 52 distinct words, so room for 128 keeps the index at ~4 MB
-- instead of ~35 MB (a longer sentence would be refused with a hint)
CREATE INDEX docs_lex_idx ON docs USING hnsw (lex sparsevec_ip_ops) WITH (vecstore_max_nnz = 128);
