#!/usr/bin/env bash
# GPU check of the CUDA backend, for the lent GPU machine (H100, CUDA 13, driver 580; no Go,
# no network). It runs binaries built on a development machine and carried over:
#
#   go test -c -o bench/cuda.test ./backend/cuda     # the CUDA tests (needs cgo: gcc)
#   go build -o bench/minitron ./cmd/minitron        # the command, for `minitron bench`
#
# Both are git-ignored build outputs, so the device call must carry them:
#
#   run  command: "bash bench/gpu-check.sh"   timeout_s: 330
#        carry: ["bench/cuda.test", "bench/minitron"]
#
# It prints the GPU, runs every CUDA test verbosely (conformance in exact and fast precision,
# the golden models' logits and greedy ids, kernel compilation, split attention), then times
# `minitron bench -backend cuda -shape minitron-4b` in exact and fast precision (and fast with
# single bf16 rounding, MINITRON_CUDA_FAST_ROUNDING=single, for comparison): prefill of a
# 512-token prompt and decoding, in tokens/s. If that command has no cuda backend yet, the test
# binary's TestSpeedMinitronShape times the same instead. Full logs go to $OUT when the tool
# sets it. The timeouts bound the whole to under 4 minutes: 90 s of tests, 45 s per bench (a
# fill of 8.4 GB of random weights, the upload, then the timing), and the fallback only after
# benches that failed within seconds of their fill.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${OUT:-$(mktemp -d)}
status=0

section() { printf '\n==== %s\n' "$*"; }

section GPU
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || nvidia-smi || true

section "CUDA tests (bench/cuda.test -test.v)"
if [ ! -x bench/cuda.test ]; then
	echo "bench/cuda.test missing: build it with go test -c -o bench/cuda.test ./backend/cuda"
	status=1
else
	# From the package directory, so that ../../testdata resolves.
	# MINITRON_CUDA_REQUIRE=1: on this machine a backend that cannot be opened is a failure.
	(cd backend/cuda && MINITRON_CUDA_REQUIRE=1 timeout 90 "$root/bench/cuda.test" -test.v -test.count=1 -test.timeout=85s) >"$out/cuda-test.log" 2>&1
	rc=$?
	# The summary: skips and failures with their reasons, parity lines, the verdict.
	grep -E -- '--- (FAIL|SKIP)|CUDA backend unavailable|max \|diff\||greedy|cuda/|NVRTC supports|sm_[0-9]+: [0-9]+ bytes|panic|^(ok|FAIL|PASS)' "$out/cuda-test.log" |
		grep -v -- '--- PASS' | tail -n 80
	echo "cuda.test exit status $rc (full log: $out/cuda-test.log)"
	[ "$rc" -eq 0 ] || status=1
fi

bench() { # precision [fast rounding]
	local name=$1${2:+-$2}
	local log="$out/bench-$name.json"
	MINITRON_CUDA_FAST_ROUNDING=${2:-} timeout 45 bench/minitron bench -backend cuda -shape minitron-4b -precision "$1" -json >"$log" 2>"$out/bench-$name.err"
	local rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "minitron bench ($name) exit status $rc:"
		tail -n 5 "$out/bench-$name.err"
		return 1
	fi
	if command -v python3 >/dev/null; then
		python3 - "$log" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
d = r.get("decode_tok_s_by_context", {})
print(f"{r['backend']}: prefill 512: {r['prefill512_tok_s']:.0f} tok/s (128: {r['prefill_tok_s'].get('128', 0):.0f}); "
      f"decode: {r['decode_tok_s']:.1f} tok/s at context 16, {d.get('512', 0):.1f} at 512; "
      f"{r['weight_gbps']:.0f} GB/s of weights; load {r['load_s']:.1f} s")
EOF
	else
		cat "$log"
	fi
}

section "minitron bench -backend cuda -shape minitron-4b"
if [ -x bench/minitron ]; then
	bench exact || status=1
	bench fast || status=1
	bench fast single || status=1 # the faster, less exact fast precision, for comparison
else
	echo "bench/minitron missing: build it with go build -o bench/minitron ./cmd/minitron"
	status=1
fi
if [ "$status" -ne 0 ] && [ -x bench/cuda.test ] && grep -q 'unknown backend "cuda"' "$out"/bench-*.err 2>/dev/null; then
	section "minitron has no cuda backend registered yet: timing through the test binary"
	(cd backend/cuda && MINITRON_CUDA_REQUIRE=1 MINITRON_CUDA_SPEED=1 timeout 90 "$root/bench/cuda.test" -test.v -test.run 'TestSpeedMinitronShape' -test.timeout=85s) 2>&1 |
		grep -E 'prefill 512|FAIL|SKIP|panic|^ok' | tail -n 10
fi

section "verdict"
if [ "$status" -eq 0 ]; then echo "gpu-check: all passed"; else echo "gpu-check: FAILED (see above)"; fi
exit "$status"
