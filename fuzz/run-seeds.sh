#!/usr/bin/env bash
# fuzz/run-seeds.sh OUT - runs every fuzzer fuzz/build.sh put in OUT over its
# unzipped NAME_seed_corpus.zip once (-runs=0: each input, no mutation),
# with its NAME.dict when there is one, as OSS-Fuzz's build check does.
# Fails when a fuzzer crashes, its corpus is missing or empty, or OUT holds
# no fuzzer.
set -euo pipefail
out=${1:?usage: fuzz/run-seeds.sh OUT}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ivcs-fuzz-seeds.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0
status=0
for bin in "$out"/fuzz_*; do
    [[ -x "$bin" && -f "$bin" ]] || continue
    name=$(basename "$bin")
    zipf="$out/${name}_seed_corpus.zip"
    if [[ ! -s "$zipf" ]]; then
        echo "$name: no seed corpus ($zipf)" >&2
        status=1
        continue
    fi
    mkdir -p "$tmp/$name"
    unzip -q -o "$zipf" -d "$tmp/$name"
    args=(-runs=0 -timeout=25 -rss_limit_mb=2048)
    [[ -f "$out/$name.dict" ]] && args+=(-dict="$out/$name.dict")
    if ! timeout 300 "$bin" "${args[@]}" "$tmp/$name" >"$tmp/$name.log" 2>&1; then
        echo "$name: FAILED on its seed corpus:" >&2
        tail -n 40 "$tmp/$name.log" >&2
        status=1
        continue
    fi
    grep -m1 -o 'INITED.*' "$tmp/$name.log" | sed "s/^/$name: /" || echo "$name: ok"
    n=$((n + 1))
done
if ((n == 0 && status == 0)); then
    echo "no fuzzers in $out" >&2
    exit 1
fi
exit "$status"
