#!/usr/bin/env python3
"""ONNX Runtime's outputs for a float network of ours on a batch of inputs: the independent
engine the dequantized TFLite import is tested against (mobilenet-tflite-tests).

    onnx_reference.py NETWORK.json WEIGHTS.safetensors INPUTS.npy OUTPUTS.npy

NETWORK.json is the analysed network (`mobilenet report SPEC --format json`, or what
mobilenet-tflite-tests' build.rs writes), WEIGHTS.safetensors its f32 weights. The ONNX graph
is built from both by make_fixtures.py's GraphBuilder (the one the conformance fixtures come
from; its layer shapes are checked against the JSON by ONNX shape inference) and run on each
of the N inputs (INPUTS.npy: N x H x W x C float32, NHWC) by ONNX Runtime (CPU, one thread,
no graph optimisations). OUTPUTS.npy receives N x CLASSES float32.
"""
import json
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import GraphBuilder, check_shapes, run_ort  # noqa: E402


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__)
    report = json.loads(Path(argv[0]).read_text())
    net = report.get("network", report)
    builder = GraphBuilder(net, load_file(argv[1]))
    model = builder.build()
    check_shapes(model, builder.checks)
    inputs = np.load(argv[2])
    outs = [run_ort(model, np.ascontiguousarray(x[None, ...], dtype=np.float32))[0] for x in inputs]
    np.save(argv[3], np.stack(outs))


if __name__ == "__main__":
    main(sys.argv[1:])
