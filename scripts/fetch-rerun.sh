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

VERSION=0.36.3
WHEEL=rerun_sdk-0.36.3-cp310-abi3-manylinux_2_28_x86_64.whl
WHEEL_SHA256=287059b7154bf3881f5b32035f5772d0556d55a0a894650fb74a2605fb39afbe
BIN_SHA256=40f6525132820f85c4f6fd69efb8ca30266449f3e78a046fb99f7286179446c3

data="${CAP_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/cap}"
dest="$data/rerun"
bin="$dest/rerun"

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "fetch-rerun: only Linux x86_64 is pinned here; pip install rerun-sdk==$VERSION" >&2
  exit 2
fi
if [ -x "$bin" ] && echo "$BIN_SHA256  $bin" | sha256sum --check --status; then
  echo "rerun $VERSION: already in $dest"
  exit 0
fi
command -v python3 >/dev/null || { echo "fetch-rerun: python3 with pip is needed to download from PyPI" >&2; exit 2; }
mkdir -p "$dest"
tmp="$(mktemp -d "$dest/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "rerun $VERSION: downloading the rerun-sdk wheel from PyPI (~160 MB)"
python3 -m pip download --quiet --no-deps --only-binary=:all: \
  --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp \
  "rerun-sdk==$VERSION" -d "$tmp"
if ! echo "$WHEEL_SHA256  $tmp/$WHEEL" | sha256sum --check --status; then
  echo "fetch-rerun: $WHEEL does not match its pinned sha256; not installing it" >&2
  exit 1
fi
python3 - "$tmp/$WHEEL" "$tmp" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1:]
zipfile.ZipFile(wheel).extract("rerun_sdk/rerun_cli/rerun", out)
PY
if ! echo "$BIN_SHA256  $tmp/rerun_sdk/rerun_cli/rerun" | sha256sum --check --status; then
  echo "fetch-rerun: the rerun binary does not match its pinned sha256; not installing it" >&2
  exit 1
fi
install -m 0755 "$tmp/rerun_sdk/rerun_cli/rerun" "$bin.part"
mv "$bin.part" "$bin"
# The viewer asks to send anonymous usage data; cap's users did not ask for that.
"$bin" analytics disable >/dev/null 2>&1 || true
echo "rerun $VERSION: installed $bin"
