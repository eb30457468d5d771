#!/usr/bin/env python3
"""bench/peers_int8: our int8 networks against LiteRT, ONNX Runtime and OpenVINO on the same
released quantized .tflite files (../shared/data/tflite), plus our own float network on the
same model (its dequantized import).

    /tmp/peersenv/bin/pip install -r bench/requirements.txt
    /tmp/peersenv/bin/python bench/peers_int8.py [--iters 200] [--repeat 2] [--threads 1] [--no-build]

Every engine runs one image on `--threads` threads (default 1; ours: `forward_parallel` on a pool
of that many); the same random uint8 image goes to every engine.
Ours: `mobilenet-tflite-tests`'s `q8_timing` (built with MOBILENET_TFLITE_FLOAT=1, so that the
dequantized `f_*` networks are in it). LiteRT: `Interpreter(num_threads=1)` with its default
delegate (XNNPACK where it applies; the line says whether it did). ONNX Runtime: the file
converted by tf2onnx (`--tflite`, opset 17: QDQ), CPU provider, ORT_ENABLE_ALL. OpenVINO: the
.tflite read by its TFLite frontend. The v1 1.0/224 release comes as a backbone and a head:
each peer runs both models back to back (one timed call covers both). Every peer's output is
compared with ours in quantized units.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402  (helpers: measure, median, capture_fd2, cpu_info, PeerError)

ROOT = peers.ROOT
SHARED = ROOT.parent / "shared" / "data" / "tflite"
MODELS = {
    "q_v1_100_224": (["mobilenet_v1_1.0_224_quant_embedding_extractor.tflite",
                      "mobilenet_quant_v1_224_head_layers.tflite"], 224),
    "q_v1_025_128": (["mobilenet_v1_0.25_128_quant.tflite"], 128),
    "q_v2_ptq_224": (["tf2_mobilenet_v2_1.0_224_ptq.tflite"], 224),
}  # fmt: skip


def ours(name: str, raw: Path, iters: int, threads: int) -> dict:
    cmd = [str(peers.RELEASE / "q8_timing"), name, "--input", str(raw), "--iters", str(iters),
           "--threads", str(threads)]
    return peers.last_json_line(peers.run(cmd))


class Chain:
    """Several engines' sessions run back to back, each one's output the next one's input."""

    def __init__(self, stages):
        self.stages = stages

    def infer(self) -> None:
        x = None
        for i, s in enumerate(self.stages):
            if i:
                s.set_input(x)
            s.run()
            x = s.out()

    def output(self):
        return self.stages[-1].out()


class LiteRtStage:
    def __init__(self, path: Path, x, threads: int):
        from ai_edge_litert import interpreter as litert

        with peers.capture_fd2() as log:
            self.it = litert.Interpreter(model_path=str(path), num_threads=threads)
            self.it.allocate_tensors()
        (self.inp,) = self.it.get_input_details()
        (self.o,) = self.it.get_output_details()
        self.delegated = any(d["op_name"] == "DELEGATE" for d in self.it._get_ops_details())  # noqa: SLF001
        self.log = log.get("text", "")
        if x is not None:
            self.set_input(x)

    def set_input(self, x):
        self.it.set_tensor(self.inp["index"], x.reshape(self.inp["shape"]).astype(self.inp["dtype"]))

    def run(self):
        self.it.invoke()

    def out(self):
        return self.it.get_tensor(self.o["index"])


class OrtStage:
    def __init__(self, path: Path, x, threads: int):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.s = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
        self.i = self.s.get_inputs()[0]
        self.dtype = {"tensor(uint8)": "uint8", "tensor(int8)": "int8", "tensor(float)": "float32"}[self.i.type]
        if x is not None:
            self.set_input(x)

    def set_input(self, x):
        self.x = x.reshape([d if isinstance(d, int) else 1 for d in self.i.shape]).astype(self.dtype)

    def run(self):
        self.y = self.s.run(None, {self.i.name: self.x})[0]

    def out(self):
        return self.y


