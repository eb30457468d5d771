#!/usr/bin/env python3
"""Real-photo reference fixture: the released TF-slim MobileNet v1 1.0 224 run by TensorFlow.

The network is the ImageNet MobileNet v1 1.0 224 (TF-slim, 1001 classes, index 0 background)
frozen into `nudity/files/retrained_graph.pb` of the PyPI package `nudity==0.2.3` (its
`MobilenetV1/` backbone and `MobilenetV1/Logits` layer are the original release; the package's
own retrained head, `final_training_ops/` -> `final_result`, is not used here).

For every photo examples/classify/images/*.jpg (sorted by file name) this script
  1. decodes it with Pillow and converts it to RGB;
  2. crops the central square (side = the shorter side; offsets (W-side)//2, (H-side)//2);
  3. resizes that square to 224x224 with Pillow's `Image.resize(..., Resampling.BILINEAR)`
     (Pillow's bilinear filter widens its support by the downscale factor, i.e. it
     antialiases; no `reducing_gap`), giving uint8 RGB pixels x;
  4. feeds (x - 127.5) / 127.5 as float32 [1, 224, 224, 3] (NHWC) to the placeholder `input`
     and reads the logits `MobilenetV1/Predictions/Reshape:0` [1, 1001] (pre-softmax; the
     graph has no softmax under MobilenetV1/), on one CPU thread with oneDNN disabled.

It writes mobilenet-tests/real/fixtures.safetensors:
  - `images` uint8 [N, 224, 224, 3]: the resized pixels of step 3 (so a test needs neither
    a JPEG decoder nor a resizer, and the exact resize method does not matter to it);
  - `logits` float32 [N, 1001];
  - metadata: `images` (the photo file names, comma separated, in order), `input_node`,
    `output_node`, `preprocessing`, `labels_offset`, `pb_sha256` (of the .pb file),
    `pb_source`, and the tensorflow / numpy / pillow versions.
and prints each photo's top-5 (TF index, label from examples/classify/imagenet_labels.txt
at line index-1 (index 0 is background), logit).

    pip install -r scripts/requirements-real.txt
    python3 scripts/make_real_fixtures.py                 # downloads nudity==0.2.3 with pip
    python3 scripts/make_real_fixtures.py --pb PATH.pb    # or use a local copy of the graph
    python3 scripts/make_real_fixtures.py --check         # recompute, compare, exit 1 on mismatch

TensorFlow is needed only here: it is not part of scripts/requirements.txt nor of CI.
"""

from __future__ import annotations

import os

# Plain Eigen kernels (no oneDNN re-ordering of float sums) and a quiet import.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import PIL
import tensorflow as tf
from PIL import Image
from safetensors import safe_open
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parent.parent
IMAGES_DIR = ROOT / "examples/classify/images"
LABELS = ROOT / "examples/classify/imagenet_labels.txt"
OUT = ROOT / "mobilenet-tests/real/fixtures.safetensors"

PACKAGE = "nudity==0.2.3"
PB_IN_PACKAGE = "nudity/files/retrained_graph.pb"
PB_SHA256 = "3b90af536f810f5f75e9f6d431bc2e8a3c4fc2ff4f693aa0dd4ae429816f8735"

INPUT_NODE = "input"
OUTPUT_NODE = "MobilenetV1/Predictions/Reshape"
SIZE = 224
CLASSES = 1001
LABELS_OFFSET = 1
PREPROCESSING = (
    "Pillow: convert('RGB'); central square crop (side min(W,H), offsets (W-side)//2, (H-side)//2); "
    "resize((224,224), Resampling.BILINEAR) -> uint8 `images`; "
    "network input (x - 127.5) / 127.5 as float32 NHWC"
)


def fetch_pb(workdir: Path) -> Path:
    """`pip download --no-deps nudity==0.2.3` into workdir and extract the frozen graph."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(workdir), PACKAGE],
        check=True,
    )
    out = workdir / "retrained_graph.pb"
    for archive in sorted(workdir.iterdir()):
        if archive.name.endswith(".tar.gz"):
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    if member.name.endswith("/" + PB_IN_PACKAGE):
                        out.write_bytes(tar.extractfile(member).read())
                        return out
        elif archive.name.endswith(".whl") or archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                for name in z.namelist():
                    if name == PB_IN_PACKAGE or name.endswith("/" + PB_IN_PACKAGE):
                        out.write_bytes(z.read(name))
                        return out
    raise SystemExit(f"{PB_IN_PACKAGE} not found in the download of {PACKAGE}")


def load_pixels(path: Path) -> np.ndarray:
    """uint8 [224, 224, 3] RGB: central square crop, then Pillow bilinear resize."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        w, h = im.size
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side))
        im = im.resize((SIZE, SIZE), Image.Resampling.BILINEAR)
        return np.asarray(im, dtype=np.uint8).copy()


