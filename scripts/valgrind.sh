#!/usr/bin/env bash
# Memcheck (valgrind) over the tests that run the kernels: the runtime's kernel tests (every
# variant against its scalar twin, many shapes: scalar, AVX2+FMA and the AVX-512 code paths on
# AVX2 registers) and the end-to-end conformance, error-message and fuzz-replay tests. Valgrind
# does not decode AVX-512 instructions; it hides AVX-512 from CPUID, so detection picks AVX2.
#
#   scripts/valgrind.sh          (uses the workspace's target dir and dev profile)
#
# Any invalid read or write, use of uninitialized memory or mismatched free fails the run.
# Skips with a message where valgrind is not installed, unless MOBILENET_REQUIRE_VALGRIND is set.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null; then
    echo "valgrind tests skipped: valgrind is not installed (apt-get install valgrind)"
    [ -z "${MOBILENET_REQUIRE_VALGRIND:-}" ] || exit 1
    exit 0
fi
# The test binaries, without running them (cargo prints their paths as JSON).
mapfile -t bins < <(cargo test --no-run --message-format=json \
    -p mobilenet-runtime --lib \
    -p mobilenet-tests --test conformance --test error_messages \
    -p mobilenet-fuzz --test fuzz 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])')
status=0
for b in "${bins[@]}"; do
    name=$(basename "$b")
    start=$(date +%s)
    # The fuzz smoke is time-bounded: a short budget keeps it short under valgrind too.
    if MOBILENET_FUZZ_SMOKE_MS=300 valgrind -q --error-exitcode=99 --track-origins=yes \
        "$b" --test-threads=1 -q >"/tmp/valgrind-$name.log" 2>&1; then
        echo "valgrind: $name: clean ($(( $(date +%s) - start )) s)"
    else
        status=1
        echo "valgrind: $name: FAILED, see /tmp/valgrind-$name.log"
        tail -30 "/tmp/valgrind-$name.log"
    fi
done
exit $status
