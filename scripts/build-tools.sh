#!/usr/bin/env bash
# Install the tools the build needs beyond Rust and a C/C++ compiler: CMake (to build
# llama.cpp) and libclang (for its bindings), from PyPI wheels pinned by sha256, into
# .tools/ in the repository. .cargo/config.toml points the build at them (CMAKE,
# LIBCLANG_PATH); set those variables yourself to use other copies. A second run with
# the tools in place is a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .tools/bin/cmake ] && [ -e .tools/libclang/libclang.so ] && [ -x .tools/bin/cc-for-bindgen ] && .tools/bin/cmake --version >/dev/null 2>&1; then
  echo "build tools: already in .tools/"
  exit 0
fi
command -v python3 >/dev/null || { echo "build-tools: python3 (with venv and pip) is needed to fetch CMake and libclang from PyPI" >&2; exit 2; }
command -v c++ >/dev/null || { echo "build-tools: a C++ compiler is needed to build llama.cpp (Debian: apt install g++)" >&2; exit 2; }
cc="$(command -v cc || command -v gcc)" || { echo "build-tools: a C compiler is needed (Debian: apt install gcc)" >&2; exit 2; }
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "build-tools: only Linux x86_64 wheels are pinned; install cmake and libclang yourself and set CMAKE and LIBCLANG_PATH" >&2
  exit 2
fi
rm -rf .tools
python3 -m venv .tools
.tools/bin/python -m pip install --quiet --require-hashes --no-deps --only-binary=:all: -r scripts/build-tools.txt
lib="$(.tools/bin/python -c 'import clang, os; print(os.path.relpath(os.path.join(os.path.dirname(clang.__file__), "native", "libclang.so"), ".tools/libclang"))')"
mkdir -p .tools/libclang
ln -sf "$lib" .tools/libclang/libclang.so
# The PyPI libclang has no builtin headers (stdbool.h, stddef.h); bindgen asks the
# "clang" at CLANG_PATH for its include search path (`CC -E -x c - -v`), and the C
# compiler answers that question in the same format.
ln -sfn "$cc" .tools/bin/cc-for-bindgen
echo "build tools: $(.tools/bin/cmake --version | head -1), libclang 18.1.1 in .tools/"
