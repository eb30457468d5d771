#!/usr/bin/env python3
"""Reference fixtures for the Rust tests, computed by an independent engine (ONNX Runtime).

For every fixture below this script
  1. asks the `mobilenet` CLI for the analysed network (`report --format json`) and for
     deterministic random weights (`random-weights --seed WEIGHTS_SEED`), in a temp dir;
  2. builds an ONNX graph from the JSON network graph (`network.values`, and per layer its
     `input_values` / `output_value`: every tensor is looked up by value id, so skip edges
     work; a report without them is read as a chain) and those weights with `onnx.helper`
     (NHWC input transposed to NCHW in the graph; Conv -> BatchNormalization [-> Add(skip)]
     -> Relu/Clip; TF "same" padding left to ONNX `auto_pad=SAME_UPPER`; batch norm NOT
     folded here), and checks every layer's shape, as found by ONNX shape inference, against
     the JSON;
  3. makes a deterministic input: by default numpy default_rng(INPUT_SEED), uniform in
     [-1, 1), stored in the fixture; for the fixtures in INPUT_KINDS marked "hash" (large
     inputs), a closed-form function of the flat NHWC index (see hash_input) that the tests
     recompute, so the fixture stores no input;
  4. runs ONNX Runtime (CPU, 1 thread, no graph optimisations) and writes
     mobilenet-tests/fixtures/<name>.safetensors with the f32 tensors `input` [1,H,W,C]
     (NHWC; only when input_kind is "stored") and `output` [1,classes], plus metadata
     (input_kind, seeds, versions, weights sha256).

The weights are never written into the fixtures: they are regenerated from the seed.

    python3 scripts/make_fixtures.py            # (re)write the fixtures
    python3 scripts/make_fixtures.py --check    # recompute in memory, compare, exit 1 on mismatch
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import safetensors
from onnx import TensorProto, helper, numpy_helper
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

# (fixture name, spec path relative to the workspace root)
FIXTURES: list[tuple[str, str]] = [
    ("seed", "specs/seed_cifar100.toml"),
    ("v1_a025_r128", "specs/v1_alpha025_res128.toml"),
    ("tfslim_a050_r96", "mobilenet-tests/specs/tfslim_a050_r96.toml"),
    ("v1_a075_r128", "mobilenet-tests/specs/v1_a075_r128.toml"),
    ("v2_a100_r224", "specs/v2_alpha100.toml"),
    ("v2_a035_r96", "mobilenet-tests/specs/v2_a035_r96.toml"),
]

# How a fixture's input is made (see make_input): "stored" (the default: numpy
# default_rng(INPUT_SEED), written into the fixture as `input`) or "hash" (hash_input, not
# written: the tests recompute it from the index).
INPUT_KINDS: dict[str, str] = {
    "v2_a100_r224": "hash",
    "v2_a035_r96": "hash",
}

WEIGHTS_SEED = 1  # `mobilenet random-weights --seed`
INPUT_SEED = 7  # numpy default_rng seed of the input image
OPSET = 17
FIXTURE_DIR = "mobilenet-tests/fixtures"

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CLI = "target/debug/mobilenet"


class FixtureError(Exception):
    """Any inconsistency between the JSON report, the weights and the ONNX graph."""


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def resolve_cli(path: str) -> Path:
    cli = Path(path)
    if not cli.is_absolute():
        cli = ROOT / cli
    if cli.exists():
        return cli
    if path != DEFAULT_CLI:
        raise SystemExit(f"error: mobilenet CLI not found at {cli}")
    print(f"{cli} missing: building it with `cargo build -p mobilenet-cli`", file=sys.stderr)
    subprocess.run(["cargo", "build", "-p", "mobilenet-cli"], cwd=ROOT, check=True)
    if not cli.exists():
        raise SystemExit(f"error: cargo build did not produce {cli}")
    return cli


def run_cli(cli: Path, *args: str) -> str:
    proc = subprocess.run(
        [str(cli), *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise FixtureError(
            f"`mobilenet {' '.join(args)}` failed (exit {proc.returncode}):\n{proc.stderr}"
        )
    return proc.stdout


def cli_version(cli: Path) -> str:
    try:
        return run_cli(cli, "--version").strip()
    except FixtureError:
        return "unknown"


# --------------------------------------------------------------------------------------
# ONNX graph from the JSON report
# --------------------------------------------------------------------------------------


def shape_of(s: dict) -> tuple[int, int, int]:
    return (int(s["h"]), int(s["w"]), int(s["c"]))


def tf_same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow SAME padding (before, after) along one axis. Only used to cross-check the
    JSON's resolved pads; the graph itself uses auto_pad=SAME_UPPER."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def layer_arity(op: dict) -> int:
    """How many input values a layer reads: 2 for an add and for a conv with a fused
    residual add (input_values = [x, skip]), else 1."""
    if op["op"] == "add" or (op["op"] == "conv" and bool(op.get("residual", False))):
        return 2
    return 1


class NetGraph:
    """The network as a graph of values, checked for consistency with the layer list.

    values: value id -> (h, w, c); inputs[i] / outputs[i]: layer i's input value ids and its
    output value id; input_value / output_value: the network's. A report without `values`
    (the chain form) is read as a chain: value 0 is the input, layer i writes value i + 1 and
    reads the previous layer's output."""

    def __init__(self, net: dict):
        layers = net["layers"]
        if not layers:
            raise FixtureError("network has no layers")
        if "values" in net:
            self.values: dict[int, tuple[int, int, int]] = {}
            for v in net["values"]:
                vid = int(v["id"])
                if vid in self.values:
                    raise FixtureError(f"value id {vid} listed twice in network.values")
                if v.get("elem", "f32") != "f32":
                    raise FixtureError(f"value {vid} ({v.get('name')}): elem {v['elem']!r}, only f32")
                self.values[vid] = shape_of(v["shape"])
            self.input_value = int(net.get("input_value", 0))
            self.output_value = int(net["output_value"])
            self.inputs = [[int(x) for x in l["input_values"]] for l in layers]
            self.outputs = [int(l["output_value"]) for l in layers]
        else:
            self.values = {0: shape_of(net["input"])}
            self.values.update({i + 1: shape_of(l["output"]) for i, l in enumerate(layers)})
            self.input_value, self.output_value = 0, len(layers)
            self.inputs = [[i] for i in range(len(layers))]
            self.outputs = [i + 1 for i in range(len(layers))]
        self.producer: dict[int, int] = {}
        self._check(net)

    def shape(self, vid: int) -> tuple[int, int, int]:
        return self.values[vid]

    def _check(self, net: dict) -> None:
        if self.input_value not in self.values:
            raise FixtureError(f"network input value {self.input_value} not in network.values")
        if self.values[self.input_value] != shape_of(net["input"]):
            raise FixtureError(
                f"input value {self.input_value} has shape {self.values[self.input_value]}, "
                f"network.input is {shape_of(net['input'])}"
            )
        defined = {self.input_value}
        consumed: set[int] = set()
        for i, layer in enumerate(net["layers"]):
            lname, op = layer["name"], layer["op"]
            ins, out = self.inputs[i], self.outputs[i]
            for vid in [*ins, out]:
                if vid not in self.values:
                    raise FixtureError(f"{lname}: value {vid} not in network.values")
            if len(ins) != layer_arity(op):
                raise FixtureError(
                    f"{lname}: {op['op']} layer with {len(ins)} input values {ins}, "
                    f"expected {layer_arity(op)}"
                )
            for vid in ins:
                if vid not in defined:
                    raise FixtureError(
                        f"{lname}: reads value {vid} before any layer writes it (layers must be "
                        "listed in execution order)"
                    )
            if out in defined:
                raise FixtureError(f"{lname}: writes value {out}, already written")
            in_shape, out_shape = shape_of(layer["input"]), shape_of(layer["output"])
            if self.values[ins[0]] != in_shape:
                raise FixtureError(
                    f"{lname}: JSON input {in_shape} != shape {self.values[ins[0]]} of its input "
                    f"value {ins[0]}"
                )
            if self.values[out] != out_shape:
                raise FixtureError(
                    f"{lname}: JSON output {out_shape} != shape {self.values[out]} of its output "
                    f"value {out}"
                )
            # Second operands of an elementwise add (a residual conv's skip, an add's second
            # input): same shape as the output.
            for vid in ins[1:]:
                if self.values[vid] != out_shape:
                    raise FixtureError(
                        f"{lname}: adds value {vid} of shape {self.values[vid]} to an output of "
                        f"shape {out_shape}"
                    )
            if op["op"] in ("add", "softmax") and in_shape != out_shape:
                raise FixtureError(f"{lname}: {op['op']} changes the shape {in_shape}->{out_shape}")
            defined.add(out)
            consumed.update(ins)
            self.producer[out] = i
        if self.output_value not in self.producer:
            raise FixtureError(f"network output value {self.output_value} is written by no layer")
        dead = sorted(set(self.producer) - consumed - {self.output_value})
        if dead:
            names = [net["layers"][self.producer[v]]["name"] for v in dead]
            raise FixtureError(f"values {dead} (written by {names}) are never read")
        unlisted = sorted(set(self.values) - defined)
        if unlisted:
            raise FixtureError(f"values {unlisted} listed in network.values but never written")

    def output_layer(self, net: dict) -> dict:
        """The layer that writes the network output."""
        return net["layers"][self.producer[self.output_value]]


