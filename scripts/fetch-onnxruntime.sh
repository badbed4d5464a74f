#!/usr/bin/env bash
# Fetch ONNX Runtime 1.31.1 for cap's vision inspector from PyPI (the only place it
# comes from: the onnxruntime wheel ships libonnxruntime.so in onnxruntime/capi/),
# verify it by sha256 and install it in cap's data directory, where `cap` finds it.
# A second run with the library in place is a no-op.
set -euo pipefail

VERSION=1.31.1
WHEEL=onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl
WHEEL_SHA256=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f
LIB=libonnxruntime.so.1.31.1
LIB_SHA256=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3

data="${CAP_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/cap}"
dest="$data/onnxruntime"
lib="$dest/$LIB"

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "fetch-onnxruntime: only Linux x86_64 is pinned here; set CAP_ORT_LIB to a $LIB of your own" >&2
  exit 2
fi
if [ -f "$lib" ] && echo "$LIB_SHA256  $lib" | sha256sum --check --status; then
  echo "onnxruntime $VERSION: already in $dest"
  exit 0
fi
command -v python3 >/dev/null || { echo "fetch-onnxruntime: python3 with pip is needed to download from PyPI" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "onnxruntime $VERSION: downloading the wheel from PyPI"
python3 -m pip download --quiet --no-deps --only-binary=:all: \
  --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp \
  "onnxruntime==$VERSION" -d "$tmp"
if ! echo "$WHEEL_SHA256  $tmp/$WHEEL" | sha256sum --check --status; then
  echo "fetch-onnxruntime: $WHEEL does not match its pinned sha256; not installing it" >&2
  exit 1
fi
python3 - "$tmp/$WHEEL" "$tmp" "$LIB" <<'PY'
import sys, zipfile
wheel, out, lib = sys.argv[1:]
zipfile.ZipFile(wheel).extract(f"onnxruntime/capi/{lib}", out)
PY
if ! echo "$LIB_SHA256  $tmp/onnxruntime/capi/$LIB" | sha256sum --check --status; then
  echo "fetch-onnxruntime: $LIB does not match its pinned sha256; not installing it" >&2
  exit 1
fi
mkdir -p "$dest"
install -m 0644 "$tmp/onnxruntime/capi/$LIB" "$lib.part"
mv "$lib.part" "$lib"
echo "onnxruntime $VERSION: installed $lib"
