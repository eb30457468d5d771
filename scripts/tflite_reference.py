#!/usr/bin/env python3
"""LiteRT's outputs for a batch of quantized inputs: the independent engine the TFLite import
and int8 tests compare against.

    tflite_reference.py INPUTS.npy OUTPUTS.npy MODEL.tflite [MODEL2.tflite ...] [--default]

INPUTS.npy holds N input tensors (N x H x W x C, the model's input dtype). Each is run through
the models in turn (a model split in two, e.g. the released v1 1.0/224 backbone and head, runs
as its chain: each model's output feeds the next). OUTPUTS.npy receives N x CLASSES values of
the last model's output dtype. By default LiteRT's reference kernels run
(`OpResolverType.BUILTIN_REF`, what our integer kernels follow bit for bit); `--default` uses
its default resolver (XNNPACK where it applies). One thread either way.
"""
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType


def main(argv):
    default = "--default" in argv
    args = [a for a in argv if a != "--default"]
    if len(args) < 3:
        sys.exit(__doc__)
    inputs, out_path, models = np.load(args[0]), args[1], args[2:]
    resolver = OpResolverType.AUTO if default else OpResolverType.BUILTIN_REF
    interps = []
    for m in models:
        it = Interpreter(model_path=m, experimental_op_resolver_type=resolver, num_threads=1)
        it.allocate_tensors()
        interps.append(it)
    outs = []
    for x in inputs:
        v = x[None, ...]
        for it in interps:
            inp, out = it.get_input_details()[0], it.get_output_details()[0]
            if v.dtype != inp["dtype"] or tuple(v.shape) != tuple(inp["shape"]):
                sys.exit(f"input {v.dtype} {v.shape} does not fit {inp['dtype']} {inp['shape']}")
            it.set_tensor(inp["index"], v)
            it.invoke()
            v = it.get_tensor(out["index"]).copy()
        outs.append(v.reshape(-1))
    np.save(out_path, np.stack(outs))


if __name__ == "__main__":
    main(sys.argv[1:])
