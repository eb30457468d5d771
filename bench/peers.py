#!/usr/bin/env python3
"""bench/peers: our compiled MobileNet against ONNX Runtime, LiteRT (XNNPACK) and OpenVINO.

For each network (see NETWORKS) this script
  1. takes the analysed network from `mobilenet report <spec> --format json` and the weights
     (the real TF-slim ImageNet weights, or `mobilenet random-weights --seed 1`);
  2. builds the peers' models from that JSON (its graph of values: every layer reads its
     `input_values` and writes its `output_value`, so residual skips work) and those weights:
       - ONNX (ONNX Runtime, OpenVINO): scripts/make_fixtures.py's GraphBuilder, imported as a
         module (NHWC input transposed in the graph, Conv -> BatchNormalization [-> Add(skip)]
         -> Relu/Clip);
       - TFLite (LiteRT): the same network written with tf.nn ops (NHWC), converted with
         tf.lite.TFLiteConverter.from_concrete_functions (float32, no optimizations), in a
         child process so that TensorFlow is never loaded into the benchmarking process;
  3. makes one input, numpy default_rng(0) uniform in [-1, 1), NHWC float32, written raw
     (little-endian f32) to a temp file for our `timing` binary;
  4. times every engine single-threaded, one after another in the same run: ours with
     `target/release/timing` (10 warm-up runs, then --iters timed forward passes), the peers in
     this process (--warmup runs, then --iters runs, each timed with time.perf_counter_ns
     around the single inference call); with --repeat R, R rounds with the engine order
     rotated each round, reporting the median of the per-round medians and the min of mins;
  5. compares every peer's output with ours (max |diff| / max |ours|, top-1, top-5) and
     exits 1 if a relative difference exceeds --tol (1e-3), a top-1 differs or an engine
     failed.

    python3 bench/peers.py                       # build, all networks, 200 iterations
    python3 bench/peers.py --iters 30 --no-build --json /tmp/peers.json
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "target" / "release"
BUILD_CMD = [
    "cargo", "build", "--release",
    "-p", "mobilenet-bench", "--bin", "timing", "--bin", "peak", "--bin", "throughput",
    "-p", "mobilenet-cli", "--bin", "mobilenet",
]  # fmt: skip  (with --bin given, cargo builds only the named binaries: `mobilenet` is named too)

# name: spec, weights (None: `mobilenet random-weights --seed WEIGHTS_SEED`), description
NETWORKS: dict[str, dict] = {
    "v1_1_0_224": {
        "spec": "specs/v1_tfslim_1001.toml",
        "weights": "models/mobilenet_v1_1.0_224.safetensors",
        "weights_desc": "real TF-slim ImageNet weights (scripts/fetch_real_model.sh)",
    },
    "v1_0_25_128": {
        "spec": "specs/v1_alpha025_res128.toml",
        "weights": None,
        "weights_desc": "mobilenet random-weights --seed 1",
    },
    "v2_1_0_224": {
        "spec": "specs/v2_alpha100.toml",
        "weights": None,
        "weights_desc": "mobilenet random-weights --seed 1",
    },
}
WEIGHTS_SEED = 1
INPUT_SEED = 0
ENGINES = ["ours", "onnxruntime", "openvino", "litert"]
# Threads every engine runs one inference on (--threads): ours with `forward_parallel` on a
# pool of that many threads. Batch throughput is the `throughput` tool's.
THREADS = 1


class PeerError(Exception):
    pass


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def run(cmd: list[str], **kw) -> str:
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False, **kw)
    if proc.returncode != 0:
        raise PeerError(f"`{' '.join(map(str, cmd))}` failed (exit {proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def last_json_line(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise PeerError(f"no JSON line in output:\n{text[-2000:]}")


def make_input(h: int, w: int, c: int):
    import numpy as np

    rng = np.random.default_rng(INPUT_SEED)
    # float32 draws in [0, 1), scaled exactly to [-1, 1)
    return rng.random((1, h, w, c), dtype=np.float32) * np.float32(2) - np.float32(1)


def cpu_info() -> dict:
    model, flags = None, None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, val = line.partition(":")
            key = key.strip()
            if key == "model name" and model is None:
                model = val.strip()
            elif key == "flags" and flags is None:
                flags = set(val.split())
    except OSError:
        pass
    model = model or platform.processor() or "unknown"
    flags = flags or set()
    return {
        "model": model,
        "avx2": "avx2" in flags,
        "fma": "fma" in flags,
        "avx512f": "avx512f" in flags,
        "logical_cpus": os.cpu_count(),
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }


def pkg_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def git_rev() -> str:
    try:
        rev = run(["git", "rev-parse", "--short", "HEAD"]).strip()
        dirty = run(["git", "status", "--porcelain", "--untracked-files=no"]).strip()
        return rev + ("+dirty" if dirty else "")
    except (PeerError, OSError):
        return "unknown"


@contextlib.contextmanager
def capture_fd2():
    """Capture what native code writes to file descriptor 2 (TFLite logs there)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        box: dict[str, str] = {}
        try:
            yield box
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            box["text"] = tmp.read().decode("utf-8", "replace")


def top_k(y, k: int = 5) -> list[int]:
    import numpy as np

    return [int(i) for i in np.argsort(-y.reshape(-1), kind="stable")[:k]]


# --------------------------------------------------------------------------------------
# TFLite model: the network written with tf.nn ops (runs in a child process)
# --------------------------------------------------------------------------------------