class OvStage:
    def __init__(self, path: Path, x, threads: int):
        import openvino as ov

        core = ov.Core()
        self.c = core.compile_model(core.read_model(str(path)), "CPU", {
            "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1})
        self.r = self.c.create_infer_request()
        self.dtype = self.c.input(0).get_element_type().to_dtype()
        if x is not None:
            self.set_input(x)

    def set_input(self, x):
        import openvino as ov

        self.x = x.reshape(list(self.c.input(0).get_shape())).astype(self.dtype)
        self.r.set_input_tensor(ov.Tensor(self.x))

    def run(self):
        self.r.infer()

    def out(self):
        return self.r.get_output_tensor(0).data.copy()


def to_onnx(tflite: Path, out: Path) -> Path:
    if not out.exists():
        cmd = [sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite), "--output", str(out), "--opset", "17"]
        p = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if p.returncode != 0:
            raise peers.PeerError("tf2onnx failed: " + p.stderr.strip().splitlines()[-1])
    return out


def main() -> int:
    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds; the best round's median is reported, and the median of the rounds' ratios")
    ap.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    ap.add_argument("--threads", type=int, default=1, help="threads for every engine (ours: forward_parallel)")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is not here (the released quantized models)")
        return 0
    if not args.no_build:
        env = {**os.environ, "MOBILENET_TFLITE_FLOAT": "1"}
        subprocess.run(["cargo", "build", "--release", "-p", "mobilenet-tflite-tests", "--bin", "q8_timing"],
                       cwd=ROOT, env=env, check=True)
    print(json.dumps({"cpu": peers.cpu_info(), "threads": args.threads}))
    th = args.threads
    tmp = Path(tempfile.mkdtemp(prefix="peers_int8_"))
    results = {}
    for name in args.models:
        files, side = MODELS[name]
        paths = [SHARED / f for f in files]
        x = np.random.default_rng(peers.INPUT_SEED).integers(0, 256, (1, side, side, 3), dtype=np.uint8)
        raw = tmp / f"{name}.u8"
        raw.write_bytes(x.tobytes())
        rawf = tmp / f"{name}.f32"
        rawf.write_bytes((x.astype(np.float32) / 127.5 - 1.0).tobytes())
        row: dict = {}
        engines = {
            "litert": lambda: Chain([LiteRtStage(p, x if i == 0 else None, th) for i, p in enumerate(paths)]),
            "onnxruntime": lambda: Chain([OrtStage(to_onnx(p, tmp / (p.stem + ".onnx")), x if i == 0 else None, th)
                                          for i, p in enumerate(paths)]),
            "openvino": lambda: Chain([OvStage(p, x if i == 0 else None, th) for i, p in enumerate(paths)]),
        }
        # Each round's medians, for ratios taken inside one round (the machine's load drifts
        # between rounds; a ratio from the same minute is steadier than a ratio of two bests).
        rounds: list[dict] = []
        for r in range(args.repeat):
            o = ours(name, raw, args.iters, th)
            f = ours(name.replace("q_", "f_", 1), rawf, args.iters, th)
            rounds.append({"ours": o["median_ms"], "ours_float": f["median_ms"]})
            mine = np.asarray(o["output"], dtype=np.int32)
            best = row.setdefault("ours", {"median_ms": 1e9})
            if o["median_ms"] < best["median_ms"]:
                row["ours"] = {k: o[k] for k in ("median_ms", "min_ms", "isa", "io")}
            fb = row.setdefault("ours_float", {"median_ms": 1e9})
            if f["median_ms"] < fb["median_ms"]:
                row["ours_float"] = {k: f[k] for k in ("median_ms", "min_ms")}
            for e, make in engines.items():
                try:
                    eng = make()
                    t = peers.measure(eng, args.warmup, args.iters)
                    y = np.asarray(eng.output(), dtype=np.float64).reshape(-1)
                except Exception as err:  # noqa: BLE001 - a peer that cannot run is reported
                    row[e] = {"error": str(err)[:300]}
                    continue
                med = peers.median(t)
                rounds[-1][e] = med
                prev = row.get(e, {})
                if "median_ms" in prev and prev["median_ms"] <= med:
                    continue
                info = {"median_ms": med, "min_ms": min(t),
                        "max_abs_diff_units": float(np.max(np.abs(y - mine))),
                        "same_top1": int(np.argmax(y)) == int(np.argmax(mine))}
                if e == "litert":
                    info["delegated"] = [s.delegated for s in eng.stages]
                row[e] = info
        row["rounds"] = rounds
        ratios = {e: peers.median([rd["ours"] / rd[e] for rd in rounds if e in rd])
                  for e in ["ours_float", *engines] if any(e in rd for rd in rounds)}
        row["median_round_ratio"] = ratios
        results[name] = row
        line = f"{name}: ours {row['ours']['median_ms']:.3f} ms ({row['ours']['isa']}), our float {row['ours_float']['median_ms']:.3f} ms (int8/float {row['ours']['median_ms'] / row['ours_float']['median_ms']:.2f})"
        for e in engines:
            v = row[e]
            if "error" in v:
                line += f"; {e}: {v['error']}"
            else:
                line += (f"; {e} {v['median_ms']:.3f} ms (ours/{e} {row['ours']['median_ms'] / v['median_ms']:.2f},"
                         f" max|diff| {v['max_abs_diff_units']:.0f}, same top-1 {v['same_top1']}"
                         + (f", delegated {v['delegated']}" if "delegated" in v else "") + ")")
        print(line, flush=True)
        print(f"   {name}, ours / engine in the same round, median over {len(rounds)} rounds: "
              + ", ".join(f"{e} {v:.2f}" for e, v in ratios.items()), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
