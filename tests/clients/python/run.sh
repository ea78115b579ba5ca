#!/usr/bin/env bash
# Python client compatibility tests: a venv with the pinned client libraries
# (requirements.txt), then pytest against a throwaway cluster
# (tests/tmp-cluster.sh; $PG_CONFIG names the PostgreSQL, default Debian's 15).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv=${VECSTORE_VENV:-/var/tmp/vecstore-client-venv}
if [[ ! -x $venv/bin/pytest ]] || ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/requirements.txt"
fi
eval "$(bash "$here/../../tmp-cluster.sh" start clients-python)"
trap 'rc=$?; ((rc)) && tail -20 "$VECSTORE_TMP_CLUSTER/server.log"; bash "$here/../../tmp-cluster.sh" stop "$VECSTORE_TMP_CLUSTER"; exit $rc' EXIT
cd "$here"
"$venv/bin/pytest" -q -p no:cacheprovider "$@"