def tf_layer_params(net: dict, weights: dict) -> tuple[list[dict], int, int]:
    """Per layer, the op parameters and weights in TensorFlow layouts (NHWC, HWIO, HWC1), with
    the value ids it reads ("inputs") and writes ("output"); and the network's input and output
    value ids. The graph is make_fixtures.NetGraph's (a report without values is a chain)."""
    import numpy as np
    import make_fixtures as mf

    try:
        g = mf.NetGraph(net)
    except mf.FixtureError as e:
        raise PeerError(f"network graph: {e}") from e
    used: set[str] = set()

    def tensor(layer: dict, role: str, required: bool = True):
        found = [t for t in layer["tensors"] if t["role"] == role]
        if not found:
            if required:
                raise PeerError(f"{layer['name']}: no tensor with role {role}")
            return None, None
        t = found[0]
        a = weights.get(t["name"])
        if a is None:
            raise PeerError(f"{layer['name']}: tensor {t['name']} missing from the weights")
        if a.dtype != np.float32 or list(a.shape) != list(t["shape"]):
            raise PeerError(f"{t['name']}: {a.dtype} {list(a.shape)}, JSON says float32 {t['shape']}")
        used.add(t["name"])
        return t, a

    params = []
    for i, layer in enumerate(net["layers"]):
        op, lname = layer["op"], layer["name"]
        kind = op["op"]
        p: dict = {"name": lname, "op": kind, "inputs": g.inputs[i], "output": g.outputs[i]}
        if kind == "conv":
            kh, kw, sh, sw = int(op["kh"]), int(op["kw"]), int(op["sh"]), int(op["sw"])
            cin, cout = int(op["cin"]), int(op["cout"])
            t, w = tensor(layer, "weight")
            layout = t["layout"]
            if op["kind"] == "full":
                if layout == "oihw":
                    w = w.transpose(2, 3, 1, 0)  # -> HWIO
                elif layout != "hwio":
                    raise PeerError(f"{lname}: layout {layout} for a full conv")
                if list(w.shape) != [kh, kw, cin, cout]:
                    raise PeerError(f"{lname}: weight shape {list(w.shape)}")
            elif op["kind"] == "depthwise":
                if layout == "ochw1":
                    w = w.transpose(2, 3, 0, 1)  # [c,1,kh,kw] -> [kh,kw,c,1]
                elif layout != "hwc1":
                    raise PeerError(f"{lname}: layout {layout} for a depthwise conv")
                if list(w.shape) != [kh, kw, cin, 1] or cin != cout:
                    raise PeerError(f"{lname}: depthwise weight shape {list(w.shape)}")
            else:
                raise PeerError(f"{lname}: unknown conv kind {op['kind']}")
            pad = op["pad"]
            pads = (int(pad["top"]), int(pad["bottom"]), int(pad["left"]), int(pad["right"]))
            mode = op["padding_mode"]
            if mode == "same":
                ih, iw = int(layer["input"]["h"]), int(layer["input"]["w"])
                th, tw = mf.tf_same_pads(ih, kh, sh), mf.tf_same_pads(iw, kw, sw)
                if (th[0], th[1], tw[0], tw[1]) != pads:
                    raise PeerError(f"{lname}: JSON pads {pads} are not TF SAME {th + tw}")
            elif mode not in ("valid", "half", "explicit"):
                raise PeerError(f"{lname}: unknown padding_mode {mode}")
            _, b = tensor(layer, "bias", required=bool(op["bias"]))
            bn = None
            if op["batch_norm"] is not None:
                bn = [tensor(layer, r)[1] for r in ("bn_gamma", "bn_beta", "bn_mean", "bn_var")]
                bn.append(float(op["batch_norm"]))
            # residual: act(BN(conv(x)) + skip), input values [x, skip]
            p.update(kind=op["kind"], w=np.ascontiguousarray(w), b=b, bn=bn, strides=(sh, sw),
                     same=(mode == "same"), pads=pads, act=op["activation"],
                     residual=bool(op.get("residual", False)))
        elif kind == "add":
            p.update(act=op.get("activation", "none"))
        elif kind == "avg_pool":
            p.update(k=(int(op["kh"]), int(op["kw"])), s=(int(op["sh"]), int(op["sw"])))
        elif kind == "global_avg_pool":
            pass
        elif kind == "fc":
            n_in, n_out = int(op["inputs"]), int(op["outputs"])
            t, w = tensor(layer, "weight")
            if t["layout"] == "out_in":
                w = w.T
            elif t["layout"] == "hwio":
                w = w.reshape(n_in, n_out)
            else:
                raise PeerError(f"{lname}: layout {t['layout']} for fc")
            if list(w.shape) != [n_in, n_out]:
                raise PeerError(f"{lname}: fc weight shape {list(w.shape)}")
            _, b = tensor(layer, "bias", required=bool(op["bias"]))
            p.update(w=np.ascontiguousarray(w), b=b, act=op.get("activation", "none"))
        elif kind == "softmax":
            pass
        else:
            raise PeerError(f"{lname}: unknown op {kind}")
        params.append(p)
    unused = set(weights) - used
    if unused:
        raise PeerError(f"weights not used by any layer: {sorted(unused)[:10]}")
    return params, g.input_value, g.output_value


