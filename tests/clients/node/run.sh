#!/usr/bin/env bash
# Node client compatibility test: pinned pg + pgvector from the npm registry,
# against a throwaway cluster (tests/tmp-cluster.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
npm install --no-audit --no-fund --silent
eval "$(bash "$here/../../tmp-cluster.sh" start clients-node)"
trap 'rc=$?; ((rc)) && tail -20 "$VECSTORE_TMP_CLUSTER/server.log"; bash "$here/../../tmp-cluster.sh" stop "$VECSTORE_TMP_CLUSTER"; exit $rc' EXIT
node --test
