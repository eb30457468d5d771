#!/usr/bin/env bash
# Fetch the real ImageNet MobileNet v1 1.0 224 (TF-slim release) and import it for
# specs/v1_tfslim_1001.toml into models/mobilenet_v1_1.0_224.safetensors.
#
# The PyPI package `nudity==0.2.3` ships the original frozen graph (`retrained_graph.pb`): its
# MobilenetV1 backbone and 1001-class MobilenetV1/Logits layer are the ImageNet release (the
# package's own retrained head, `final_training_ops/*`, is ignored by the import).
set -euo pipefail
cd "$(dirname "$0")/.."
out=models/mobilenet_v1_1.0_224.safetensors
if [ -f "$out" ] && [ "${1:-}" != "--force" ]; then
    echo "$out already exists (use --force to fetch again)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --no-binary :all: nudity==0.2.3 -d "$tmp"
tar -xzf "$tmp"/nudity-0.2.3.tar.gz -C "$tmp" nudity-0.2.3/nudity/files/retrained_graph.pb
graph="$tmp/nudity-0.2.3/nudity/files/retrained_graph.pb"
expected=3b90af536f810f5f75e9f6d431bc2e8a3c4fc2ff4f693aa0dd4ae429816f8735
actual=$(sha256sum "$graph" | cut -d' ' -f1)
if [ "$actual" != "$expected" ]; then
    echo "error: $graph has sha256 $actual, expected $expected (the package changed?)" >&2
    exit 1
fi
mkdir -p models
cargo run --quiet -p mobilenet-cli -- import tf-graph "$graph" --spec specs/v1_tfslim_1001.toml --out "$out"
