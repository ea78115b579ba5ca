#!/usr/bin/env bash
# Cluster-level tests (pytest): each module initdb's a throwaway cluster in a
# temporary directory; nothing touches the machine's own clusters. Uses the
# PostgreSQL named by $PG_CONFIG (default Debian's 15) and the vecstore
# installed into it. Extra arguments go to pytest (e.g. -k crash).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv=${VECSTORE_CLUSTER_VENV:-/var/tmp/vecstore-cluster-venv}
if [[ ! -x $venv/bin/pytest ]] || ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/requirements.txt"
fi
cd "$here"
exec "$venv/bin/pytest" -q -p no:cacheprovider -rA --durations=15 "$@"
