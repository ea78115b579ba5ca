#!/usr/bin/env bash
# Runs every cluster-level test script (crash, replica, concurrency, build).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
status=0
for t in build concurrency crash replica; do
  echo "== tests/cluster/$t.sh"
  bash "$here/$t.sh" || status=1
done
exit $status