class GraphBuilder:
    def __init__(self, network: dict, weights: dict[str, np.ndarray]):
        self.net = network
        self.weights = weights
        self.used: set[str] = set()
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.init_names: set[str] = set()
        # per layer: (layer name, ONNX tensor names that must have the layer's output shape,
        # expected ONNX shape)
        self.checks: list[tuple[str, list[str], list[int]]] = []

    # -- helpers ---------------------------------------------------------------------

    def init(self, name: str, array: np.ndarray) -> str:
        if name in self.init_names:
            raise FixtureError(f"duplicate initializer {name}")
        self.init_names.add(name)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, name: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def tensor(self, layer: dict, role: str) -> tuple[dict, np.ndarray] | None:
        found = [t for t in layer["tensors"] if t["role"] == role]
        if not found:
            return None
        if len(found) > 1:
            raise FixtureError(f"{layer['name']}: {len(found)} tensors with role {role}")
        t = found[0]
        if t["name"] not in self.weights:
            raise FixtureError(f"{layer['name']}: tensor {t['name']} missing from the weights")
        a = self.weights[t["name"]]
        if a.dtype != np.float32:
            raise FixtureError(f"{t['name']}: dtype {a.dtype}, expected float32")
        if list(a.shape) != list(t["shape"]):
            raise FixtureError(
                f"{t['name']}: weights file shape {list(a.shape)} != JSON shape {t['shape']}"
            )
        self.used.add(t["name"])
        return t, a

    def need(self, layer: dict, role: str) -> tuple[dict, np.ndarray]:
        got = self.tensor(layer, role)
        if got is None:
            raise FixtureError(f"{layer['name']}: no tensor with role {role}")
        return got

    @staticmethod
    def expect_shape(t: dict, a: np.ndarray, shape: list[int]) -> None:
        if list(a.shape) != shape:
            raise FixtureError(
                f"{t['name']} ({t['layout']}): shape {list(a.shape)}, expected {shape}"
            )

    def activation(self, x: str, act: str, prefix: str, lname: str) -> tuple[str, list[str]]:
        if act == "none":
            return x, []
        if act == "relu":
            y = self.node("Relu", [x], f"{prefix}_relu", f"{lname}/relu")
        elif act == "relu6":
            lo = self.init(f"{prefix}_clip_min", np.array(0.0, dtype=np.float32))
            hi = self.init(f"{prefix}_clip_max", np.array(6.0, dtype=np.float32))
            y = self.node("Clip", [x, lo, hi], f"{prefix}_relu6", f"{lname}/relu6")
        else:
            raise FixtureError(f"{lname}: unknown activation {act!r}")
        return y, [y]

    # -- layers ----------------------------------------------------------------------

    def conv(self, i: int, layer: dict, x: str, in_shape, out_shape, skip: str | None = None) -> str:
        """Conv [-> BatchNormalization] [-> Add(skip), for a residual conv] [-> activation]."""
        op, lname, p = layer["op"], layer["name"], f"L{i}"
        kh, kw, sh, sw = int(op["kh"]), int(op["kw"]), int(op["sh"]), int(op["sw"])
        cin, cout, kind = int(op["cin"]), int(op["cout"]), op["kind"]
        if cin != in_shape[2] or cout != out_shape[2]:
            raise FixtureError(
                f"{lname}: cin/cout {cin}/{cout} vs input/output channels "
                f"{in_shape[2]}/{out_shape[2]}"
            )
        t, w = self.need(layer, "weight")
        layout = t["layout"]
        if kind == "full":
            group = 1
            if layout == "oihw":
                self.expect_shape(t, w, [cout, cin, kh, kw])
                wn = w
            elif layout == "hwio":
                self.expect_shape(t, w, [kh, kw, cin, cout])
                wn = w.transpose(3, 2, 0, 1)
            else:
                raise FixtureError(f"{lname}: layout {layout!r} for a full conv")
        elif kind == "depthwise":
            if cin != cout:
                raise FixtureError(f"{lname}: depthwise conv with cin {cin} != cout {cout}")
            group = cin
            if layout == "ochw1":
                self.expect_shape(t, w, [cout, 1, kh, kw])
                wn = w
            elif layout == "hwc1":
                self.expect_shape(t, w, [kh, kw, cin, 1])
                wn = w.transpose(2, 3, 0, 1)  # [kh,kw,c,1] -> [c,1,kh,kw]
            else:
                raise FixtureError(f"{lname}: layout {layout!r} for a depthwise conv")
        else:
            raise FixtureError(f"{lname}: unknown conv kind {kind!r}")

        inputs = [x, self.init(f"{t['name']}#oihw", wn)]
        b = self.tensor(layer, "bias")
        if bool(op["bias"]) != (b is not None):
            raise FixtureError(f"{lname}: bias={op['bias']} but bias tensor present={b is not None}")
        if b is not None:
            self.expect_shape(b[0], b[1], [cout])
            inputs.append(self.init(f"{b[0]['name']}#b", b[1]))

        pad = op["pad"]
        pads = [int(pad["top"]), int(pad["left"]), int(pad["bottom"]), int(pad["right"])]
        mode = op["padding_mode"]
        attrs = dict(kernel_shape=[kh, kw], strides=[sh, sw], dilations=[1, 1], group=group)
        if mode == "same":
            # Independent of the JSON's resolved pads: ONNX Runtime derives them itself.
            attrs["auto_pad"] = "SAME_UPPER"
            th = tf_same_pads(in_shape[0], kh, sh)
            tw = tf_same_pads(in_shape[1], kw, sw)
            if [th[0], tw[0], th[1], tw[1]] != pads:
                raise FixtureError(
                    f"{lname}: JSON pads [t,l,b,r]={pads} differ from TF SAME "
                    f"{[th[0], tw[0], th[1], tw[1]]} for input {in_shape[:2]}, k {kh}x{kw}, "
                    f"stride {sh}x{sw}"
                )
        elif mode in ("valid", "half", "explicit"):
            if mode == "valid" and any(pads):
                raise FixtureError(f"{lname}: padding_mode valid with pads {pads}")
            attrs["pads"] = pads
        else:
            raise FixtureError(f"{lname}: unknown padding_mode {mode!r}")
        y = self.node("Conv", inputs, f"{p}_conv", lname, **attrs)
        produced = [y]

        eps = op["batch_norm"]
        bn = [self.tensor(layer, r) for r in ("bn_gamma", "bn_beta", "bn_mean", "bn_var")]
        if eps is None:
            if any(v is not None for v in bn):
                raise FixtureError(f"{lname}: batch_norm null but BN tensors present")
        else:
            if any(v is None for v in bn):
                raise FixtureError(f"{lname}: batch_norm {eps} but BN tensors missing")
            names = []
            for (tt, a), suffix in zip(bn, ("scale", "B", "mean", "var")):
                self.expect_shape(tt, a, [cout])
                names.append(self.init(f"{tt['name']}#{suffix}", a))
            y = self.node(
                "BatchNormalization",
                [y, *names],
                f"{p}_bn",
                f"{lname}/batch_norm",
                epsilon=float(eps),
            )
            produced.append(y)

        if skip is not None:
            y = self.node("Add", [y, skip], f"{p}_add", f"{lname}/residual_add")
            produced.append(y)

        y, more = self.activation(y, op["activation"], p, lname)
        produced += more
        self.checks.append((lname, produced, [1, out_shape[2], out_shape[0], out_shape[1]]))
        return y

    def fc(self, i: int, layer: dict, x: str, rank: int, in_shape, out_shape) -> str:
        op, lname, p = layer["op"], layer["name"], f"L{i}"
        n_in, n_out = int(op["inputs"]), int(op["outputs"])
        if rank == 4:
            if in_shape[0] != 1 or in_shape[1] != 1:
                # Flattening NCHW vs NHWC would order the features differently.
                raise FixtureError(f"{lname}: fc on a {in_shape} input (only 1x1 supported)")
            x = self.node("Flatten", [x], f"{p}_flatten", f"{lname}/flatten", axis=1)
        if n_in != in_shape[0] * in_shape[1] * in_shape[2] or n_out != out_shape[2]:
            raise FixtureError(f"{lname}: fc {n_in}->{n_out} vs shapes {in_shape}->{out_shape}")
        t, w = self.need(layer, "weight")
        if t["layout"] == "out_in":
            self.expect_shape(t, w, [n_out, n_in])
            wn, trans_b = w, 1
        elif t["layout"] == "hwio":
            self.expect_shape(t, w, [1, 1, n_in, n_out])
            wn, trans_b = w.reshape(n_in, n_out), 0
        else:
            raise FixtureError(f"{lname}: layout {t['layout']!r} for fc")
        inputs = [x, self.init(f"{t['name']}#gemm", wn)]
        b = self.tensor(layer, "bias")
        if bool(op["bias"]) != (b is not None):
            raise FixtureError(f"{lname}: bias={op['bias']} but bias tensor present={b is not None}")
        if b is not None:
            self.expect_shape(b[0], b[1], [n_out])
            inputs.append(self.init(f"{b[0]['name']}#gemm", b[1]))
        y = self.node("Gemm", inputs, f"{p}_gemm", lname, transB=trans_b)
        produced = [y]
        y, more = self.activation(y, op.get("activation", "none"), p, lname)
        produced += more
        self.checks.append((lname, produced, [1, n_out]))
        return y

    def build(self) -> onnx.ModelProto:
        net = self.net
        g = NetGraph(net)
        self.graph = g
        h, w, c = shape_of(net["input"])
        x = self.node("Transpose", ["input"], "input_nchw", "nhwc_to_nchw", perm=[0, 3, 1, 2])
        # value id -> (ONNX tensor name, rank: 4 for NCHW, 2 for [1, C] after a flatten)
        vals: dict[int, tuple[str, int]] = {g.input_value: (x, 4)}
        for i, layer in enumerate(net["layers"]):
            lname, op = layer["name"], layer["op"]
            in_shape, out_shape = shape_of(layer["input"]), shape_of(layer["output"])
            x, rank = vals[g.inputs[i][0]]
            others = [vals[v] for v in g.inputs[i][1:]]
            kind = op["op"]
            if kind == "conv":
                if rank != 4:
                    raise FixtureError(f"{lname}: conv after a flattened tensor")
                skip = None
                if others:  # residual: input_values = [x, skip]
                    skip, skip_rank = others[0]
                    if skip_rank != 4:
                        raise FixtureError(f"{lname}: residual skip is a flattened tensor")
                x = self.conv(i, layer, x, in_shape, out_shape, skip)
            elif kind == "add":
                (y2, rank2), = others
                if rank2 != rank:
                    raise FixtureError(f"{lname}: add of a rank-{rank} and a rank-{rank2} tensor")
                x = self.node("Add", [x, y2], f"L{i}_add", lname)
                produced = [x]
                x, more = self.activation(x, op.get("activation", "none"), f"L{i}", lname)
                produced += more
                expected = [1, out_shape[2], out_shape[0], out_shape[1]] if rank == 4 else [1, out_shape[2]]
                if rank == 2 and out_shape[:2] != (1, 1):
                    raise FixtureError(f"{lname}: flattened add with output {out_shape}")
                self.checks.append((lname, produced, expected))
            elif kind == "avg_pool":
                if rank != 4:
                    raise FixtureError(f"{lname}: avg_pool after a flattened tensor")
                x = self.node(
                    "AveragePool",
                    [x],
                    f"L{i}_avgpool",
                    lname,
                    kernel_shape=[int(op["kh"]), int(op["kw"])],
                    strides=[int(op["sh"]), int(op["sw"])],
                )
                self.checks.append((lname, [x], [1, out_shape[2], out_shape[0], out_shape[1]]))
            elif kind == "global_avg_pool":
                if rank != 4:
                    raise FixtureError(f"{lname}: global_avg_pool after a flattened tensor")
                x = self.node("GlobalAveragePool", [x], f"L{i}_gap", lname)
                self.checks.append((lname, [x], [1, out_shape[2], out_shape[0], out_shape[1]]))
            elif kind == "fc":
                x = self.fc(i, layer, x, rank, in_shape, out_shape)
                rank = 2
            elif kind == "softmax":
                if rank == 4:
                    if in_shape[:2] != (1, 1):
                        raise FixtureError(f"{lname}: softmax on a {in_shape} input")
                    x = self.node("Flatten", [x], f"L{i}_flatten", f"{lname}/flatten", axis=1)
                    rank = 2
                x = self.node("Softmax", [x], f"L{i}_softmax", lname, axis=1)
                self.checks.append((lname, [x], [1, out_shape[2]]))
            else:
                raise FixtureError(f"{lname}: unknown op {kind!r}")
            vals[g.outputs[i]] = (x, rank)

        classes = int(net["classes"])
        x, rank = vals[g.output_value]
        prev = g.shape(g.output_value)
        if rank == 4:
            if prev[:2] != (1, 1):
                raise FixtureError(f"network output {prev} is not 1x1xclasses")
            x = self.node("Flatten", [x], "output_flat", "flatten_output", axis=1)
        if prev[2] != classes:
            raise FixtureError(f"network output channels {prev[2]} != classes {classes}")
        self.nodes.append(helper.make_node("Identity", [x], ["output"], name="output"))

        unused = set(self.weights) - self.used
        if unused:
            raise FixtureError(f"weights not referenced by any layer: {sorted(unused)[:10]}")

        graph = helper.make_graph(
            self.nodes,
            net.get("name", "mobilenet"),
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, h, w, c])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, classes])],
            initializer=self.inits,
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="scripts/make_fixtures.py",
        )
        model.ir_version = 8  # ONNX 1.10+; accepted by any recent onnxruntime
        return model


