#!/usr/bin/env bash
# Cross-target tests (CI runs this after the host tests):
#   - aarch64-unknown-linux-gnu under qemu-user: the runtime's kernel tests and the ONNX Runtime
#     conformance tests, with MOBILENET_REQUIRE_ISA=neon (a missing NEON path fails);
#   - wasm32-wasip1 under Node: the same, with MOBILENET_REQUIRE_ISA=simd128;
#   - thumbv7em-none-eabihf: a crate using the generated code without std or alloc builds;
#   - wasm32-unknown-unknown: the web demo's module, checked in headless Chromium.
# Installs the Debian packages it needs on first use (scripts/cross/install-cross.sh, chromium).
# The host's rustup toolchain has no other targets: the cross builds use Debian's rustc-web with
# -Zbuild-std (RUSTC_BOOTSTRAP only on these commands), sharing the workspace's target dir.
set -euo pipefail
cd "$(dirname "$0")/.."

# Without root and apt (a user's machine that is not Debian), skip with a message, unless
# MOBILENET_REQUIRE_CROSS is set (CI), which makes that a failure.
missing=""
{ [ -x /usr/bin/rustc ] && command -v qemu-aarch64 && command -v wasm-ld-22; } >/dev/null || missing="cross"
command -v chromium >/dev/null || missing="$missing chromium"
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "cross-target tests skipped: they need Debian packages ($missing) and root to install them"
        [ -z "${MOBILENET_REQUIRE_CROSS:-}" ] || exit 1
        exit 0
    fi
    case "$missing" in *cross*) sh scripts/cross/install-cross.sh ;; esac
    case "$missing" in *chromium*) apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium ;; esac
fi

step() { printf '\n== %s\n' "$*"; }
(
    # shellcheck source=scripts/cross/cross-env.sh
    source scripts/cross/cross-env.sh
    export RUSTC_BOOTSTRAP=1
    # mobilenet-tests leaves out the dev-dependencies of its compiler-driving tests (which do not
    # run here) under this cfg: trybuild, the compiler and safetensors are not built per target.
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS:-} --cfg mobilenet_cross"
    export CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="$CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS --cfg mobilenet_cross"
    step "aarch64 (qemu): kernel tests and conformance, NEON required"
    MOBILENET_REQUIRE_ISA=neon cargo test -Zbuild-std --target aarch64-unknown-linux-gnu \
        -p mobilenet-runtime --lib -p mobilenet-tests --test conformance
    step "wasm32-wasip1 (node): kernel tests and conformance, simd128 required"
    MOBILENET_REQUIRE_ISA=simd128 cargo test -Zbuild-std=std,panic_abort --target wasm32-wasip1 \
        -p mobilenet-runtime --lib -p mobilenet-tests --test conformance
    step "thumbv7em-none-eabihf: generated code without std or alloc"
    cargo build -Zbuild-std=core --target thumbv7em-none-eabihf -p no-std-demo
    step "wasm32-unknown-unknown: the web demo"
    cargo build --release -Zbuild-std=std,panic_abort --target wasm32-unknown-unknown -p web-demo
)
cp target/wasm32-unknown-unknown/release/web_demo.wasm examples/web/www/
step "headless Chromium: examples/web"
python3 examples/web/check_page.py
