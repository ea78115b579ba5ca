#!/usr/bin/env bash
# The main job, offline after setup: install vecstore into the system
# PostgreSQL 15 (as extension "vector", the name pgvector users' code asks
# for: scripts/install.sh --as-vector), turn a corpus of 3,000 sentences into
# feature vectors with a real deep-learning model (all-MiniLM-L6-v2, run by
# tools/embed; progress on stderr), load them with binary COPY, index them
# with HNSW (build progress from pg_stat_progress_create_index) and answer
# similarity queries; then classify Iris flowers by k nearest neighbours.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# under the name pgvector users' code asks for (CREATE EXTENSION vector);
# where a real pgvector owns that name, vecstore keeps its own
ext=vector
rc=0
bash scripts/install.sh --as-vector || rc=$?
if ((rc == 3)); then
  bash scripts/install.sh
  ext=vecstore
  echo "(a real pgvector is installed as extension \"vector\": the demo uses CREATE EXTENSION vecstore)" >&2
elif ((rc)); then
  exit "$rc"
fi
model=$(bash scripts/model.sh)
embed=tools/embed/target/release/vecstore-embed
DB=vecstore_demo
psql_demo() { psql -X -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
# Progress on stderr, as command-line tools show it: a line rewritten in place
# on a terminal, nothing in logs (VECSTORE_PROGRESS=1: a line a second
# anyway, 0: never); tools/embed does the same while embedding.
progress_mode() {
  case ${VECSTORE_PROGRESS:-} in
  0 | off | false | no) echo off ;;
  1 | on | true | yes) [[ -t 2 ]] && echo live || echo lines ;;
  *) [[ -t 2 ]] && echo live || echo off ;;
  esac
}
# build_index TABLE "CREATE INDEX ...": runs it while polling
# pg_stat_progress_create_index (phase, tuples done/total, seconds so far).
build_index() {
  local table=$1 sql=$2 mode start pid line
  mode=$(progress_mode)
  start=$(date +%s.%N)
  psql_demo -q -c "$sql" &
  pid=$!
  if [[ $mode != off ]]; then
    while kill -0 "$pid" 2>/dev/null; do
      line=$(psql -X -d "$DB" -tA -v t="$table" -v s="$start" 2>/dev/null <<'SQL' || true
SELECT format('building HNSW index: %s, %s%s tuples%s, %s s', replace(phase, 'building index: ', ''),
              to_char(tuples_done, 'FM999,999,990'),
              CASE WHEN tuples_total > 0 THEN '/' || to_char(tuples_total, 'FM999,999,990') ELSE '' END,
              CASE WHEN tuples_total > 0 THEN format(' (%s%%)', tuples_done * 100 / tuples_total) ELSE '' END,
              round((extract(epoch FROM clock_timestamp()) - :s)::numeric))
FROM pg_stat_progress_create_index WHERE relid = :'t'::regclass
SQL
)
      if [[ -n $line ]]; then
        if [[ $mode == live ]]; then printf '\r\033[K%s' "$line" >&2; else printf '%s\n' "$line" >&2; fi
      fi
      sleep "$([[ $mode == live ]] && echo 0.3 || echo 1)"
    done
    [[ $mode == live ]] && printf '\r\033[K' >&2
  fi
  wait "$pid"
}

echo "== demo database $DB"
psql -X -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 \
  || psql -X -q -d postgres -c "CREATE DATABASE $DB"
psql_demo -q -v ext="$ext" <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS docs, iris, doc_terms, vocab;
DROP EXTENSION IF EXISTS vecstore CASCADE;
DROP EXTENSION IF EXISTS vector CASCADE;
CREATE EXTENSION :"ext";
CREATE TABLE docs (id int PRIMARY KEY, body text NOT NULL, embedding vector(384) NOT NULL);
SQL

echo "== sentences -> all-MiniLM-L6-v2 -> feature vectors -> binary COPY"
rows=$(mktemp)
"$embed" "$model" copy < data/corpus/sentences.txt > "$rows"
psql_demo -q -c "\\copy docs (id, body, embedding) FROM '$rows' WITH (FORMAT binary)"
rm -f "$rows"
build_index docs "CREATE INDEX docs_embedding_idx ON docs USING hnsw (embedding vector_cosine_ops)"
psql_demo -q -c "ANALYZE docs"
psql_demo -tAc "SELECT format('%s sentences stored as vector(%s), HNSW index %s', count(*), max(vector_dims(embedding)), pg_size_pretty(pg_relation_size('docs_embedding_idx'))) FROM docs"

