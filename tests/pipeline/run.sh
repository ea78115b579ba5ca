#!/usr/bin/env bash
# The feature-store pipeline: the embedding tool matches sentence-transformers
# (reference vectors in tests/pipeline/fixtures, row i = line i), the demo
# corpus goes in with binary COPY and is searched through HNSW, and Iris kNN
# classification reaches 0.9. Runs against a throwaway cluster
# (tests/tmp-cluster.sh; $PG_CONFIG names the PostgreSQL, default Debian's 15).
set -euo pipefail
cd "$(dirname "$0")/../.."
passed=0
failed=0
check() { # name, expected, actual
  if [[ "$2" == "$3" ]]; then
    echo "ok   - $1"
    passed=$((passed + 1))
  else
    echo "FAIL - $1: expected [$2], got [$3]"
    failed=$((failed + 1))
  fi
}
sql() { psql -X -q -v ON_ERROR_STOP=1 -tA "$@"; }

model=$(bash scripts/model.sh)
embed=tools/embed/target/release/vecstore-embed
ref=tests/pipeline/fixtures/minilm-ref
out=$("$embed" "$model" check $ref.txt $ref.fvecs 100 2>&1) && rc=0 || rc=$?
echo "$out"
check "all-MiniLM-L6-v2 embeddings match sentence-transformers within 1e-4" 0 "$rc"
check "the check covered all 100 reference sentences" yes "$(grep -q 'over 100 sentences x 384 dims' <<< "$out" && echo yes || echo no)"

eval "$(bash tests/tmp-cluster.sh start pipeline)"
trap 'rc=$?; ((rc)) && tail -20 "$VECSTORE_TMP_CLUSTER/server.log"; bash tests/tmp-cluster.sh stop "$VECSTORE_TMP_CLUSTER"; exit $rc' EXIT
PATH="$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir):$PATH"
DB=vecstore_pipeline
psql -X -q -d postgres -c "CREATE DATABASE $DB"
sql -d $DB -c "CREATE EXTENSION vecstore"
rows=$(mktemp)
# 400 sentences, and two whose rare words the model does not know (for the
# hybrid search below): ids 401 (Edinburgh ML) and 402 (LFENCE)
{ head -400 data/corpus/sentences.txt; sed -n '1256p;2925p' data/corpus/sentences.txt; } | "$embed" "$model" copy > "$rows"
sql -d $DB -c "CREATE TABLE docs (id int PRIMARY KEY, body text, embedding vector(384))" \
  -c "\\copy docs FROM '$rows' WITH (FORMAT binary)" \
  -c "CREATE INDEX ON docs USING hnsw (embedding vector_cosine_ops)"
rm -f "$rows"
check "binary COPY loaded every sentence" 402 "$(sql -d $DB -c "SELECT count(*) FROM docs")"
# a sentence's own embedding, computed again for the query, finds itself first
target=$(sed -n 123p data/corpus/sentences.txt)
vec=$("$embed" "$model" query "$target")
check "a sentence is its own nearest neighbour through the index" 123 \
  "$(sql -d $DB -v q="$vec" <<< "SET enable_seqscan = off; SELECT id FROM docs ORDER BY embedding <=> :'q' LIMIT 1;" | tail -1)"

# hybrid search: BM25 weights as sparsevec with an HNSW index, fused with
# the dense ranking by reciprocal rank (the demo's SQL files)
sql -d $DB -f scripts/sql/bm25.sql
check "every sentence has a sparse BM25 vector" 402 "$(sql -d $DB -c "SELECT count(lex) FROM docs")"
question="what is LFENCE used for"
vec=$("$embed" "$model" query "$question")
ranks=$(sql -F'|' -d $DB -v q="$vec" -v text="$question" -v k=3 -f scripts/sql/hybrid.sql)
echo "$ranks"
lfence() { { grep "^$1|" <<< "$ranks" | grep -n "LFENCE barriers" | cut -d: -f1 | head -1; } || true; }
check "the sparse (BM25, sparsevec HNSW) ranking has the LFENCE sentence first" 1 "$(lfence sparse)"
check "the dense ranking alone misses it in its top 3" "" "$(lfence dense)"
check "the hybrid (reciprocal rank fusion) top 3 has it" yes "$([[ -n $(lfence hybrid) ]] && echo yes || echo no)"

sql -d $DB -c "CREATE TABLE iris (id int PRIMARY KEY, features vector(4), species text)" \
  -c "CREATE TEMP TABLE raw (id int, a real, b real, c real, d real, species text)" \
  -c "\\copy raw FROM 'data/iris/iris.csv' WITH (FORMAT csv, HEADER)" \
  -c "INSERT INTO iris SELECT id, ARRAY[a, b, c, d], species FROM raw" \
  -c "CREATE INDEX ON iris USING hnsw (features vector_l2_ops)"
acc=$(sql -d $DB -c "SET enable_seqscan = off" -c "
  SELECT round(avg((t.species = (SELECT mode() WITHIN GROUP (ORDER BY species) FROM
    (SELECT species FROM iris WHERE id % 5 <> 0 ORDER BY features <-> t.features LIMIT 5) n))::int), 3)
  FROM iris t WHERE id % 5 = 0" | tail -1)
echo "Iris kNN accuracy (k = 5, 30 held-out flowers): $acc"
check "Iris kNN accuracy is at least 0.9" yes "$(awk -v a="$acc" 'BEGIN { print (a >= 0.9) ? "yes" : "no" }')"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