def check_shapes(model: onnx.ModelProto, checks) -> None:
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    shapes: dict[str, list] = {}
    for vi in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]:
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    errors = []
    for lname, names, expected in checks:
        for n in names:
            got = shapes.get(n)
            if got != expected:
                errors.append(f"  {lname}: ONNX tensor {n} has shape {got}, JSON says {expected}")
    if errors:
        raise FixtureError("shape inference disagrees with the JSON report:\n" + "\n".join(errors))


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


HASH_MULT = 2654435761  # Knuth's multiplicative hash constant, floor(2**32 / golden ratio)
HASH_INPUT_GENERATOR = (
    "x[i] = f32(((i * 2654435761) mod 2^32) / 2^32 * 2 - 1), computed in f64, rounded to "
    "nearest f32; i = flat NHWC index of [1,H,W,C], 0-based"
)


def hash_input(h: int, w: int, c: int) -> np.ndarray:
    """The "hash" input: element i (flat NHWC index) is ((i * 2654435761) mod 2^32) / 2^32 * 2
    - 1, computed exactly in float64 (a 32-bit integer over a power of two) and rounded once
    to float32. In [-1, 1); cheap to recompute, so large fixtures need not store it."""
    i = np.arange(h * w * c, dtype=np.uint64)
    u = (i * np.uint64(HASH_MULT)) % np.uint64(2**32)  # no overflow: i < 2^32
    x = u.astype(np.float64) / 2.0**32 * 2.0 - 1.0
    return x.astype(np.float32).reshape(1, h, w, c)


