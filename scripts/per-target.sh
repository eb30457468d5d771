#!/usr/bin/env bash
# One binary per target: builds examples/quickstart (MobileNet v1 0.75/224 through `mobilenet!`)
# for x86-64-v3 (AVX2), x86-64-v4 (AVX-512), aarch64 (NEON) and wasm32-wasip1 (simd128), each
# with and without the demo's weights embedded, and prints the stripped sizes. The ISA is fixed
# at compile time on each (the x86 ones select their kernels statically; no run-time detection
# is compiled in for the others). Needs the cross toolchain (scripts/cross/install-cross.sh).
# Each target builds in its own directory under target/per-target (different flags).
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/per-target
mkdir -p "$out"
strip_cfg=(--config 'profile.release.strip="symbols"')
size() { stat -c %s "$1"; }
build() { # name, binary path (relative to its target dir), cargo args...
    local name=$1 bin=$2
    shift 2
    "$@" --release -p quickstart "${strip_cfg[@]}" --target-dir "$out/$name" -q
    local with
    with=$(size "$out/$name/$bin")
    "$@" --release -p quickstart "${strip_cfg[@]}" --target-dir "$out/$name" -q --no-default-features
    printf '| %s | %s | %s |\n' "$name" "$(numfmt --grouping "$with")" "$(numfmt --grouping "$(size "$out/$name/$bin")")"
}
echo "| target | with embedded weights (bytes) | without (bytes) |"
echo "|---|--:|--:|"
RUSTFLAGS="-C target-cpu=x86-64-v3" build x86-64-v3 release/quickstart cargo build
RUSTFLAGS="-C target-cpu=x86-64-v4" build x86-64-v4 release/quickstart cargo build
(
    source scripts/cross/cross-env.sh
    export RUSTC_BOOTSTRAP=1
    build aarch64 aarch64-unknown-linux-gnu/release/quickstart \
        cargo build -Zbuild-std --target aarch64-unknown-linux-gnu
    build wasm32-wasip1 wasm32-wasip1/release/quickstart.wasm \
        cargo build -Zbuild-std=std,panic_abort --target wasm32-wasip1
)
