#!/usr/bin/env bash
# Every test of the project: engine (GoogleTest via ctest), Node services and renderer (vitest),
# type checks, and the end-to-end suite (web mode + Chromium + the real engine).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
npm run build:renderer --silent >/dev/null || { echo "renderer build failed"; exit 1; }
echo "setup + builds: ${SECONDS} s"

status=0
step() {
  local name="$1"; shift
  echo; echo "=== $name"
  local t0=$SECONDS  # per-step seconds in the summary: CI must stay under 30 minutes
  if "$@"; then results+=("PASS $name ($((SECONDS - t0)) s)"); else results+=("FAIL $name ($((SECONDS - t0)) s)"); status=1; fi
}
results=()
# Multi-host runs over TCP between network namespaces: a step of their own with a time limit;
# where namespaces cannot be made (not root, a kernel that forbids them) it says why and passes.
multi_host() {
  local why
  if ! why=$(bash native-engine/scripts/netns-hosts/hosts.sh can 2>&1); then
    echo "$why"; echo "multi-host TCP tests SKIPPED (see above)"; return 0
  fi
  # Measured 5.5 minutes on the 2-core machine at load ~20 (less when idle); the limit ends a hang.
  timeout --kill-after=10 420 ctest --test-dir native-engine/build -R SequenceParallelTcp --output-on-failure -j1
}
step "engine unit + golden tests (ctest)" ctest --test-dir native-engine/build -E SequenceParallelTcp --output-on-failure -j1
step "multi-host sequence parallelism over TCP (network namespaces, <= 7 min)" multi_host
step "engine tests under ASan + UBSan (build-asan)" bash native-engine/scripts/test-sanitized.sh
step "fuzz every parser (libFuzzer, 30 s each)" bash native-engine/scripts/fuzz.sh 30
step "typecheck (app, Electron layer, renderer)" npx tsc -p tsconfig.json --noEmit
step "typecheck (Electron build config)" npx tsc -p tsconfig.electron.json --noEmit
step "Node services + renderer (vitest)" npx vitest run
step "end-to-end (web mode, Chromium, real engine)" npx vitest run --config e2e/vitest.e2e.config.ts

echo; echo "=== summary"
printf '%s\n' "${results[@]}"
passed=$(printf '%s\n' "${results[@]}" | grep -c '^PASS' || true)
failed=$(printf '%s\n' "${results[@]}" | grep -c '^FAIL' || true)
echo "suites: $passed passed, $failed failed; ${SECONDS} s in all"
exit $status