def tflite_convert(report_path: str, weights_path: str, out_path: str) -> None:
    """Child-process entry: write the TFLite flatbuffer of the network."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf
    from safetensors.numpy import load_file

    net = json.loads(Path(report_path).read_text())["network"]
    params, input_value, output_value = tf_layer_params(net, load_file(weights_path))
    h, w, c = (int(net["input"][k]) for k in ("h", "w", "c"))
    classes = int(net["classes"])

    def act(x, a):
        if a == "relu":
            return tf.nn.relu(x)
        if a == "relu6":
            return tf.nn.relu6(x)
        if a == "none":
            return x
        raise PeerError(f"unknown activation {a}")

    def forward(x):
        vals = {input_value: x}  # value id -> tensor
        for p in params:
            x = vals[p["inputs"][0]]
            if p["op"] == "conv":
                if p["same"]:
                    padding = "SAME"
                else:
                    t, b, l, r = p["pads"]
                    if any(p["pads"]):
                        x = tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]])
                    padding = "VALID"
                strides = [1, p["strides"][0], p["strides"][1], 1]
                if p["kind"] == "full":
                    x = tf.nn.conv2d(x, tf.constant(p["w"]), strides, padding)
                else:
                    x = tf.nn.depthwise_conv2d(x, tf.constant(p["w"]), strides, padding)
                if p["b"] is not None:
                    x = tf.nn.bias_add(x, tf.constant(p["b"]))
                if p["bn"] is not None:
                    gamma, beta, mean, var, eps = p["bn"]
                    x = tf.nn.batch_normalization(
                        x, tf.constant(mean), tf.constant(var), tf.constant(beta), tf.constant(gamma), eps
                    )
                if p["residual"]:
                    x = tf.add(x, vals[p["inputs"][1]])
                x = act(x, p["act"])
            elif p["op"] == "add":
                x = act(tf.add(x, vals[p["inputs"][1]]), p["act"])
            elif p["op"] == "avg_pool":
                x = tf.nn.avg_pool2d(x, list(p["k"]), list(p["s"]), "VALID")
            elif p["op"] == "global_avg_pool":
                x = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
            elif p["op"] == "fc":
                x = tf.reshape(x, [1, -1])
                x = tf.matmul(x, tf.constant(p["w"]))
                if p["b"] is not None:
                    x = x + tf.constant(p["b"])
                x = act(x, p["act"])
            elif p["op"] == "softmax":
                x = tf.nn.softmax(tf.reshape(x, [1, -1]), axis=-1)
            vals[p["output"]] = x
        return tf.reshape(vals[output_value], [1, classes], name="output")

    module = tf.Module()
    module.f = tf.function(forward, input_signature=[tf.TensorSpec([1, h, w, c], tf.float32, name="input")])
    cf = module.f.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([cf], module)
    converter.optimizations = []
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.target_spec.supported_types = [tf.float32]
    tfl = converter.convert()
    Path(out_path).write_bytes(tfl)
    # TensorFlow's own output on the same input, so a bad conversion shows up as such.
    x = make_input(h, w, c)
    y = cf(tf.constant(x)).numpy()
    np.save(out_path + ".tf_output.npy", y)
    print(json.dumps({"tensorflow": tf.__version__}))


# --------------------------------------------------------------------------------------
# engines
# --------------------------------------------------------------------------------------


class Engine:
    name = ""
    info: dict

    def infer(self) -> None:  # one inference on the bound input
        raise NotImplementedError

    def output(self):
        raise NotImplementedError


class OrtEngine(Engine):
    name = "onnxruntime"

    def __init__(self, onnx_bytes: bytes, x, classes: int, threads: int):
        import numpy as np
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(onnx_bytes, sess_options=so, providers=["CPUExecutionProvider"])
        self.x = np.ascontiguousarray(x)
        self.y = np.zeros((1, classes), dtype=np.float32)
        # Input and output bound once: the timed call is run_with_iobinding alone.
        self.io = self.sess.io_binding()
        self.io.bind_cpu_input("input", self.x)
        self.io.bind_output("output", "cpu", 0, np.float32, list(self.y.shape), self.y.ctypes.data)
        self.info = {
            "providers": self.sess.get_providers(),
            "settings": f"intra_op_num_threads={threads}, inter_op_num_threads=1, ORT_SEQUENTIAL, ORT_ENABLE_ALL, IOBinding",
        }

    def infer(self) -> None:
        self.sess.run_with_iobinding(self.io)

    def output(self):
        return self.y.copy()


class OpenVinoEngine(Engine):
    name = "openvino"
    CONFIG = {
        "INFERENCE_NUM_THREADS": 1,
        "INFERENCE_PRECISION_HINT": "f32",
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
    }

    def __init__(self, onnx_path: Path, x, threads: int):
        import numpy as np
        import openvino as ov

        core = ov.Core()
        model = core.read_model(str(onnx_path))
        self.compiled = core.compile_model(model, "CPU", {**self.CONFIG, "INFERENCE_NUM_THREADS": threads})
        self.req = self.compiled.create_infer_request()
        self.x = np.ascontiguousarray(x)
        self.req.set_input_tensor(ov.Tensor(self.x, shared_memory=True))
        props = {}
        for key in ("INFERENCE_NUM_THREADS", "INFERENCE_PRECISION_HINT", "PERFORMANCE_HINT", "NUM_STREAMS"):
            try:
                v = self.compiled.get_property(key)
                props[key] = v.get_type_name() if hasattr(v, "get_type_name") else str(v)
            except Exception as e:  # noqa: BLE001 - report, not fatal
                props[key] = f"? ({e})"
        self.info = {"device": core.get_property("CPU", "FULL_DEVICE_NAME"), "compiled_properties": props}

    def infer(self) -> None:
        # Synchronous inference on the input tensor set once; outputs left in the request.
        self.req.infer(share_inputs=True, share_outputs=True)

    def output(self):
        import numpy as np

        return np.array(self.req.get_output_tensor(0).data, dtype=np.float32, copy=True)


class LiteRtEngine(Engine):
    name = "litert"

    def __init__(self, tflite_bytes: bytes, x, threads: int):
        import numpy as np
        from ai_edge_litert import interpreter as litert

        # The ops of the converted graph, before any delegate.
        plain = litert.Interpreter(
            model_content=tflite_bytes,
            num_threads=1,
            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
        plain.allocate_tensors()
        ops: dict[str, int] = {}
        for d in plain._get_ops_details():  # noqa: SLF001 - op list, informational
            ops[d["op_name"]] = ops.get(d["op_name"], 0) + 1
        del plain
        with capture_fd2() as log:
            self.interp = litert.Interpreter(model_content=tflite_bytes, num_threads=threads)
            self.interp.allocate_tensors()
        # After delegation the node list ends with the delegate's node(s), which replace the
        # nodes they took over. TFLite logs "Created TensorFlow Lite XNNPACK delegate for CPU"
        # once per process, when its default delegate (XNNPACK, the only one for float CPU
        # models) is first created.
        text = log.get("text", "")
        if "XNNPACK" in text:
            LiteRtEngine.xnnpack_logged = True
        (inp,) = self.interp.get_input_details()
        (out,) = self.interp.get_output_details()
        plan: dict[str, int] = {}
        delegates = []
        for d in self.interp._get_ops_details():  # noqa: SLF001
            plan[d["op_name"]] = plan.get(d["op_name"], 0) + 1
            if d["op_name"] == "DELEGATE":
                delegates.append(d)
        whole = (len(delegates) == 1 and inp["index"] in list(delegates[0]["inputs"])
                 and out["index"] in list(delegates[0]["outputs"]))
        xnnpack = bool(delegates) and getattr(LiteRtEngine, "xnnpack_logged", False)
        self.out_index = out["index"]
        self.interp.set_tensor(inp["index"], np.ascontiguousarray(x))
        self.info = {
            "xnnpack_applied": xnnpack,
            "delegate_nodes": len(delegates),
            "whole_graph_delegated": whole,
            "delegate_log": " | ".join(l.strip() for l in text.splitlines() if l.strip()),
            "tflite_ops": ops,
            "execution_plan_ops": plan,
            "model_bytes": len(tflite_bytes),
        }

    def infer(self) -> None:
        self.interp.invoke()

    def output(self):
        return self.interp.get_tensor(self.out_index).copy()


def measure(engine: Engine, warmup: int, iters: int) -> list[float]:
    import numpy as np

    infer = engine.infer
    for _ in range(warmup):
        infer()
    times = np.empty(iters, dtype=np.int64)
    clock = time.perf_counter_ns
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for i in range(iters):
            t0 = clock()
            infer()
            times[i] = clock() - t0
    finally:
        if gc_was:
            gc.enable()
    return (times / 1e6).tolist()


def run_ours(name: str, weights: Path, input_path: Path, iters: int) -> dict:
    cmd = [str(RELEASE / "timing"), name, "--weights", str(weights), "--input", str(input_path), "--iters", str(iters),
           "--threads", str(THREADS)]
    return last_json_line(run(cmd))


# --------------------------------------------------------------------------------------
# one network
# --------------------------------------------------------------------------------------


def median(xs: list[float]) -> float:
    import numpy as np

    return float(np.median(np.asarray(xs, dtype=np.float64)))


def prepare_network(name: str, cfg: dict, args, tmp: Path) -> dict:
    """The network's report, weights and input, and the peers' model files (ONNX for ONNX
    Runtime and OpenVINO, TFLite for LiteRT) for the engines asked for; a model that could not be
    made is an entry of "setup_errors"."""
    import numpy as np
    from safetensors.numpy import load_file
    import make_fixtures as mf

    cli = str(RELEASE / "mobilenet")
    report_text = run([cli, "report", cfg["spec"], "--format", "json"])
    report = json.loads(report_text)
    net = report["network"]
    h, w, c = (int(net["input"][k]) for k in ("h", "w", "c"))
    report_path = tmp / f"{name}.report.json"
    report_path.write_text(report_text)

    if cfg["weights"] is None:
        wpath = tmp / f"{name}.safetensors"
        run([cli, "random-weights", cfg["spec"], "--seed", str(WEIGHTS_SEED), "--out", str(wpath)])
    else:
        wpath = ROOT / cfg["weights"]
        if not wpath.exists():
            raise PeerError(f"{wpath} missing: run scripts/fetch_real_model.sh")
    weights = load_file(str(wpath))
    prep = {"net": net, "mult_adds": int(report["totals"]["mult_adds"]), "classes": int(net["classes"]),
            "hwc": (h, w, c), "wpath": wpath, "x": make_input(h, w, c), "onnx_bytes": None,
            "onnx_path": None, "tflite_bytes": None, "tf_ref": None, "tf_version": None, "setup_errors": {}}
    input_path = tmp / f"{name}.input.f32"
    input_path.write_bytes(prep["x"].astype("<f4").tobytes())
    prep["input_path"] = input_path

    print(f"\n== {name}: {cfg['spec']}, {cfg['weights_desc']}", flush=True)
    print(f"   input [1,{h},{w},{c}] NHWC f32, numpy default_rng({INPUT_SEED}) uniform [-1,1); "
          f"{prep['mult_adds']:,} Mult-Adds", flush=True)

    setup_errors = prep["setup_errors"]
    if "onnxruntime" in args.engines or "openvino" in args.engines:
        try:
            builder = mf.GraphBuilder(net, weights)
            model = builder.build()
            mf.check_shapes(model, builder.checks)
            prep["onnx_bytes"] = model.SerializeToString()
            prep["onnx_path"] = tmp / f"{name}.onnx"
            prep["onnx_path"].write_bytes(prep["onnx_bytes"])
        except Exception as e:  # noqa: BLE001
            for eng in ("onnxruntime", "openvino"):
                setup_errors[eng] = f"ONNX graph: {type(e).__name__}: {e}"
    tfl_path = tmp / f"{name}.tflite"
    if "litert" in args.engines:
        try:
            t0 = time.time()
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
            out = run([sys.executable, str(Path(__file__).resolve()), "--tflite-convert",
                       str(report_path), str(wpath), str(tfl_path)], env=env)
            prep["tf_version"] = last_json_line(out).get("tensorflow")
            prep["tf_ref"] = np.load(str(tfl_path) + ".tf_output.npy")
            prep["tflite_bytes"] = tfl_path.read_bytes()
            print(f"   TFLite conversion (tf.nn graph, TensorFlow {prep['tf_version']}): "
                  f"{tfl_path.stat().st_size:,} bytes in {time.time() - t0:.1f} s", flush=True)
        except Exception as e:  # noqa: BLE001
            setup_errors["litert"] = f"{type(e).__name__}: {e}"
    if args.keep_models:
        keep = Path(args.keep_models)
        keep.mkdir(parents=True, exist_ok=True)
        for path in (prep["onnx_path"], tfl_path if prep["tflite_bytes"] else None):
            if path is not None:
                shutil.copy(path, keep / path.name)
    return prep


def make_engine(eng: str, prep: dict, threads: int) -> Engine:
    """One peer engine on the prepared model, its single inference using `threads` threads."""
    if prep["setup_errors"].get(eng):
        raise PeerError(prep["setup_errors"][eng])
    if eng == "onnxruntime":
        return OrtEngine(prep["onnx_bytes"], prep["x"], prep["classes"], threads)
    if eng == "openvino":
        return OpenVinoEngine(prep["onnx_path"], prep["x"], threads)
    if eng == "litert":
        return LiteRtEngine(prep["tflite_bytes"], prep["x"], threads)
    raise PeerError(f"unknown engine {eng}")


def bench_network(name: str, cfg: dict, args, tmp: Path, peak: float | None) -> tuple[dict, list[str]]:
    import numpy as np

    failures: list[str] = []
    prep = prepare_network(name, cfg, args, tmp)
    mult_adds = prep["mult_adds"]
    h, w, c = prep["hwc"]
    wpath, input_path, tf_ref, tf_version = prep["wpath"], prep["input_path"], prep["tf_ref"], prep["tf_version"]
    want = [e for e in ENGINES if e in args.engines]
    engines: dict[str, Engine] = {}
    setup_errors: dict[str, str] = dict(prep["setup_errors"])
    for eng in want:
        if eng == "ours" or eng in setup_errors:
            continue
        try:
            engines[eng] = make_engine(eng, prep, THREADS)
        except Exception as e:  # noqa: BLE001
            setup_errors[eng] = f"{type(e).__name__}: {e}"

    for eng, err in setup_errors.items():
        failures.append(f"{name}/{eng}: setup failed: {err}")
        print(f"   {eng}: SETUP FAILED: {err}", flush=True)
    for eng, e in engines.items():
        print(f"   {eng}: {json.dumps(e.info)}", flush=True)

    # Timing rounds, the engine order rotated each round.
    order = [e for e in want if e == "ours" or e in engines]
    per_round: dict[str, list[dict]] = {e: [] for e in order}
    outputs: dict[str, np.ndarray] = {}
    ours_isa = None
    for r in range(args.repeat):
        k = r % len(order)
        for eng in order[k:] + order[:k]:
            try:
                if eng == "ours":
                    res = run_ours(name, wpath, input_path, args.iters)
                    ours_isa = res.get("isa")
                    per_round[eng].append({"median_ms": float(res["median_ms"]), "min_ms": float(res["min_ms"]),
                                           "mean_ms": float(res["mean_ms"])})
                    if eng not in outputs:
                        outputs[eng] = np.asarray(res["output"], dtype=np.float32).reshape(1, -1)
                else:
                    times = measure(engines[eng], args.warmup, args.iters)
                    per_round[eng].append({"median_ms": median(times), "min_ms": min(times),
                                           "mean_ms": sum(times) / len(times)})
                    if eng not in outputs:
                        outputs[eng] = engines[eng].output().reshape(1, -1)
            except Exception as e:  # noqa: BLE001
                failures.append(f"{name}/{eng}: run failed: {type(e).__name__}: {e}")
                print(f"   {eng}: RUN FAILED: {e}", flush=True)
                per_round[eng] = []
                order = [o for o in order if o != eng]
                break
        if args.repeat > 1:
            line = ", ".join(f"{e} {per_round[e][-1]['median_ms']:.3f}" for e in order if per_round[e])
            print(f"   round {r + 1}/{args.repeat}: median ms {line}", flush=True)

    results: dict[str, dict] = {}
    ours_out = outputs.get("ours")
    ours_med = median([p["median_ms"] for p in per_round.get("ours", [])]) if per_round.get("ours") else None
    for eng in ENGINES:
        if eng not in per_round or not per_round[eng]:
            continue
        med = median([p["median_ms"] for p in per_round[eng]])
        mn = min(p["min_ms"] for p in per_round[eng])
        gflops = 2 * mult_adds / (med * 1e-3) / 1e9
        res = {
            "median_ms": med,
            "min_ms": mn,
            "rounds": per_round[eng],
            "gflops": gflops,
            "share_of_peak": gflops / (peak * THREADS) if peak else None,
            "ours_over_peer": (ours_med / med) if ours_med else None,
            "top5": top_k(outputs[eng]),
        }
        if eng == "ours":
            res["isa"] = ours_isa
        elif eng in engines:
            res["info"] = engines[eng].info
        if eng != "ours" and ours_out is not None:
            y = outputs[eng]
            if y.shape != ours_out.shape:
                failures.append(f"{name}/{eng}: output shape {y.shape} != ours {ours_out.shape}")
                res["max_rel_diff"] = None
            else:
                scale = float(np.max(np.abs(ours_out)))
                diff = float(np.max(np.abs(y.astype(np.float64) - ours_out.astype(np.float64))))
                rel = diff / scale if scale > 0 else diff
                res.update(max_abs_diff=diff, max_rel_diff=rel,
                           top1_match=res["top5"][0] == top_k(ours_out)[0],
                           top5_match=res["top5"] == top_k(ours_out))
                if not rel <= args.tol:
                    failures.append(f"{name}/{eng}: max rel diff {rel:.3g} > {args.tol:g}")
                if not res["top1_match"]:
                    failures.append(f"{name}/{eng}: top-1 {res['top5'][0]} != ours {top_k(ours_out)[0]}")
        results[eng] = res

    tf_check = None
    if tf_ref is not None and ours_out is not None:
        scale = float(np.max(np.abs(ours_out)))
        tf_check = {
            "max_rel_diff": float(np.max(np.abs(tf_ref.reshape(1, -1) - ours_out))) / scale,
            "top5_match": top_k(tf_ref) == top_k(ours_out),
        }

    # table
    ours_label = f"ours ({ours_isa})" if ours_isa else "ours"
    labels = {"ours": ours_label, "onnxruntime": "onnxruntime", "openvino": "openvino",
              "litert": "litert (xnnpack)" if engines.get("litert") and engines["litert"].info["xnnpack_applied"]
              else "litert"}
    print()
    hdr = (f"   {'engine':<18}{'median ms':>10}{'min ms':>9}{'GFLOP/s':>9}{'% peak':>8}"
           f"{'ours/peer':>11}{'max rel diff':>14}  {'top-1':<6}{'top-5':<6}")
    print(hdr)
    print("   " + "-" * (len(hdr) - 3))
    for eng, res in results.items():
        share = f"{100 * res['share_of_peak']:.1f}" if res["share_of_peak"] else "-"
        ratio = f"{res['ours_over_peer']:.3f}" if res["ours_over_peer"] else "-"
        if eng == "ours":
            rel, t1, t5 = "-", "-", "-"
        else:
            rel = f"{res['max_rel_diff']:.2e}" if res.get("max_rel_diff") is not None else "-"
            t1 = "same" if res.get("top1_match") else "DIFF"
            t5 = "same" if res.get("top5_match") else "diff"
        print(f"   {labels[eng]:<18}{res['median_ms']:>10.3f}{res['min_ms']:>9.3f}{res['gflops']:>9.2f}"
              f"{share:>8}{ratio:>11}{rel:>14}  {t1:<6}{t5:<6}")
    if ours_out is not None:
        print(f"   ours: top-5 {top_k(ours_out)}, max |output| {float(np.max(np.abs(ours_out))):.6g}")
    if tf_check is not None:
        print(f"   (TensorFlow itself on the tf.nn graph before conversion: max rel diff "
              f"{tf_check['max_rel_diff']:.2e}, top-5 {'same' if tf_check['top5_match'] else 'diff'})")

    return {
        "spec": cfg["spec"],
        "weights": str(cfg["weights"] or f"random-weights --seed {WEIGHTS_SEED}"),
        "mult_adds": mult_adds,
        "input_shape": [1, h, w, c],
        "input_seed": INPUT_SEED,
        "engines": results,
        "tensorflow_reference": tf_check,
        "tensorflow_version": tf_version,
        "setup_errors": setup_errors,
    }, failures


# --------------------------------------------------------------------------------------
# throughput: images/s with every core, each engine its best way
# --------------------------------------------------------------------------------------


class OpenVinoAsync:
    """OpenVINO's own throughput mode: PERFORMANCE_HINT THROUGHPUT (it picks the streams) and an
    AsyncInferQueue with its optimal number of requests, all fed the same input tensor."""

    def __init__(self, onnx_path: Path, x, threads: int):
        import numpy as np
        import openvino as ov

        core = ov.Core()
        config = {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_NUM_THREADS": threads,
                  "INFERENCE_PRECISION_HINT": "f32"}
        self.compiled = core.compile_model(core.read_model(str(onnx_path)), "CPU", config)
        self.queue = ov.AsyncInferQueue(self.compiled, 0)
        self.tensor = ov.Tensor(np.ascontiguousarray(x))
        self.info = {"config": config, "requests": len(self.queue),
                     "streams": str(self.compiled.get_property("NUM_STREAMS"))}

    def run(self, n: int) -> None:
        for _ in range(n):
            self.queue.start_async({0: self.tensor}, share_inputs=True)
        self.queue.wait_all()


def images_per_s(mode, n: int) -> float:
    """Run n images the way `mode` says and return images/s. mode is ("requests", [engines]):
    one Python thread per engine instance, each running n / len(instances) inferences (every
    engine's Python call releases the GIL while it computes), all started together;
    ("threads", engine): n inferences one after another on one instance; ("async", queue)."""
    import threading

    kind, what = mode
    if kind == "requests":
        per = -(-n // len(what))
        start = threading.Barrier(len(what) + 1)

        def work(e):
            start.wait()
            for _ in range(per):
                e.infer()

        workers = [threading.Thread(target=work, args=(e,)) for e in what]
        for t in workers:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in workers:
            t.join()
        return per * len(what) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    if kind == "threads":
        for _ in range(n):
            what.infer()
    else:
        what.run(n)
    return n / (time.perf_counter() - t0)


def bench_throughput(name: str, cfg: dict, args, tmp: Path) -> tuple[dict, list[str]]:
    """Images/s with THREADS threads: ours with `target/release/throughput` (forward_batch, one
    image per pool thread, and forward_parallel, each image's layers split; the faster counts),
    every peer each way it offers: THREADS instances of one thread each driven by THREADS
    Python threads (parallel requests), one instance using THREADS threads (images one after
    another), and for OpenVINO its THROUGHPUT hint with an async queue. Each way: a calibration
    run, then --tp-rounds rounds of about --tp-seconds each, all ways taking turns in every round
    (order rotated); the median round counts."""
    failures: list[str] = []
    prep = prepare_network(name, cfg, args, tmp)
    # Each way is one slot: (engine, label, (mode, images per round)). Every round runs every
    # slot once, the order rotated per round, so a change in the shared machine's speed during
    # the run falls on every engine alike. Ours is one slot giving its three rates.
    slots: list[tuple[str, str, object]] = [("ours", "", None)]
    for eng in [e for e in ENGINES if e in args.engines and e != "ours"]:
        if eng in prep["setup_errors"]:
            failures.append(f"{name}/{eng}: setup failed: {prep['setup_errors'][eng]}")
            continue
        label = eng
        try:
            ways = [(f"{THREADS} instances x 1 thread, parallel requests",
                     ("requests", [make_engine(eng, prep, 1) for _ in range(THREADS)])),
                    (f"1 instance x {THREADS} threads, sequential", ("threads", make_engine(eng, prep, THREADS)))]
            if eng == "openvino":
                q = OpenVinoAsync(prep["onnx_path"], prep["x"], THREADS)
                ways.append((f"THROUGHPUT hint, {q.info['requests']} async requests, "
                             f"{q.info['streams']} streams", ("async", q)))
            for label, mode in ways:
                rate = images_per_s(mode, max(THREADS, 4))  # calibration and warm-up
                n = max(THREADS, round(rate * args.tp_seconds))
                images_per_s(mode, n)
                slots.append((eng, label, (mode, n)))
        except Exception as e:  # noqa: BLE001
            failures.append(f"{name}/{label}: setup failed: {type(e).__name__}: {e}")
            print(f"   {label}: SETUP FAILED: {e}", flush=True)

    # Ours calibrates its batch on the first round and keeps it (--batch) for the others.
    ours_cmd = [str(RELEASE / "throughput"), name, "--weights", str(prep["wpath"]), "--threads", str(THREADS),
                "--rounds", "1", "--seconds", str(args.tp_seconds)]
    # (JSON key, label, whether it is only a scale and not a way of running with every core)
    ours_ways = [("batch_images_per_s", f"forward_batch, pool of {THREADS}", False),
                 ("parallel_images_per_s", f"forward_parallel, pool of {THREADS}", False),
                 ("single_thread_images_per_s", "forward, 1 thread (for scale)", True)]
    reference_only = {("ours", lab) for _, lab, ref in ours_ways if ref}
    rates: dict[tuple[str, str], list[float]] = {}
    for r in range(args.tp_rounds):
        k = r % len(slots)
        for eng, label, what in slots[k:] + slots[:k]:
            try:
                if eng == "ours":
                    res = last_json_line(run(ours_cmd))
                    if "--batch" not in ours_cmd:
                        ours_cmd += ["--batch", str(int(res["batch"]))]
                    for key, lab, _ in ours_ways:
                        rates.setdefault((eng, lab), []).append(float(res[key]))
                else:
                    mode, n = what
                    rates.setdefault((eng, label), []).append(images_per_s(mode, n))
            except Exception as e:  # noqa: BLE001
                failures.append(f"{name}/{eng}: {label or 'throughput'}: {type(e).__name__}: {e}")
                slots = [sl for sl in slots if sl[:2] != (eng, label)]
                break
        line = ", ".join(f"{e} {lab.split(',')[0]} {v[-1]:.1f}" for (e, lab), v in rates.items() if v)
        print(f"   round {r + 1}/{args.tp_rounds}: images/s {line}", flush=True)
    rows: list[dict] = []
    for (eng, label), v in rates.items():
        rows.append({"engine": eng, "mode": label, "images_per_s": median(v), "rounds": v,
                     "reference_only": (eng, label) in reference_only})

    best: dict[str, float] = {}
    for r in rows:
        if not r["reference_only"]:
            best[r["engine"]] = max(best.get(r["engine"], 0.0), r["images_per_s"])
    ours_best = best.get("ours")
    print(f"\n   {'engine':<14}{'way':<52}{'images/s':>10}{'ours/peer':>11}")
    print("   " + "-" * 87)
    for r in rows:
        mark = "*" if not r["reference_only"] and r["images_per_s"] == best[r["engine"]] else " "
        ratio = (f"{ours_best / best[r['engine']]:.3f}" if ours_best and r["engine"] != "ours" and mark == "*"
                 else "")
        print(f"   {r['engine']:<14}{r['mode']:<52}{r['images_per_s']:>9.1f}{mark}{ratio:>11}")
    peers = {e: v for e, v in best.items() if e != "ours"}
    if ours_best and peers:
        top = max(peers, key=peers.get)
        print(f"   ours {ours_best:.1f} images/s, best peer {top} {peers[top]:.1f}: "
              f"{ours_best / peers[top]:.3f}x (* = each engine's best way; ours/peer > 1: ours is faster)")
    return {"threads": THREADS, "rows": rows, "best": best,
            "ours_over_best_peer": (ours_best / max(peers.values())) if ours_best and peers else None}, failures


# --------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--tflite-convert":  # internal: child process
        sys.path.insert(0, str(ROOT / "scripts"))
        tflite_convert(*sys.argv[2:])
        return 0

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iters", type=int, default=200, help="timed runs per engine and round (default 200)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed runs before the peers' timed runs (default 20; "
                    "ours always does 10)")
    ap.add_argument("--repeat", type=int, default=1, help="rounds, engine order rotated each round; reports the "
                    "median of the rounds' medians (default 1)")
    ap.add_argument("--networks", nargs="+", choices=list(NETWORKS), default=list(NETWORKS))
    ap.add_argument("--engines", nargs="+", choices=ENGINES, default=ENGINES, help="default: all")
    ap.add_argument("--no-build", action="store_true", help="use the existing target/release binaries")
    ap.add_argument("--tol", type=float, default=1e-3, help="max |peer - ours| / max |ours| (default 1e-3)")
    ap.add_argument("--cpu", type=int, help="pin this process and its children to one CPU")
    ap.add_argument("--json", metavar="OUT", help="write the results as JSON")
    ap.add_argument("--threads", type=int, default=1, help="threads per inference for the peers (ORT "
                    "intra_op_num_threads, LiteRT num_threads, OpenVINO INFERENCE_NUM_THREADS; default 1); "
                    "ours: forward_parallel on a pool of N threads")
    ap.add_argument("--keep-models", metavar="DIR", help="copy the generated .onnx and .tflite files here")
    ap.add_argument("--throughput", action="store_true", help="images/s with --threads threads instead of "
                    "latency: each engine its best way (ours forward_batch or forward_parallel; the peers "
                    "parallel requests on single-thread instances, one multi-threaded instance, OpenVINO "
                    "also its THROUGHPUT hint)")
    ap.add_argument("--tp-rounds", type=int, default=5, help="throughput: timed rounds per way (default 5)")
    ap.add_argument("--tp-seconds", type=float, default=0.5, help="throughput: about how long a round "
                    "takes (default 0.5)")
    args = ap.parse_args()
    if "ours" not in args.engines:
        args.engines = ["ours", *args.engines]  # the reference for the output check and the ratio
    if args.iters < 1 or args.repeat < 1 or args.warmup < 0 or args.threads < 1 or args.tp_rounds < 1:
        ap.error("--iters, --repeat, --threads and --tp-rounds must be >= 1, --warmup >= 0")
    if not args.tp_seconds > 0:
        ap.error("--tp-seconds must be > 0")
    global THREADS
    THREADS = args.threads

    sys.path.insert(0, str(ROOT / "scripts"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})

    if not args.no_build:
        print("$ " + " ".join(BUILD_CMD), flush=True)
        subprocess.run(BUILD_CMD, cwd=ROOT, check=True)
    for b in ("timing", "peak", "mobilenet", "throughput"):
        if not (RELEASE / b).exists():
            raise SystemExit(f"error: {RELEASE / b} missing (run without --no-build)")

    import numpy as np
    import onnx
    import onnxruntime as ort
    import openvino as ov

    cpu = cpu_info()
    peak_json = last_json_line(run([str(RELEASE / "peak")]))
    peak = peak_json.get("peak_gflops")
    versions = {
        "ours": f"{run([str(RELEASE / 'mobilenet'), '--version']).strip()} (git {git_rev()})",
        "onnxruntime": ort.__version__,
        "openvino": ov.get_version(),
        "ai-edge-litert": pkg_version("ai-edge-litert"),
        "tensorflow (conversion only)": pkg_version("tensorflow-cpu") if pkg_version("tensorflow-cpu") !=
        "not installed" else pkg_version("tensorflow"),
        "onnx": onnx.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    print(f"CPU: {cpu['model']} ({cpu['logical_cpus']} logical CPUs; avx2 {'yes' if cpu['avx2'] else 'no'}, "
          f"fma {'yes' if cpu['fma'] else 'no'}, avx512f {'yes' if cpu['avx512f'] else 'no'}"
          + (f"; pinned to CPU {args.cpu}" if args.cpu is not None else "") + ")")
    print(f"single-core f32 FMA peak (target/release/peak, {peak_json.get('isa')}): "
          + (f"{peak:.1f} GFLOP/s" if peak else "unknown"))
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    threads = "single-threaded" if THREADS == 1 else f"on {THREADS} threads (% peak: of {THREADS} x the single-core peak)"
    print(f"all engines {threads}; {args.warmup} warm-up runs (ours: 10), {args.iters} timed runs"
          f"{f', {args.repeat} rounds' if args.repeat > 1 else ''}; "
          f"ours/peer = our median time / the peer's (< 1: ours is faster)", flush=True)

    all_failures: list[str] = []
    out = {
        "cpu": cpu,
        "peak": peak_json,
        "versions": versions,
        "settings": {"iters": args.iters, "warmup": args.warmup, "ours_warmup": 10, "repeat": args.repeat,
                     "tol": args.tol, "cpu": args.cpu,
                     "openvino_config": OpenVinoEngine.CONFIG},
        "networks": {},
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with tempfile.TemporaryDirectory(prefix="mobilenet-peers-") as tmpd:
        for name in args.networks:
            try:
                if args.throughput:
                    res, failures = bench_throughput(name, NETWORKS[name], args, Path(tmpd))
                else:
                    res, failures = bench_network(name, NETWORKS[name], args, Path(tmpd), peak)
            except PeerError as e:
                print(f"FAIL {name}: {e}", file=sys.stderr)
                all_failures.append(f"{name}: {e}")
                continue
            out["networks"][name] = res
            all_failures += failures
    out["failures"] = all_failures
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
        print(f"\nwrote {args.json}")
    if all_failures:
        print("\nFAILED:\n  " + "\n  ".join(all_failures), file=sys.stderr)
        return 1
    if args.throughput:
        print("\nthroughput only: run without --throughput for the output check")
    else:
        print("\nall outputs agree with ours (max rel diff <= %g, same top-1)" % args.tol)
    return 0


if __name__ == "__main__":
    sys.exit(main())