def make_input(h: int, w: int, c: int, kind: str = "stored") -> np.ndarray:
    if kind == "hash":
        return hash_input(h, w, c)
    if kind != "stored":
        raise FixtureError(f"unknown input kind {kind!r}")
    rng = np.random.default_rng(INPUT_SEED)
    # float32 draws in [0, 1), scaled exactly to [-1, 1)
    return rng.random((1, h, w, c), dtype=np.float32) * np.float32(2) - np.float32(1)


def run_ort(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(
        model.SerializeToString(), sess_options=so, providers=["CPUExecutionProvider"]
    )
    (y,) = sess.run(["output"], {"input": x})
    return np.ascontiguousarray(y, dtype=np.float32)


def tensors_sha256(weights: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(weights, key=lambda n: n.encode()):
        h.update(np.ascontiguousarray(weights[name], dtype="<f4").tobytes())
    return h.hexdigest()


def compute(name: str, spec: str, cli: Path, tmp: Path, cli_ver: str):
    report = json.loads(run_cli(cli, "report", spec, "--format", "json"))
    net = report["network"]
    wfile = tmp / f"{name}.weights.safetensors"
    run_cli(cli, "random-weights", spec, "--seed", str(WEIGHTS_SEED), "--out", str(wfile))
    wbytes = wfile.read_bytes()
    weights = load_file(str(wfile))

    builder = GraphBuilder(net, weights)
    model = builder.build()
    check_shapes(model, builder.checks)

    h, w, c = shape_of(net["input"])
    input_kind = INPUT_KINDS.get(name, "stored")
    x = make_input(h, w, c, input_kind)
    y = run_ort(model, x)
    classes = int(net["classes"])
    if y.shape != (1, classes):
        raise FixtureError(f"{name}: ORT output shape {y.shape}, expected (1, {classes})")
    if not np.all(np.isfinite(y)):
        raise FixtureError(f"{name}: non-finite values in the output")

    last = builder.graph.output_layer(net)["op"]["op"]
    meta = {
        "fixture": name,
        "spec": spec,
        "network": str(net.get("name", "")),
        "naming": str(net.get("naming", "")),
        "classes": str(classes),
        "output_kind": "softmax" if last == "softmax" else "logits",
        "weights_seed": str(WEIGHTS_SEED),
        "weights_generator": f"mobilenet random-weights {spec} --seed {WEIGHTS_SEED}",
        # sha256 of the file exactly as the CLI wrote it (see weights_tensors_sha256 below).
        "weights_sha256": hashlib.sha256(wbytes).hexdigest(),
        # sha256 of the raw little-endian f32 bytes of every tensor, concatenated in ascending
        # (byte-wise) name order. Unlike the file hash this does not depend on how the
        # safetensors header is serialised (the CLI currently writes its __metadata__ keys in
        # a per-process random order, so the file hash varies from run to run).
        "weights_tensors_sha256": tensors_sha256(weights),
        # "stored": `input` is in the fixture; "hash": it is not, recompute it (see
        # input_generator). Fixtures written before this key existed are all "stored".
        "input_kind": input_kind,
        **(
            {
                "input_seed": str(INPUT_SEED),
                "input_generator": f"numpy default_rng({INPUT_SEED}).random((1,H,W,C), float32)*2-1 (NHWC)",
            }
            if input_kind == "stored"
            else {"input_generator": HASH_INPUT_GENERATOR}
        ),
        "input_shape": f"1,{h},{w},{c}",
        "mobilenet_cli_version": cli_ver,
        "onnxruntime_version": ort.__version__,
        "onnx_version": onnx.__version__,
        "onnx_opset": str(OPSET),
        "numpy_version": np.__version__,
        "ort_settings": "CPUExecutionProvider, intra_op_num_threads=1, ORT_DISABLE_ALL",
        "generator": "scripts/make_fixtures.py",
    }
    return x, y, meta


def summary(name: str, y: np.ndarray) -> str:
    top5 = np.argsort(-y[0], kind="stable")[:5]
    vals = ", ".join(f"{int(k)}:{y[0, k]:.6g}" for k in top5)
    return (
        f"{name}: output {list(y.shape)}, max|output| {float(np.max(np.abs(y))):.6g}, "
        f"top-5 [{', '.join(str(int(k)) for k in top5)}] ({vals})"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mobilenet", default=DEFAULT_CLI, help=f"CLI path (default {DEFAULT_CLI}; built with cargo if missing)")
    ap.add_argument("--check", action="store_true", help="compare against the committed fixtures instead of writing them")
    ap.add_argument("--tol", type=float, default=1e-5, help="--check: max abs output diff, relative to max(1, max|output|) (default 1e-5)")
    ap.add_argument("--only", nargs="*", metavar="NAME", help="only these fixtures")
    args = ap.parse_args()

    cli = resolve_cli(args.mobilenet)
    cli_ver = cli_version(cli)
    out_dir = ROOT / FIXTURE_DIR
    fixtures = [f for f in FIXTURES if not args.only or f[0] in args.only]
    if args.only and len(fixtures) != len(args.only):
        known = [f[0] for f in FIXTURES]
        raise SystemExit(f"error: unknown fixture in {args.only}; known: {known}")
    print(
        f"onnxruntime {ort.__version__}, onnx {onnx.__version__}, numpy {np.__version__}, "
        f"safetensors {safetensors.__version__}, {cli_ver}"
    )

    failures = 0
    with tempfile.TemporaryDirectory(prefix="mobilenet-fixtures-") as tmpd:
        for name, spec in fixtures:
            try:
                x, y, meta = compute(name, spec, cli, Path(tmpd), cli_ver)
            except FixtureError as e:
                print(f"FAIL {name} ({spec}): {e}", file=sys.stderr)
                failures += 1
                continue
            print(summary(name, y))
            path = out_dir / f"{name}.safetensors"
            tensors = {"output": y} if meta["input_kind"] == "hash" else {"input": x, "output": y}
            if not args.check:
                out_dir.mkdir(parents=True, exist_ok=True)
                save_file(tensors, str(path), metadata=meta)
                path.chmod(0o644)  # safetensors creates files 0600
                print(f"  wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")
                continue
            if not path.exists():
                print(f"FAIL {name}: {path.relative_to(ROOT)} does not exist", file=sys.stderr)
                failures += 1
                continue
            ref = load_file(str(path))
            with safe_open(str(path), framework="np") as f:
                ref_meta = f.metadata() or {}
            problems = []
            ref_kind = ref_meta.get("input_kind", "stored")  # absent in the older fixtures
            if ref_kind != meta["input_kind"]:
                problems.append(f"metadata input_kind: committed {ref_kind!r}, now {meta['input_kind']!r}")
            extra = sorted(set(ref) - set(tensors))
            if extra:
                problems.append(f"unexpected tensors {extra} (input_kind {meta['input_kind']!r})")
            for key, new in tensors.items():
                old = ref.get(key)
                if old is None or old.shape != new.shape:
                    problems.append(f"{key}: shape {None if old is None else old.shape} vs {new.shape}")
                    continue
                diff = float(np.max(np.abs(old.astype(np.float64) - new.astype(np.float64))))
                limit = 0.0 if key == "input" else args.tol * max(1.0, float(np.max(np.abs(old))))
                print(f"  {key}: max abs diff {diff:.3g} (limit {limit:.3g})")
                if not diff <= limit:
                    problems.append(f"{key}: max abs diff {diff:.3g} > {limit:.3g}")
            for key in ("spec", "weights_seed", "input_seed", "input_generator", "weights_tensors_sha256"):
                if ref_meta.get(key) != meta.get(key):
                    problems.append(f"metadata {key}: committed {ref_meta.get(key)!r}, now {meta.get(key)!r}")
            # Not an error: the CLI's safetensors header (its __metadata__ key order) is not
            # byte-stable across runs, so this hash differs even when every tensor is identical.
            for key in ("weights_sha256", "onnxruntime_version", "onnx_version"):
                if ref_meta.get(key) != meta[key]:
                    print(f"  note: {key} committed {ref_meta.get(key)!r}, now {meta[key]!r}")
            if problems:
                failures += 1
                print(f"FAIL {name}:\n  " + "\n  ".join(problems), file=sys.stderr)
            else:
                print("  ok")

    if failures:
        print(f"{failures} fixture(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
