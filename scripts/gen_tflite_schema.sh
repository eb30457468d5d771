#!/usr/bin/env bash
# Regenerate the TFLite flatbuffer bindings (mobilenet-compiler/src/tflite/schema.rs) from
# TFLite's schema (mobilenet-compiler/src/tflite/schema.fbs, Apache-2.0, The TensorFlow
# Authors) with planus-cli, the code generator of the `planus` crate the bindings use.
# Run it after changing the schema; the generated file is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v planus >/dev/null || cargo install planus-cli --version 1.3.0 --locked
dir=mobilenet-compiler/src/tflite
planus rust "$dir/schema.fbs" -o "$dir/schema.rs"
echo "wrote $dir/schema.rs ($(wc -l < "$dir/schema.rs") lines)"
