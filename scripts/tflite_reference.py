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

A model with a float input quantized by its first operator (QUANTIZE) and a float output made
by its last (DEQUANTIZE), e.g. MLTK's visual_wake_words, takes and gives the quantized values
here, as our imported network does: each integer input q is fed as (q - zero_point) * scale
with that QUANTIZE's output quantization (which it turns back into q exactly), and each float
output f is returned as round(f / scale) + zero_point with that DEQUANTIZE's input quantization.
"""
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType


def float_boundary(model):
    """(input scale, zero point) of the QUANTIZE after a float input and (output scale, zero
    point, dtype) of the DEQUANTIZE before a float output; None where there is none."""
    it = Interpreter(model_path=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    ops = it._get_ops_details()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    q_in = q_out = None
    for op in ops:
        if op["op_name"] == "QUANTIZE" and inp["index"] in op["inputs"] and inp["dtype"] == np.float32:
            q_in = tensors[op["outputs"][0]]["quantization"]
        if op["op_name"] == "DEQUANTIZE" and out["index"] in op["outputs"] and out["dtype"] == np.float32:
            t = tensors[op["inputs"][0]]
            q_out = (*t["quantization"], t["dtype"])
    return q_in, q_out


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
    q_in, _ = float_boundary(models[0])
    _, q_out = float_boundary(models[-1])
    outs = []
    for x in inputs:
        v = x[None, ...]
        if q_in is not None:
            scale, zero_point = q_in
            v = ((v.astype(np.float32) - zero_point) * scale).astype(np.float32)
        for it in interps:
            inp, out = it.get_input_details()[0], it.get_output_details()[0]
            if v.dtype != inp["dtype"] or tuple(v.shape) != tuple(inp["shape"]):
                sys.exit(f"input {v.dtype} {v.shape} does not fit {inp['dtype']} {inp['shape']}")
            it.set_tensor(inp["index"], v)
            it.invoke()
            v = it.get_tensor(out["index"]).copy()
        if q_out is not None:
            scale, zero_point, dtype = q_out
            v = np.round(v / scale + zero_point).astype(dtype)
        outs.append(v.reshape(-1))
    np.save(out_path, np.stack(outs))


if __name__ == "__main__":
    main(sys.argv[1:])
