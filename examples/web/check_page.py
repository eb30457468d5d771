#!/usr/bin/env python3
"""Headless-Chromium test of the web demo: serves `examples/` on 127.0.0.1 (a free port), opens
`web/www/index.html` in headless Chromium and waits for the page to POST its result to
/report (the top-5, the simd128 and scalar latencies, their agreement). Exits 0 when the page
reports status "ok", 1 otherwise (error, or no report within --timeout seconds).

    python3 examples/web/check_page.py [--chromium chromium] [--timeout 120]

The module must have been built into examples/web/www/web_demo.wasm (scripts/cross-test.sh does).
"""

import argparse
import http.server
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # examples/


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args()
    if not (ROOT / "web" / "www" / "web_demo.wasm").exists():
        print("examples/web/www/web_demo.wasm is missing: build it first (scripts/cross-test.sh)")
        return 1
    got: dict = {}
    done = threading.Event()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(ROOT), **kw)

        def do_POST(self):  # noqa: N802 (http.server's naming)
            if self.path != "/report":
                self.send_error(404)
                return
            n = int(self.headers.get("Content-Length", "0"))
            got.update(json.loads(self.rfile.read(n) or b"{}"))
            self.send_response(204)
            self.end_headers()
            done.set()

        def log_message(self, *a):  # quiet
            pass

    Handler.extensions_map[".wasm"] = "application/wasm"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{port}/web/www/index.html"
    with tempfile.TemporaryDirectory() as profile:
        browser = subprocess.Popen(
            [args.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            ok = done.wait(args.timeout)
        finally:
            browser.kill()
            browser.wait()
            server.shutdown()
    if not ok:
        print(f"no report from {url} within {args.timeout:.0f} s")
        return 1
    print(got.get("text", ""))
    if got.get("status") != "ok":
        print(f"page status: {got.get('status')!r}")
        return 1
    print("headless Chromium: page ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
