-- One question three ways (psql variables: q = the question's embedding,
-- text = the question, k = rows per ranking): dense (HNSW, cosine), sparse
-- (HNSW over docs.lex, inner product; an iterative scan keeps searching
-- until it has sentences sharing a word with the question) and hybrid
-- (reciprocal rank fusion of both top 20: score = sum of 1 / (60 + rank)).
-- Used by scripts/hybrid.sh and tests/pipeline.
-- the question as a sparse vector over the same vocabulary: weight 1 per
-- known word, so lex <#> sq is minus the sentence's BM25 score from those
-- words. Words in more than 1% of the sentences (what, is, the, ...) are
-- stop words here: they add little to BM25 and would let hundreds of
-- sentences pass the filter below, where an approximate search of sparse
-- vectors may stop before it reaches the few with the rare word; with only
-- rare words, the iterative scan keeps going until it has them all.
SELECT format('{%s}/%s', coalesce(string_agg(DISTINCT v.idx::text || ':1', ','), ''), (SELECT count(*) FROM vocab)) AS sq
FROM regexp_split_to_table(lower(:'text'), '[^a-z0-9]+') AS t(term) JOIN vocab v USING (term)
WHERE v.df <= 0.01 * (SELECT count(*) FROM docs) \gset
SET hnsw.iterative_scan = relaxed_order;
-- (relaxed_order may hand rows out slightly out of order: rank by distance)
WITH dense AS (
  SELECT id, row_number() OVER (ORDER BY d, id) AS rank
  FROM (SELECT id, embedding <=> :'q' AS d FROM docs ORDER BY embedding <=> :'q' LIMIT 20) s),
sparse AS (
  SELECT id, row_number() OVER (ORDER BY d, id) AS rank
  FROM (SELECT id, lex <#> :'sq' AS d FROM docs WHERE (lex <#> :'sq') < 0 ORDER BY lex <#> :'sq' LIMIT 20) s),
hybrid AS (
  SELECT id, row_number() OVER (ORDER BY sum(1.0 / (60 + rank)) DESC, id) AS rank
  FROM (SELECT * FROM dense UNION ALL SELECT * FROM sparse) both_lists
  GROUP BY id)
SELECT how, rank, left(body, 90) AS sentence
FROM (SELECT 1 AS o, 'dense' AS how, * FROM dense
      UNION ALL SELECT 2, 'sparse', * FROM sparse
      UNION ALL SELECT 3, 'hybrid', * FROM hybrid) r
JOIN docs USING (id)
WHERE rank <= :k
ORDER BY o, rank;