echo
echo "== the worked example: a = [2,3,4], b = [1,2,3]"
psql_demo -P footer=off <<'SQL'
SELECT inner_product(a, b) AS "inner product",
       round((a <-> b)::numeric, 7) AS "L2 distance",
       round((1 - (a <=> b))::numeric, 5) AS "cosine similarity",
       round((a <=> b)::numeric, 5) AS "cosine distance"
FROM (SELECT '[2,3,4]'::vector AS a, '[1,2,3]'::vector AS b) t;
SQL

echo "== semantic search (HNSW index, cosine distance)"
for q in "how do I create an index" "which tool installs Debian packages" "the lord is my shepherd" "a joke about computers"; do
  bash scripts/search.sh "$q" 5
done

echo "== one question, exact search with each distance operator"
vec=$("$embed" "$model" query "how do I create an index")
psql_demo -v q="$vec" -P footer=off <<'SQL'
SET enable_indexscan = off;
SELECT 'L2 <->' AS operator, id, round((embedding <-> :'q')::numeric, 4) AS distance, left(body, 70) AS sentence
FROM docs ORDER BY embedding <-> :'q' LIMIT 3;
SELECT 'cosine <=>' AS operator, id, round((embedding <=> :'q')::numeric, 4) AS distance, left(body, 70) AS sentence
FROM docs ORDER BY embedding <=> :'q' LIMIT 3;
SELECT 'inner product <#>' AS operator, id, round((embedding <#> :'q')::numeric, 4) AS distance, left(body, 70) AS sentence
FROM docs ORDER BY embedding <#> :'q' LIMIT 3;
SQL

echo "== hybrid search: dense embeddings + sparse BM25 word weights (sparsevec), fused by reciprocal rank"
# every sentence also gets a sparse lexical vector: the BM25 weight of each
# of its words over the corpus's vocabulary (k1 = 1.2, b = 0.75), computed in
# SQL, stored as sparsevec with its own HNSW index (inner product)
psql_demo -q -f scripts/sql/bm25.sql
psql_demo -tAc "SELECT format('%s sentences with a sparsevec(%s) of BM25 weights (%s non-zeros on average), HNSW index %s', count(lex), (SELECT count(*) FROM vocab), round(avg(length(lex::text) - length(replace(lex::text, ':', '')))), pg_size_pretty(pg_relation_size('docs_lex_idx'))) FROM docs"
# a rare word the embedding model does not know: dense search misses it,
# the sparse ranking has it first, the fused ranking keeps it
bash scripts/hybrid.sh "what is LFENCE used for" 3
bash scripts/hybrid.sh "which ML compiler came from Edinburgh" 3

echo "== k-nearest-neighbour classification of Iris flowers (k = 5, HNSW, L2)"
psql_demo -q <<'SQL'
CREATE TABLE iris (id int PRIMARY KEY, features vector(4), species text);
CREATE TEMP TABLE iris_raw (id int, sl real, sw real, pl real, pw real, species text);
\copy iris_raw FROM 'data/iris/iris.csv' WITH (FORMAT csv, HEADER)
INSERT INTO iris SELECT id, ARRAY[sl, sw, pl, pw], species FROM iris_raw;
CREATE INDEX ON iris USING hnsw (features vector_l2_ops);
SQL
psql_demo -P footer=off <<'SQL'
-- every 5th flower is held out; the rest vote
SET enable_seqscan = off;
WITH test AS (SELECT * FROM iris WHERE id % 5 = 0),
votes AS (
  SELECT t.id, t.species AS actual,
         (SELECT mode() WITHIN GROUP (ORDER BY n.species) FROM (
            SELECT species FROM iris WHERE id % 5 <> 0 ORDER BY features <-> t.features LIMIT 5) n) AS predicted
  FROM test t)
SELECT count(*) AS held_out, count(*) FILTER (WHERE actual = predicted) AS correct,
       round(avg((actual = predicted)::int), 3) AS accuracy
FROM votes;
SQL

if [[ -t 0 ]]; then
  while read -r -p "Ask something (empty line to quit): " q && [[ -n $q ]]; do
    bash scripts/search.sh "$q" 5
  done
fi
echo "vecstore is installed; psql -d $DB, or scripts/search.sh \"your question\""
