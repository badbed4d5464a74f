#!/usr/bin/env bash
# The Python side of the bridge, for the PyBullet reference arm and the SDK's tests:
# websockets 15.0.1 (the SDK's one dependency), numpy 2.2.6 and pybullet 3.2.7 (zlib
# licence), as pinned wheels from PyPI, installed with pip into
# `$DATA/python-bridge/site/` (cap's data directory: `$CAP_DATA_DIR`, else
# `$XDG_DATA_HOME/cap`, else `~/.local/share/cap`). No virtual environment: the
# wrapper `$DATA/python-bridge/python` runs the CPython 3.11 it was installed for with
# that folder on its path. The numpy and pybullet wheels are CPython 3.11 manylinux
# x86_64 builds, so this needs `python3.11` (or a `python3` that is 3.11). The pybullet
# wheel is kept in `$DATA/wheels/`, where scripts/fetch-objects.sh takes its meshes
# from. A second run is a no-op.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_linux_x86_64 fetch-python-bridge "the SDK itself needs only Python 3.8+ and websockets"

WEBSOCKETS="websockets==15.0.1 websockets-15.0.1-py3-none-any.whl f7a866fbc1e97b5c617ee4116daaa09b722101d4a3c170c787450ba409f9736f"
NUMPY="numpy==2.2.6 numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl ba10f8411898fc418a521833e014a77d3ca01c15b0c6cdcce6a0d2897e6dbbdf"
PYBULLET="pybullet==3.2.7 $PYBULLET_WHEEL $PYBULLET_SHA256"

dest="$CAP_DATA/python-bridge"
stamp="$dest/.complete-$(echo "$WEBSOCKETS $NUMPY $PYBULLET" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
  echo "python bridge (websockets, numpy, pybullet): already in $dest"
  exit 0
fi
py=""
for c in python3.11 python3; do
  if command -v "$c" >/dev/null && [ "$("$c" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "3.11" ]; then
    py="$("$c" -c "import sys; print(sys.executable)")"
    break
  fi
done
if [ -z "$py" ]; then
  echo "fetch-python-bridge: the pinned numpy and pybullet wheels are for CPython 3.11, and no python3.11 was found; install it to run the PyBullet reference arm (the SDK itself needs only Python 3.8+ and websockets)" >&2
  exit 2
fi
mkdir -p "$CAP_DATA"
tmp="$(mktemp -d "$CAP_DATA/.python-bridge.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
wheels=()
for pin in "$WEBSOCKETS" "$NUMPY" "$PYBULLET"; do
  read -r spec wheel sha <<<"$pin"
  echo "python bridge: $spec"
  case "$wheel" in
    *-none-any.whl) platform=(--platform any --python-version 3.11) ;;
    *) platform=(--platform manylinux2014_x86_64 --python-version 3.11 --implementation cp --abi cp311) ;;
  esac
  cached_wheel fetch-python-bridge "$spec" "$wheel" "$sha" "${platform[@]}"
  wheels+=("$CAP_DATA/wheels/$wheel")
done
# The wheels are checked; pip only unpacks them (no index, no dependencies).
PIP_ROOT_USER_ACTION=ignore "$py" -m pip install --quiet --disable-pip-version-check --no-index --no-deps --target "$tmp/site" "${wheels[@]}"
# The websockets wheel is the pure-Python one and is not kept.
rm -f "$CAP_DATA/wheels/websockets-15.0.1-py3-none-any.whl" "$CAP_DATA/wheels/$(echo "$NUMPY" | cut -d' ' -f2)"
cat >"$tmp/python" <<SH
#!/bin/sh
# CPython 3.11 with cap's Python bridge packages (scripts/fetch-python-bridge.sh).
PYTHONPATH="$dest/site\${PYTHONPATH:+:\$PYTHONPATH}" exec "$py" "\$@"
SH
chmod +x "$tmp/python"
rm -rf "$dest"
mkdir -p "$dest"
mv "$tmp/site" "$tmp/python" "$dest/"
"$dest/python" -c "import pybullet, numpy, websockets" 2>/dev/null
touch "$stamp"
echo "python bridge: installed in $dest (run Python as $dest/python)"
