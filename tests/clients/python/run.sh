#!/usr/bin/env bash
# Python client compatibility tests: a venv with the pinned client libraries
# (requirements.txt), then pytest against the system cluster.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv=${VECSTORE_VENV:-/var/tmp/vecstore-client-venv}
if [[ ! -x $venv/bin/pytest ]] || ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/requirements.txt"
fi
cd "$here"
"$venv/bin/pytest" -q -p no:cacheprovider "$@"
