#!/usr/bin/env bash
# The main job: set the machine up, build and install vecstore into the
# system PostgreSQL 15, start it, load the sample sentences (real
# all-MiniLM-L6-v2 embeddings) into a demo database and answer similarity
# queries with each distance operator. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install.sh

DB=vecstore_demo
psql_demo() { psql -X -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

echo "== demo database $DB"
psql -X -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 \
  || psql -X -d postgres -c "CREATE DATABASE $DB" >/dev/null
psql_demo -q <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS sentences;
DROP EXTENSION IF EXISTS vecstore CASCADE;
CREATE EXTENSION vecstore;
CREATE TABLE sentences (id int PRIMARY KEY, source text, body text, embedding vector(384));
SQL
psql_demo -q -c "\\copy sentences FROM 'data/sample/sentences.tsv'"
psql_demo -q -c "ANALYZE sentences"
psql_demo -tAc "SELECT format('loaded %s sentences, %s dimensions each, from %s sources', count(*), max(vector_dims(embedding)), count(DISTINCT source)) FROM sentences"

echo
echo "== the worked example: a = [2,3,4], b = [1,2,3]"
psql_demo <<'SQL'
SELECT a <#> b AS "a <#> b (negative inner product)",
       inner_product(a, b) AS "inner product",
       round((a <-> b)::numeric, 7) AS "a <-> b (L2)",
       round((1 - (a <=> b))::numeric, 5) AS "cosine similarity",
       round((a <=> b)::numeric, 5) AS "a <=> b (cosine distance)",
       a <+> b AS "a <+> b (L1)"
FROM (SELECT '[2,3,4]'::vector AS a, '[1,2,3]'::vector AS b) t;
SQL

for q in 60 909 757 848; do
  echo "== nearest neighbours of sentence $q:"
  psql_demo -tAc "SELECT '   \"' || body || '\"' FROM sentences WHERE id = $q"
  for op in "<->:L2 distance" "<=>:cosine distance" "<#>:negative inner product"; do
    sym=${op%%:*}; name=${op#*:}
    echo "-- by $name ($sym)"
    psql_demo -P footer=off <<SQL
SELECT s.id, round((s.embedding $sym q.embedding)::numeric, 4) AS distance, s.source, left(s.body, 80) AS sentence
FROM sentences s, (SELECT embedding FROM sentences WHERE id = $q) q
WHERE s.id <> $q
ORDER BY s.embedding $sym q.embedding
LIMIT 5;
SQL
  done
done

echo "== average embedding per source, and the sentence nearest to each centroid"
psql_demo -P footer=off <<'SQL'
SELECT c.source, n.id, round(n.dist::numeric, 4) AS l2_to_centroid, left(n.body, 70) AS most_typical_sentence
FROM (SELECT source, avg(embedding) AS centroid FROM sentences GROUP BY source) c
CROSS JOIN LATERAL (
  SELECT id, body, embedding <-> c.centroid AS dist FROM sentences s
  WHERE s.source = c.source ORDER BY embedding <-> c.centroid LIMIT 1) n
ORDER BY c.source;
SQL
echo "vecstore is installed; try: psql -d $DB"
