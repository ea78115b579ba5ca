#!/usr/bin/env bash
# Rust client compatibility tests: the pgvector crate with postgres and sqlx,
# against a throwaway cluster (tests/tmp-cluster.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
export PATH="$HOME/.cargo/bin:$PATH"
# build first, so the cluster only lives while the tests run
cargo test --quiet --no-run
eval "$(bash "$here/../../tmp-cluster.sh" start clients-rust)"
trap 'rc=$?; ((rc)) && tail -20 "$VECSTORE_TMP_CLUSTER/server.log"; bash "$here/../../tmp-cluster.sh" stop "$VECSTORE_TMP_CLUSTER"; exit $rc' EXIT
cargo test --quiet
