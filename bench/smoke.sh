#!/usr/bin/env bash
# bench/smoke.sh OUTDIR BENCH [ARGS...] - the bench smoke of one program (CI:
# ctest label "bench"; scripts/bench --smoke): runs BENCH briefly
# (IVCS_BENCH_SMOKE=1, see bench/smoke.h; --benchmark_min_time=0.01) with
# Google Benchmark JSON into OUTDIR/<name>.json, and fails when the program
# fails or crashes, or its JSON is missing, holds no benchmark, or one that
# reported an error (state.SkipWithError: exit status 0, so the JSON is
# what tells). No timing is checked.
set -euo pipefail
out=${1:?usage: bench/smoke.sh OUTDIR BENCH [ARGS...]}
bin=${2:?usage: bench/smoke.sh OUTDIR BENCH [ARGS...]}
shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
name=$(basename "$bin")
mkdir -p "$out"
rm -f "$out/$name.json"
rc=0
IVCS_BENCH_SMOKE=1 timeout --kill-after=10 120 "$bin" --benchmark_min_time=0.01 \
    --benchmark_out="$out/$name.json" --benchmark_out_format=json "$@" || rc=$?
if ((rc != 0)); then
    echo "bench smoke: $name exited with status $rc" >&2
    exit 1
fi
/usr/bin/python3 "$here/../scripts/bench_json.py" check "$out/$name.json"
