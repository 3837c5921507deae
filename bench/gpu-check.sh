#!/usr/bin/env bash
# GPU check of the CUDA backend, for the lent GPU machine (H100 or H200, CUDA 13, driver 580; no
# Go, no network). It runs binaries built on a development machine, with cgo (gcc), and
# carried over:
#
#   go test -c -o bench/cuda.test ./backend/cuda     # the CUDA tests
#   CGO_ENABLED=1 go build -o bench/minitron ./cmd/minitron   # `minitron bench`, with the cuda backend
#
# Both are git-ignored build outputs, so the device call must carry them:
#
#   run  command: "bash bench/gpu-check.sh"   timeout_s: 300
#        carry: ["bench/cuda.test", "bench/minitron"]
#
# It cannot pass without a GPU: every test binary runs with MINITRON_CUDA_REQUIRE=1 (a backend
# that cannot be opened fails instead of skipping), and the verdict also wants positive
# evidence: the device the backend opened (not the CPU emulation), the CUDA tests passing, and
# both benches reporting a cuda backend. In order it prints:
#   - the GPU (nvidia-smi, when there is one; its absence alone decides nothing);
#   - `ldconfig -p` for libcuda, libcublas and libnvrtc, and the lib directories of NVIDIA's
#     Python wheels (site-packages/nvidia/*/lib) found under system, user, conda and virtual
#     environment prefixes without relying on PATH; they go to MINITRON_CUDA_LIB_DIR (a list,
#     ':'-separated; the loader's directories and the toolkit's come first, as the backend's
#     own search orders them) unless that is set already;
#   - which libcuda, cuBLAS and NVRTC the backend loaded, and the device (TestLibraries);
#   - every CUDA test, verbosely, summarised (conformance in exact and fast precision, the golden
#     models' logits and greedy ids, kernel compilation, split attention);
#   - `minitron bench -backend cuda -shape minitron-4b` in exact and fast precision (fast also
#     with `-batch 1,8,32`: the total decode rate of 8 and 32 sequences together), and when
#     time is left exact without CUDA graphs (MINITRON_CUDA_GRAPHS=0) and fast with single bf16
#     rounding (MINITRON_CUDA_FAST_ROUNDING=single): prefill
#     of 128 and 512 tokens and decoding at contexts 16 and 512, in tokens/s, each length warmed
#     up before it is timed (bench.Run does that on a GPU backend). A bench that times out
#     prints the figures its progress log had by then. Without a device they are skipped (each
#     fills 8.4 GB of random weights before it opens the backend).
# Full logs go to $OUT when the tool sets it. Every step's timeout is cut to what is left of a
# deadline of 225 s, so the whole finishes in under 4 minutes.
#
# For tests (bench/gpucheck_test.go): GPU_CHECK_DEADLINE, GPU_CHECK_TEST_TIMEOUT and
# GPU_CHECK_BENCH_TIMEOUT (seconds), GPU_CHECK_ROOTS (the directories searched for Python
# installs, "/" by default).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
deadline=${GPU_CHECK_DEADLINE:-225}
test_timeout=${GPU_CHECK_TEST_TIMEOUT:-80}
bench_timeout=${GPU_CHECK_BENCH_TIMEOUT:-45}
roots=${GPU_CHECK_ROOTS:-/}
failures=()

section() { printf '\n==== %s\n' "$*"; }
fail() {
	failures+=("$*")
	echo "FAILED: $*"
}
# budget prints the smaller of $1 and the seconds left before the deadline (0 when none).
budget() {
	local left=$((deadline - SECONDS))
	((left < 0)) && left=0
	echo $(($1 < left ? $1 : left))
}
export MINITRON_CUDA_REQUIRE=1 # on this machine a backend that cannot be opened is a failure

section GPU
if command -v nvidia-smi >/dev/null; then
	timeout 15 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader ||
		timeout 15 nvidia-smi || echo "nvidia-smi failed (exit status $?)"
else
	echo "nvidia-smi not found (the CUDA tests below decide whether there is a GPU)"
fi

section "CUDA libraries on the loader path (ldconfig -p)"
ldconfig_cmd=$(command -v ldconfig || { [ -x /sbin/ldconfig ] && echo /sbin/ldconfig; } || { [ -x /usr/sbin/ldconfig ] && echo /usr/sbin/ldconfig; })
loader_libs=
if [ -n "$ldconfig_cmd" ]; then
	loader_libs=$("$ldconfig_cmd" -p 2>/dev/null | grep -E 'libcuda|libcublas|libnvrtc')
	if [ -n "$loader_libs" ]; then echo "$loader_libs"; else echo "(none)"; fi
else
	echo "no ldconfig here"
fi

