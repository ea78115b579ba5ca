#!/usr/bin/env bash
# Framework tests (LangChain langchain-postgres, LlamaIndex PGVectorStore,
# Django's VectorExtension()) against vecstore installed under the extension
# name "vector" (scripts/install.sh --as-vector) in $PG_CONFIG's PostgreSQL
# (default Debian's 15): a venv with the pinned packages (requirements.txt),
# then pytest on a throwaway cluster (tests/tmp-cluster.sh). Offline:
# embeddings are deterministic fakes (conftest.embed).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export PG_CONFIG
control="$("$PG_CONFIG" --sharedir)/extension/vector.control"
if ! grep -qs "^# vecstore alias" "$control"; then
  echo "frameworks: $control is not vecstore's alias; install with scripts/install.sh --as-vector" >&2
  exit 1
fi
VECSTORE_VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/../../Cargo.toml" | head -1)
export VECSTORE_VERSION
venv=${VECSTORE_FRAMEWORKS_VENV:-/var/tmp/vecstore-frameworks-venv}
if [[ ! -x $venv/bin/pytest ]] || ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/requirements.txt"
fi
eval "$(bash "$here/../tmp-cluster.sh" start frameworks)"
trap 'rc=$?; ((rc)) && tail -20 "$VECSTORE_TMP_CLUSTER/server.log"; bash "$here/../tmp-cluster.sh" stop "$VECSTORE_TMP_CLUSTER"; exit $rc' EXIT
cd "$here"
# no network: nothing may fetch models, tokenizers or telemetry
export LANGSMITH_TRACING=false LANGCHAIN_TRACING_V2=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TIKTOKEN_CACHE_DIR="$VECSTORE_TMP_CLUSTER/tiktoken" NLTK_DATA="$VECSTORE_TMP_CLUSTER/nltk"
"$venv/bin/pytest" -q -p no:cacheprovider "$@"
