#!/usr/bin/env python3
"""Write scenes/objects/random_urdfs/NNN.toml: one scene per pybullet_data random_urdfs
object (fetched by scripts/fetch-objects.sh), each with the object on the table in
front of the built-in Panda and a plate to put it on (task `object_on_plate`). The
mesh, its scale and mass come from the object's URDF; its colour is the palette colour
nearest the URDF's. Objects 000 to N-1, in order (default 20). Rerun to regenerate."""
import os, re, sys

PALETTE = {
    "red": (0.85, 0.12, 0.10), "green": (0.15, 0.65, 0.20), "blue": (0.12, 0.25, 0.85),
    "yellow": (0.95, 0.85, 0.10), "orange": (0.95, 0.50, 0.10), "purple": (0.55, 0.20, 0.70),
    "pink": (0.95, 0.55, 0.70), "cyan": (0.10, 0.75, 0.80), "white": (0.92, 0.92, 0.92),
    "black": (0.08, 0.08, 0.08), "gray": (0.50, 0.50, 0.50),
}

def data_dir():
    d = os.environ.get("CAP_DATA_DIR") or (
        os.path.join(os.environ["XDG_DATA_HOME"], "cap") if os.environ.get("XDG_DATA_HOME")
        else os.path.expanduser("~/.local/share/cap"))
    return d

def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    src = os.path.join(data_dir(), "objects/pybullet_data/random_urdfs")
    out = os.path.join(os.path.dirname(__file__), "../scenes/objects/random_urdfs")
    os.makedirs(out, exist_ok=True)
    for i in range(n):
        nnn = f"{i:03d}"
        urdf = open(os.path.join(src, nnn, f"{nnn}.urdf")).read()
        mesh = re.search(r'<collision>.*?filename="([^"]+)"\s+scale="([^"]+)"', urdf, re.S)
        scale = float(mesh.group(2).split()[0])
        mass = float(re.search(r'<mass value="([^"]+)"', urdf).group(1))
        rgba = [float(v) for v in re.search(r'rgba="([^"]+)"', urdf).group(1).split()[:3]]
        color = min(PALETTE, key=lambda c: sum((a - b) ** 2 for a, b in zip(PALETTE[c], rgba)))
        if color == "brown":
            color = "gray"
        text = f'''# pybullet_data random_urdfs/{nnn} (its URDF's mesh, scale {scale} and mass {mass} kg),
# written by scripts/make-object-scenes.py: pick it up and put it on the plate.

[scene]
name = "random_urdf_{nnn}"
description = "Object {nnn} of pybullet_data's random_urdfs and a white plate in front of the built-in Panda."

[table]
size = [1.0, 1.2, 0.05]
center = [0.45, 0.0]
color = "brown"

[robot]
workspace_min = [0.15, -0.55, 0.0]
workspace_max = [0.85, 0.55, 0.65]
speed = 0.8

[[objects]]
name = "blob_{nnn}"
kind = "mesh"
mesh = "data:objects/pybullet_data/random_urdfs/{nnn}/{mesh.group(1)}"
scale = {scale}
noun = "blob"
color = "{color}"
mass = {mass}
friction = 1.0
position = [0.45, 0.12]
randomize = {{ x = [-0.02, 0.02], y = [-0.02, 0.02], yaw_deg = [-30, 30] }}

[[objects]]
name = "plate"
kind = "plate"
color = "white"
size = [0.24, 0.24, 0.015]
mass = 0.3
position = [0.5, -0.24]

[[tasks]]
name = "object_on_plate"
instruction = "put the {color} blob on the plate"
success = 'is_on("blob_{nnn}", "plate")'
time_limit_s = 60
'''
        with open(os.path.join(out, f"{nnn}.toml"), "w") as f:
            f.write(text)
    print(f"wrote {n} scenes to {os.path.normpath(out)}")

main()