section "CUDA libraries of Python wheels (site-packages/nvidia/*/lib)"
# Python prefixes: the system's, users', conda's, and every virtual environment (a directory
# with pyvenv.cfg) within a few levels of a root, found by walking the file system, not PATH.
prefixes=()
for r in $roots; do
	r=${r%/}
	prefixes+=("$r/usr" "$r/usr/local" "$r/opt/conda" "$r/root/.local" "$r"/home/*/.local "$r"/opt/conda/envs/* "$r"/root/miniconda3 "$r"/root/anaconda3)
	while IFS= read -r cfg; do
		prefixes+=("$(dirname "$cfg")")
	done < <(timeout "$(budget 15)" find "${r:-/}" -xdev -maxdepth 5 \
		\( -path "$r/proc" -o -path "$r/sys" -o -path "$r/dev" -o -path "$r/usr/share" -o -path "$r/usr/include" -o -path "$r/var/lib" -o -path "$r/snap" \) -prune \
		-o -name pyvenv.cfg -type f -print 2>/dev/null)
done
[ -n "${VIRTUAL_ENV:-}" ] && prefixes+=("$VIRTUAL_ENV")
[ -n "${CONDA_PREFIX:-}" ] && prefixes+=("$CONDA_PREFIX")
wheel_dirs=()
for p in "${prefixes[@]}"; do
	for d in "$p"/lib/python3*/site-packages/nvidia/*/lib "$p"/lib/python3*/dist-packages/nvidia/*/lib "$p"/lib64/python3*/site-packages/nvidia/*/lib; do
		[ -d "$d" ] || continue
		compgen -G "$d/libcublas.so.*" >/dev/null || compgen -G "$d/libnvrtc.so.*" >/dev/null || continue
		d=$(cd "$d" && pwd -P)
		case " ${wheel_dirs[*]-} " in *" $d "*) continue ;; esac
		wheel_dirs+=("$d")
		echo "$d: $(cd "$d" && ls libcublas.so.* libcublasLt.so.* libnvrtc.so.* libnvrtc-builtins.so.* 2>/dev/null | tr '\n' ' ')"
	done
done
[ ${#wheel_dirs[@]} -eq 0 ] && echo "(none)"

if [ -n "${MINITRON_CUDA_LIB_DIR:-}" ]; then
	echo "MINITRON_CUDA_LIB_DIR is set already: $MINITRON_CUDA_LIB_DIR"
elif [ ${#wheel_dirs[@]} -gt 0 ]; then
	# The variable makes the backend search only its list for cuBLAS and NVRTC, so the list
	# starts with what it would have found anyway: the loader's directories (LD_LIBRARY_PATH,
	# ldconfig's cache) and the toolkit's.
	dirs=()
	IFS=: read -ra ld_dirs <<<"${LD_LIBRARY_PATH:-}"
	for d in "${ld_dirs[@]}" $(echo "$loader_libs" | grep -E 'libcublas|libnvrtc' | sed -n 's/.*=> \(.*\)\/[^/]*$/\1/p') /usr/local/cuda/lib64 /usr/local/cuda-*/lib64 "${wheel_dirs[@]}"; do
		[ -n "$d" ] && [ -d "$d" ] || continue
		case ":$(
			IFS=:
			echo "${dirs[*]-}"
		):" in *":$d:"*) continue ;; esac
		dirs+=("$d")
	done
	MINITRON_CUDA_LIB_DIR=$(
		IFS=:
		echo "${dirs[*]}"
	)
	export MINITRON_CUDA_LIB_DIR
	echo "MINITRON_CUDA_LIB_DIR=$MINITRON_CUDA_LIB_DIR"
fi

section "libraries the CUDA backend loaded (bench/cuda.test -test.run TestLibraries)"
device=
if [ ! -x bench/cuda.test ]; then
	fail "bench/cuda.test missing: build it with go test -c -o bench/cuda.test ./backend/cuda"
else
	# From the package directory, so that ../../testdata resolves.
	(cd backend/cuda && timeout "$(budget 30)" "$root/bench/cuda.test" -test.v -test.count=1 -test.run '^TestLibraries$') >"$out/cuda-libraries.log" 2>&1
	rc=$?
	grep -E 'cuda (libraries|device):|--- (FAIL|SKIP)|MINITRON_CUDA_REQUIRE|panic' "$out/cuda-libraries.log" | sed 's/^ *//'
	device=$(sed -n 's/.*cuda device: //p' "$out/cuda-libraries.log" | head -n 1)
	if [ "$rc" -ne 0 ]; then
		tail -n 5 "$out/cuda-libraries.log"
		fail "the CUDA backend did not open (exit status $rc; $out/cuda-libraries.log)"
	elif [ -z "$device" ]; then
		fail "the library check opened no device"
	elif [[ $device == *"Emulated GPU"* ]]; then
		fail "the backend opened the CPU emulation ($device), not a GPU"
	fi

	section "CUDA tests (bench/cuda.test -test.v)"
	t=$(budget "$test_timeout")
	(cd backend/cuda && timeout "$t" "$root/bench/cuda.test" -test.v -test.count=1 -test.timeout="$((t > 5 ? t - 5 : 1))s") >"$out/cuda-test.log" 2>&1
	rc=$?
	# The summary: skips and failures with their reasons, parity lines, the verdict.
	grep -E -- '--- (FAIL|SKIP)|CUDA backend unavailable|MINITRON_CUDA_REQUIRE|max \|diff\||greedy|decode step|cuda/|NVRTC supports|sm_[0-9]+: [0-9]+ bytes|panic|^(ok|FAIL|PASS)' "$out/cuda-test.log" |
		grep -v -- '--- PASS' | tail -n 80
	echo "cuda.test exit status $rc (full log: $out/cuda-test.log)"
	if [ "$rc" -eq 124 ]; then
		fail "the CUDA tests timed out after $t s"
	elif [ "$rc" -ne 0 ]; then
		fail "the CUDA tests failed (exit status $rc)"
	fi
	for want in TestConformance TestGoldenLogits TestGoldenGreedy TestAttentionSplitsMatchCPU TestAttentionBF16Cache TestGoldenKVCacheBF16 TestExactGEMMSplitsX TestGraphReplay; do
		grep -q -- "^--- PASS: $want " "$out/cuda-test.log" || fail "$want did not pass"
	done
	grep -q 'Emulated GPU' "$out/cuda-test.log" && fail "the CUDA tests ran on the CPU emulation"