def run_graph(pb_bytes: bytes, images: np.ndarray) -> np.ndarray:
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb_bytes)
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
    logits = []
    with tf.compat.v1.Session(graph=graph, config=config) as sess:
        for img in images:  # the placeholder is [1, 224, 224, 3]
            x = (img.astype(np.float32) - 127.5) / 127.5
            y = sess.run(OUTPUT_NODE + ":0", {INPUT_NODE + ":0": x[None]})
            assert y.shape == (1, CLASSES), y.shape
            logits.append(y[0])
    return np.stack(logits).astype(np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pb", type=Path, help=f"the frozen graph (default: pip download {PACKAGE} into a temp dir)")
    ap.add_argument("--out", type=Path, default=OUT, help=f"output file (default {OUT.relative_to(ROOT)})")
    ap.add_argument("--check", action="store_true", help="compare with the existing output file instead of writing it")
    ap.add_argument("--tol", type=float, default=1e-4, help="--check: max abs logit difference (default 1e-4)")
    args = ap.parse_args()

    labels = LABELS.read_text(encoding="utf-8").splitlines()
    if len(labels) != CLASSES - LABELS_OFFSET:
        raise SystemExit(f"{LABELS}: {len(labels)} lines, expected {CLASSES - LABELS_OFFSET}")

    photos = sorted(IMAGES_DIR.glob("*.jpg"))
    if not photos:
        raise SystemExit(f"no *.jpg in {IMAGES_DIR}")
    for p in photos:
        if "," in p.name:
            raise SystemExit(f"{p.name}: a comma in a file name would break the `images` metadata list")

    with tempfile.TemporaryDirectory() as tmp:
        pb_path = args.pb if args.pb else fetch_pb(Path(tmp))
        pb_bytes = pb_path.read_bytes()
    pb_sha = hashlib.sha256(pb_bytes).hexdigest()
    if pb_sha != PB_SHA256:
        print(f"warning: {pb_path} has sha256 {pb_sha}, not the known {PB_SHA256}", file=sys.stderr)

    images = np.stack([load_pixels(p) for p in photos])
    logits = run_graph(pb_bytes, images)

    for p, row in zip(photos, logits):
        print(p.name)
        for i in np.argsort(-row, kind="stable")[:5]:
            label = labels[i - LABELS_OFFSET] if i >= LABELS_OFFSET else "background"
            print(f"  {i:4d}  {row[i]:9.4f}  {label}")

    meta = {
        "images": ",".join(p.name for p in photos),
        "input_node": INPUT_NODE,
        "output_node": OUTPUT_NODE,
        "preprocessing": PREPROCESSING,
        "labels_offset": str(LABELS_OFFSET),
        "pb_sha256": pb_sha,
        "pb_source": f"PyPI {PACKAGE}: {PB_IN_PACKAGE}",
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
    }

    if args.check:
        problems = []
        with safe_open(str(args.out), framework="numpy") as f:
            ref_meta = f.metadata() or {}
            ref_images, ref_logits = f.get_tensor("images"), f.get_tensor("logits")
        if ref_meta.get("images") != meta["images"]:
            problems.append(f"photos: committed {ref_meta.get('images')!r}, now {meta['images']!r}")
        elif not np.array_equal(ref_images, images):
            problems.append("images: the resized pixels differ (Pillow version or preprocessing changed?)")
        else:
            diff = float(np.max(np.abs(ref_logits - logits)))
            print(f"max |logit diff| = {diff:.3g}")
            if diff > args.tol:
                problems.append(f"logits differ by {diff:.3g} > {args.tol}")
        if ref_meta.get("pb_sha256") != pb_sha:
            problems.append(f"pb_sha256: committed {ref_meta.get('pb_sha256')}, now {pb_sha}")
        for p in problems:
            print("MISMATCH:", p, file=sys.stderr)
        return 1 if problems else 0

    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file({"images": images, "logits": logits}, str(args.out), metadata=meta)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes): images {list(images.shape)} uint8, logits {list(logits.shape)} f32")
    return 0


if __name__ == "__main__":
    sys.exit(main())
