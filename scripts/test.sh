#!/usr/bin/env bash
# The whole CI, from a fresh clone: README quick-start command 2, and what .ci/run runs.
#
#   1. setup       install missing Debian packages (scripts/setup.sh)
#   2. build       configure and build everything in build/ (RelWithDebInfo, g++, warnings are
#                  errors, ccache)
#   3. test        ctest in build/ (benchmarks excluded)
#   4. bench       run each benchmark in build/tests/bench briefly, so they at least run
#   5. format      scripts/check-format.sh (clang-format 14)
#   6. asan        build build-asan/ with AddressSanitizer + UndefinedBehaviorSanitizer, run ctest
#   7. fuzz        build build-fuzz/ with clang 14 + libFuzzer, run the record decoder fuzzer for
#                  SLUICE_FUZZ_SECONDS (30) from a seed corpus it generates
# Stops at the first failure, naming the stage, with a non-zero exit; prints the time per stage.
#
# Environment:
#   CI=true              passed through to the tests (they may shorten their longest loops)
#   SLUICE_JOBS          parallel build and test jobs (default 2)
#   SLUICE_FUZZ_SECONDS  fuzzing time (default 30)
#   SLUICE_BUILD_LOCK    a file; when set, every build and heavy step runs under `flock` on it,
#                        for machines where several people share the cores
#   SLUICE_BUILD_ROOT    name of the main build folder (default build); the others are named
#                        <it>-asan and <it>-fuzz
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -n "${CI:-}" ]]; then export CI; fi
jobs=${SLUICE_JOBS:-2}
fuzz_seconds=${SLUICE_FUZZ_SECONDS:-30}
build=${SLUICE_BUILD_ROOT:-build}
build_asan=$build-asan
build_fuzz=$build-fuzz
heavy=()
if [[ -n "${SLUICE_BUILD_LOCK:-}" ]]; then heavy=(flock "$SLUICE_BUILD_LOCK"); fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# A test that outlives this many seconds fails (tests may set a TIMEOUT property of their own).
ctest_timeout=600

stage_names=()
stage_seconds=()
current_stage=""
stage_started=0
run_started=$SECONDS

summary() {
  local i
  echo
  echo "== timing"
  for i in "${!stage_names[@]}"; do
    printf '  %-8s %4ds\n' "${stage_names[$i]}" "${stage_seconds[$i]}"
  done
  printf '  %-8s %4ds\n' "total" "$((SECONDS - run_started))"
}

end_stage() {
  if [[ -n "$current_stage" ]]; then
    stage_names+=("$current_stage")
    stage_seconds+=("$((SECONDS - stage_started))")
  fi
  current_stage=""
}

bench_servers=$PWD/$build/bench-servers
bench_servers_started=0
stop_bench_servers() {
  [[ $bench_servers_started -eq 1 ]] || return 0
  bench_servers_started=0
  ./scripts/postgres-test-server.sh stop "$bench_servers/postgres" >/dev/null 2>&1 || true
  ./scripts/rabbitmq-test-server.sh stop "$bench_servers/rabbitmq" >/dev/null 2>&1 || true
}

on_exit() {
  local rc=$? failed_stage=$current_stage
  stop_bench_servers
  end_stage
  summary
  if [[ $rc -ne 0 ]]; then
    echo "test.sh: FAILED in stage '${failed_stage:-?}' (exit $rc); see the output above" >&2
  else
    echo "test.sh: all stages passed"
  fi
  exit $rc
}
trap on_exit EXIT

begin() {
  end_stage
  current_stage=$1
  stage_started=$SECONDS
  echo
  echo "== $1: $2"
}

# --- 1. setup
begin setup "installing missing packages"
./scripts/setup.sh

# --- 2. build
begin build "configure and build $build/ (RelWithDebInfo)"
"${heavy[@]}" cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
"${heavy[@]}" cmake --build "$build" -j"$jobs"

# --- 3. test
begin test "ctest in $build/"
"${heavy[@]}" ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout "$ctest_timeout" \
  --label-exclude bench --exclude-regex '^bench[._]'

# --- 4. bench
begin bench "each benchmark in $build/tests/bench, briefly"
benchmarks=()
if [[ -d "$build/tests/bench" ]]; then
  mapfile -t benchmarks < <(find "$build/tests/bench" -maxdepth 1 -type f -executable | sort)
fi
if [[ ${#benchmarks[@]} -eq 0 ]]; then
  echo "no benchmarks built"
fi
# Throwaway PostgreSQL and RabbitMQ servers for the benchmarks that compare against them (the
# tests' fixtures start their own); stopped when the stage ends, or by on_exit.
if [[ ${#benchmarks[@]} -gt 0 ]]; then
  bench_servers_started=1
  mkdir -p "$bench_servers"
  if ./scripts/postgres-test-server.sh start "$bench_servers/postgres" 55329; then
    export SLUICE_BENCH_POSTGRES_URL=postgresql://sluice@127.0.0.1:55329/sluice_test
  fi
  if ./scripts/rabbitmq-test-server.sh start "$bench_servers/rabbitmq" 5689; then
    export SLUICE_BENCH_AMQP_URL=amqp://guest:guest@127.0.0.1:5689/%2F
  fi
fi
for benchmark in "${benchmarks[@]}"; do
  echo "-- $benchmark"
  "${heavy[@]}" env SLUICE_BENCH_QUICK=1 "$benchmark" --benchmark_min_time=0.05
done
stop_bench_servers
unset SLUICE_BENCH_POSTGRES_URL SLUICE_BENCH_AMQP_URL

# --- 5. format
begin format "clang-format 14"
./scripts/check-format.sh

# --- 6. asan
begin asan "AddressSanitizer + UndefinedBehaviorSanitizer build and ctest in $build_asan/"
"${heavy[@]}" cmake -S . -B "$build_asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSLUICE_SANITIZE=ON -DSLUICE_BUILD_BENCHMARKS=OFF
"${heavy[@]}" cmake --build "$build_asan" -j"$jobs"
"${heavy[@]}" ctest --test-dir "$build_asan" --output-on-failure -j"$jobs" --timeout "$ctest_timeout" \
  --label-exclude bench --exclude-regex '^bench[._]'

# --- 7. fuzz
begin fuzz "libFuzzer (clang 14) on the record decoder, ${fuzz_seconds}s"
fuzz_flags="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer"
"${heavy[@]}" env CC=clang-14 CXX=clang++-14 cmake -S . -B "$build_fuzz" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_BUILD_FUZZERS=ON \
  -DSLUICE_BUILD_BENCHMARKS=OFF -DSLUICE_BUILD_EXAMPLES=OFF \
  "-DCMAKE_CXX_FLAGS=$fuzz_flags"
"${heavy[@]}" cmake --build "$build_fuzz" -j"$jobs" --target record_decoder_fuzz record_decoder_seeds
corpus=$build_fuzz/corpus/record_decoder
artifacts=$build_fuzz/artifacts/record_decoder/
rm -rf "$corpus" "$artifacts"
mkdir -p "$corpus" "$artifacts"
"$build_fuzz"/tests/fuzz/record_decoder_seeds "$corpus"
"${heavy[@]}" "$build_fuzz"/tests/fuzz/record_decoder_fuzz -max_total_time="$fuzz_seconds" \
  -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$artifacts" "$corpus"

end_stage
