#!/usr/bin/env bash
# Fetch third-party object meshes from the PyPI wheel pybullet==3.2.7 (zlib licence;
# its pybullet_data folder): the mug (objects/mug.obj and its collision mesh), the
# duck (duck_vhacd.obj) and the 1,000 procedurally generated objects of random_urdfs/
# used in grasping research. The wheel is the manylinux x86_64 CPython 3.11 one,
# named explicitly so the same pinned file is fetched whatever the local Python; its
# data files are the same on every platform. Unpacked into
# `$DATA/objects/pybullet_data/` (cap's data directory: `$CAP_DATA_DIR`, else
# `$XDG_DATA_HOME/cap`, else `~/.local/share/cap`) with the wheel's layout. A second
# run is a no-op.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VERSION=3.2.7
WHEEL="$PYBULLET_WHEEL"
WHEEL_SHA256="$PYBULLET_SHA256"

dest="$CAP_DATA/objects/pybullet_data"
stamp="$dest/.complete-$WHEEL_SHA256"
command -v python3 >/dev/null || { echo "fetch-objects: python3 with pip is needed to download from PyPI" >&2; exit 2; }
if [ -f "$stamp" ]; then
  echo "objects (pybullet_data $VERSION): already in $dest"
  exit 0
fi
mkdir -p "$CAP_DATA/objects"
tmp="$(mktemp -d "$CAP_DATA/objects/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "objects: the pybullet $VERSION wheel from PyPI (~103 MB, kept in $CAP_DATA/wheels/; only its meshes are unpacked)"
cached_wheel fetch-objects "pybullet==$VERSION" "$WHEEL" "$WHEEL_SHA256" \
  --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp --abi cp311
python3 - "$CAP_DATA/wheels/$WHEEL" "$tmp/out" <<'PY'
import os, sys, zipfile
wheel, out = sys.argv[1:]
keep_files = {
    "pybullet_data/objects/mug.obj", "pybullet_data/objects/mug_col.obj",
    "pybullet_data/objects/mug.urdf", "pybullet_data/duck_vhacd.obj",
    "pybullet_data/duck_vhacd.urdf", "pybullet_data/duck.obj",
}
n = 0
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if name.endswith("/") or ".." in name.split("/"):
            continue
        if name not in keep_files and not name.startswith("pybullet_data/random_urdfs/"):
            continue
        target = os.path.join(out, name[len("pybullet_data/"):])
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, "wb") as dst:
            dst.write(src.read())
        n += 1
print(f"objects: unpacked {n} files")
PY
rm -rf "$dest"
mv "$tmp/out" "$dest"
touch "$stamp"
echo "objects (pybullet_data $VERSION): installed in $dest"
