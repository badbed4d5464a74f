#!/usr/bin/env bash
# Fetch third-party robot descriptions (URDF + meshes) from the PyPI wheel
# example-robot-data==6.0.0 (BSD-3-Clause, from the Gepetto team at LAAS-CNRS), verify
# the wheel by sha256 and unpack the arms cap ships scenes for into
# `$DATA/robots/example-robot-data/` (cap's data directory: `$CAP_DATA_DIR`, else
# `$XDG_DATA_HOME/cap`, else `~/.local/share/cap`): Panda, UR3/5/10, SO-100/101,
# xArm7, Kinova and Z1, each `robots/NAME_description/` with its `urdf/` (or
# `robots/`) and `meshes/`, laid out as in the package, so the URDFs' mesh URIs
# (`package://example-robot-data/robots/...`) resolve against
# `$DATA/robots/example-robot-data`. A second run is a no-op.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VERSION=6.0.0
WHEEL=example_robot_data-6.0.0-0-py3-none-any.whl
WHEEL_SHA256=424092a8093411ac2cd4ccc0572382bfc6b5eb4833aa984ef5e671dd67cd0a6e
ARMS="panda_description ur_description so_arm_description xarm_description kinova_description z1_description"

dest="$CAP_DATA/robots/example-robot-data"
stamp="$dest/.complete-$WHEEL_SHA256"
command -v python3 >/dev/null || { echo "fetch-robots: python3 with pip is needed to download from PyPI" >&2; exit 2; }
if [ -f "$stamp" ]; then
  echo "robots (example-robot-data $VERSION): already in $dest"
  exit 0
fi
mkdir -p "$CAP_DATA/robots"
tmp="$(mktemp -d "$CAP_DATA/robots/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "robots: downloading the example-robot-data $VERSION wheel from PyPI (~131 MB)"
download_wheel fetch-robots "example-robot-data==$VERSION" "$WHEEL" "$WHEEL_SHA256" "$tmp"
python3 - "$tmp/$WHEEL" "$tmp/out" $ARMS <<'PY'
import os, sys, zipfile
wheel, out, *arms = sys.argv[1:]
prefix = "cmeel.prefix/share/example-robot-data/"
n = 0
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if not name.startswith(prefix) or name.endswith("/"):
            continue
        rel = name[len(prefix):]
        parts = rel.split("/")
        if parts[0] != "robots" or len(parts) < 3 or parts[1] not in arms or ".." in parts:
            continue
        target = os.path.join(out, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, "wb") as dst:
            dst.write(src.read())
        n += 1
print(f"robots: unpacked {n} files")
PY
rm -rf "$dest"
mv "$tmp/out" "$dest"
touch "$stamp"
echo "robots (example-robot-data $VERSION): installed in $dest"
