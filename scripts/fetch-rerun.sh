#!/usr/bin/env bash
# Fetch the rerun viewer/CLI 0.36.3 (the version cap's recordings are written with) from
# the PyPI wheel rerun-sdk==0.36.3, which ships the `rerun` binary in rerun_sdk/rerun_cli/,
# verify it by sha256 and install it as `$DATA/rerun/rerun` (cap's data directory:
# `$CAP_DATA_DIR`, else `$XDG_DATA_HOME/cap`, else `~/.local/share/cap`). `cap --spawn`
# starts it from there when no `rerun` is on PATH, and the tests read recordings with
# its headless `rerun rrd verify|print`. A second run is a no-op.
#
# (`pip install rerun-sdk==0.36.3` gives the same viewer with its Python SDK.)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VERSION=0.36.3
BIN_SHA256=40f6525132820f85c4f6fd69efb8ca30266449f3e78a046fb99f7286179446c3
WHEEL="rerun-sdk==$VERSION rerun_sdk-0.36.3-cp310-abi3-manylinux_2_28_x86_64.whl 287059b7154bf3881f5b32035f5772d0556d55a0a894650fb74a2605fb39afbe rerun_sdk/rerun_cli/rerun"

dest="$CAP_DATA/rerun"
bin="$dest/rerun"
need_linux_x86_64 fetch-rerun "pip install rerun-sdk==$VERSION"
if [ -x "$bin" ] && has_sha "$bin" "$BIN_SHA256"; then
  echo "rerun $VERSION: already in $dest"
  exit 0
fi
mkdir -p "$dest"
tmp="$(mktemp -d "$dest/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "rerun $VERSION: downloading the rerun-sdk wheel from PyPI (~160 MB)"
fetch_member fetch-rerun "$WHEEL" "$tmp" \
  --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp
if ! has_sha "$tmp/rerun_sdk/rerun_cli/rerun" "$BIN_SHA256"; then
  echo "fetch-rerun: the rerun binary does not match its pinned sha256; not installing it" >&2
  exit 1
fi
install -m 0755 "$tmp/rerun_sdk/rerun_cli/rerun" "$bin.part"
mv "$bin.part" "$bin"
# The viewer asks to send anonymous usage data; cap's users did not ask for that.
"$bin" analytics disable >/dev/null 2>&1 || true
echo "rerun $VERSION: installed $bin"
