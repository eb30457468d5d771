#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer via cargo-fuzz, on stable) of every target in
# mobilenet-fuzz: spec, safetensors (differential against the `safetensors` crate), weights
# (compile-time check against the run-time loader), tf_graph, npy, image.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET ...]     (default: 60 s, every target)
#
# Seeds come from mobilenet-fuzz/corpus/<target> and regressions/<target> (committed, replayed
# by `cargo test`); what libFuzzer adds goes to fuzz/corpus/<target> (not committed), findings
# to fuzz/artifacts/.
# FUZZ_SANITIZER=address builds with AddressSanitizer (needs -Z flags: RUSTC_BOOTSTRAP=1).
# Prints, per target, the executions, the time and the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(spec safetensors weights tf_graph npy image)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
san=${FUZZ_SANITIZER:-none}
[ "$san" != none ] && export RUSTC_BOOTSTRAP=1
summary=()
status=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  log="fuzz/$t.log"
  set +e
  mkdir -p "mobilenet-fuzz/regressions/$t"
  (cd fuzz && cargo fuzz run -s "$san" "$t" "corpus/$t" "../mobilenet-fuzz/corpus/$t" "../mobilenet-fuzz/regressions/$t" -- \
      -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1) \
      >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -a -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 || true)
  if [ $rc -eq 0 ]; then
    summary+=("$t: ${runs:-?}, 0 crashes")
  else
    status=1
    summary+=("$t: FAILED (exit $rc), see $log and fuzz/artifacts/$t")
  fi
done
printf '%s\n' "${summary[@]}"
exit $status
