#!/usr/bin/env bash
# Set up cap and run the main job: build the release binary, check the scenes, and run
# a real task end to end on the simulated tabletop.
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust (https://rustup.rs)" >&2; exit 2; }
cargo build --release --locked
# ONNX Runtime for the vision inspector, from the PyPI onnxruntime wheel (sha256-pinned).
bash scripts/fetch-onnxruntime.sh
./target/release/cap validate scenes/*.toml
./target/release/cap exec scenes/tabletop.toml examples/policies/red_on_blue.rhai \
    --task red_on_blue --seed 3 --out runs/quickstart
echo "report: runs/quickstart/report.json   trace: runs/quickstart/trace.jsonl"
