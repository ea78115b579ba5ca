#!/usr/bin/env bash
# Semantic search in the demo database: embeds the question with
# all-MiniLM-L6-v2 and asks vecstore's HNSW index for the nearest sentences.
# Usage: scripts/search.sh "how do I create an index" [k]
set -euo pipefail
cd "$(dirname "$0")/.."
question=${1:?usage: scripts/search.sh "question" [k]}
k=${2:-5}
model=$(bash scripts/model.sh)
vec=$(tools/embed/target/release/vecstore-embed "$model" query "$question")
echo "search \"$question\""
psql -X -q -d vecstore_demo -v q="$vec" -v k="$k" -P footer=off <<'SQL'
\timing on
SELECT row_number() OVER () AS rank, cosine_distance, sentence FROM (
  SELECT round((embedding <=> :'q')::numeric, 4) AS cosine_distance, left(body, 100) AS sentence
  FROM docs ORDER BY embedding <=> :'q' LIMIT :k) hits;
SQL
