#!/usr/bin/env bash
# Fetch ONNX Runtime 1.31.1 for cap's vision inspector from PyPI (the only place it
# comes from: the onnxruntime wheel ships libonnxruntime.so in onnxruntime/capi/),
# verify it by sha256 and install it in cap's data directory, where `cap` finds it.
# A second run with the library in place is a no-op.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VERSION=1.31.1
LIB=libonnxruntime.so.1.31.1
LIB_SHA256=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3
WHEEL="onnxruntime==$VERSION onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl 5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f onnxruntime/capi/$LIB"

dest="$CAP_DATA/onnxruntime"
lib="$dest/$LIB"
need_linux_x86_64 fetch-onnxruntime "set CAP_ORT_LIB to a $LIB of your own"
if has_sha "$lib" "$LIB_SHA256"; then
  echo "onnxruntime $VERSION: already in $dest"
  exit 0
fi
mkdir -p "$dest"
tmp="$(mktemp -d "$dest/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "onnxruntime $VERSION: downloading the wheel from PyPI"
fetch_member fetch-onnxruntime "$WHEEL" "$tmp" \
  --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp
if ! has_sha "$tmp/onnxruntime/capi/$LIB" "$LIB_SHA256"; then
  echo "fetch-onnxruntime: $LIB does not match its pinned sha256; not installing it" >&2
  exit 1
fi
install -m 0644 "$tmp/onnxruntime/capi/$LIB" "$lib.part"
mv "$lib.part" "$lib"
echo "onnxruntime $VERSION: installed $lib"
