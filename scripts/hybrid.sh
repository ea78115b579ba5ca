#!/usr/bin/env bash
# Hybrid search in the demo database: one question answered three ways.
#   dense:  all-MiniLM-L6-v2 embedding, HNSW index on docs.embedding (cosine)
#   sparse: BM25 weights of the corpus's words (docs.lex, a sparsevec built
#           by scripts/demo.sh), HNSW index with inner product; an iterative
#           scan keeps searching until it has sentences that share a word
#           with the question
#   hybrid: both top-20 rankings fused in SQL by reciprocal rank fusion
#           (score = sum of 1 / (60 + rank))
# Usage: scripts/hybrid.sh "what is LFENCE used for" [k]
set -euo pipefail
cd "$(dirname "$0")/.."
question=${1:?usage: scripts/hybrid.sh "question" [k]}
k=${2:-3}
model=$(bash scripts/model.sh)
vec=$(tools/embed/target/release/vecstore-embed "$model" query "$question")
echo "hybrid search \"$question\""
psql -X -q -v ON_ERROR_STOP=1 -d "${VECSTORE_DEMO_DB:-vecstore_demo}" -v q="$vec" -v text="$question" -v k="$k" -P footer=off -f scripts/sql/hybrid.sql