fi

# bench NAME PRECISION [VAR=VALUE|-] [FLAGS...]: one `minitron bench`, text output, its
# progress log streamed to a file so that a timeout still shows what was measured.
bench() {
	local name=$1 precision=$2 setting=${3:-} t
	shift $(($# < 3 ? $# : 3))
	[ "$setting" = - ] && setting=
	local res="$out/bench-$name.txt" log="$out/bench-$name.log"
	t=$(budget "$bench_timeout")
	if ((t < bench_timeout && t < 10)); then
		echo "bench $name: skipped, $t s left of the deadline"
		return 2
	fi
	env ${setting:+"$setting"} timeout "$t" bench/minitron bench -backend cuda -shape minitron-4b -precision "$precision" "$@" >"$res" 2>"$log"
	local rc=$?
	if [ "$rc" -eq 124 ]; then
		echo "minitron bench ($name) timed out after $t s; what it had measured:"
		grep -E 'filling|ready in|warmed up|prefill|decode|batch|mix|weights streamed' "$log" || echo "(nothing yet)"
		return 1
	elif [ "$rc" -ne 0 ]; then
		echo "minitron bench ($name) exit status $rc:"
		tail -n 5 "$log"
		return 1
	fi
	cat "$res"
	if ! grep -q ', cuda/' "$res" || grep -q 'Emulated GPU' "$res"; then
		echo "minitron bench ($name) did not report a GPU backend"
		return 1
	fi
}

section "minitron bench -backend cuda -shape minitron-4b"
if [ -z "$device" ]; then
	# Each bench fills 8.4 GB of random weights before it opens the backend: not worth the wait.
	fail "benches skipped: the CUDA backend opened no device"
elif [ -x bench/minitron ]; then
	bench exact exact || fail "bench exact"
	# Fast precision also decodes batches of 8 and 32 sequences (cuBLAS GEMMs of stacked rows).
	bench fast fast - -batch 1,8,32 || fail "bench fast"
	# For comparison, optional when time is short: decoding without CUDA graphs, and the
	# faster, less exact fast precision.
	bench exact-no-graphs exact MINITRON_CUDA_GRAPHS=0
	[ $? -eq 1 ] && fail "bench exact-no-graphs"
	bench fast-single fast MINITRON_CUDA_FAST_ROUNDING=single
	[ $? -eq 1 ] && fail "bench fast-single"
else
	fail "bench/minitron missing: build it with CGO_ENABLED=1 go build -o bench/minitron ./cmd/minitron"
fi
if [ -x bench/cuda.test ] && grep -q 'unknown backend "cuda"' "$out"/bench-*.log 2>/dev/null; then
	section "minitron has no cuda backend registered: timing through the test binary"
	t=$(budget 90)
	if ((t >= 20)); then
		(cd backend/cuda && MINITRON_CUDA_SPEED=1 timeout "$t" "$root/bench/cuda.test" -test.v -test.run 'TestSpeedMinitronShape' -test.timeout="$((t - 5))s") >"$out/cuda-speed.log" 2>&1
		grep -E 'prefill 512|FAIL|SKIP|panic|^ok' "$out/cuda-speed.log" | tail -n 10
	else
		echo "skipped: $t s left of the deadline"
	fi
fi

section "verdict"
echo "device: ${device:-none}; ${SECONDS} s"
if [ ${#failures[@]} -eq 0 ] && [ -n "$device" ]; then
	echo "gpu-check: all passed"
	exit 0
fi
[ -z "$device" ] && [ ${#failures[@]} -eq 0 ] && failures+=("no device was opened")
printf '  %s\n' "${failures[@]}"
echo "gpu-check: FAILED"
exit 1
