#!/usr/bin/env bash
# Soak test (tests/soak/run.py) on a throwaway cluster, in the cluster tests'
# venv. Arguments go to run.py (e.g. --minutes 10).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
req="$here/../cluster/requirements.txt"
venv=${VECSTORE_CLUSTER_VENV:-/var/tmp/vecstore-cluster-venv}
if [[ ! -x $venv/bin/pytest ]] || ! cmp -s "$req" "$venv/requirements.txt"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  cp "$req" "$venv/requirements.txt"
fi
exec "$venv/bin/python" "$here/run.py" "$@"
