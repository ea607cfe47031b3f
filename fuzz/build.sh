#!/usr/bin/env bash
# fuzz/build.sh - builds every fuzz/fuzz_<name>.c harness the way OSS-Fuzz
# and ClusterFuzzLite expect (their build.sh convention), without CMake:
#
#   CC=clang CFLAGS=-fsanitize=fuzzer-no-link LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
#       OUT=/tmp/out fuzz/build.sh
#
# Inputs (environment): CC, CFLAGS (the engine's sanitizer flags go here,
# e.g. "-fsanitize=address,fuzzer-no-link"), CXX (links when set: libFuzzer
# is C++; else CC links), CXXFLAGS (unused: ivcs is C), LIB_FUZZING_ENGINE
# (the fuzzing engine's link flags), OUT (where the results go), WORK
# (scratch; a temporary folder by default).
# Outputs in $OUT, for each harness fuzz_<name>:
#   fuzz_<name>                    the fuzzer binary
#   fuzz_<name>_seed_corpus.zip    fuzz/corpus/<name>/ (flat)
#   fuzz_<name>.dict               fuzz/<dict>.dict when one fits the input
#                                  (HTTP, XML, JSON, NAL units)
# The engine is compiled once into $WORK/libivcs_fuzz.a with $CC $CFLAGS;
# the system libraries it uses (OpenSSL, cJSON, expat, liburing if present,
# jemalloc, vo-aacenc) are linked as installed (pkg-config).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${CC:=clang}"
: "${CFLAGS:=-fsanitize=fuzzer-no-link}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}"
: "${OUT:?set OUT to the output folder}"
link=${CXX:-$CC}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd) # absolute: the corpora are zipped from their folder
own_work=0
if [[ -z "${WORK:-}" ]]; then
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/ivcs-fuzz-build.XXXXXX")
    own_work=1
fi
obj="$WORK/ivcs-obj"
rm -rf "$obj"
mkdir -p "$obj"
cleanup() { if ((own_work)); then rm -rf "$WORK"; fi; }
trap cleanup EXIT

# Which harness takes which dictionary: fuzz/targets.txt.
dict_for() { awk -v n="$1" '$1 == n && $2 != "-" { print $2 }' "$src/fuzz/targets.txt"; }

pkgs="expat libcjson openssl jemalloc vo-aacenc"
defs=(-D_GNU_SOURCE -DIVCS_VERSION_STRING="\"fuzz\"")
sources=("$src"/engine/*/*.c "$src"/api/*.c)
if pkg-config --exists liburing; then
    pkgs="$pkgs liburing"
    skip=/engine/net/loop_uring_off.c
else
    defs+=(-DIVCS_IO_URING_OFF=1)
    skip=/engine/net/loop_uring.c
fi
# Parsers outside the engine library that a harness needs (the same list
# as IVCS_FUZZ_EXTRA_* in fuzz/CMakeLists.txt).
sources+=("$src/tools/timearg.c")
# shellcheck disable=SC2086 # the flag lists are word lists
read -r -a pkg_cflags <<<"$(pkg-config --cflags $pkgs)"
# shellcheck disable=SC2086
read -r -a pkg_libs <<<"$(pkg-config --libs $pkgs)"
read -r -a cflags <<<"$CFLAGS"
read -r -a engine <<<"$LIB_FUZZING_ENGINE"
common=(-std=c11 -g "${defs[@]}" -I"$src/api/include" -I"$src" "${pkg_cflags[@]}" "${cflags[@]}")

jobs=$(nproc 2>/dev/null || echo 1)
objs=()
for s in "${sources[@]}"; do
    [[ "$s" == *"$skip" ]] && continue
    rel=${s#"$src"/}
    o="$obj/${rel//\//_}.o"
    objs+=("$o")
    while (($(jobs -rp | wc -l) >= jobs)); do sleep 0.1; done
    { "$CC" "${common[@]}" -c "$s" -o "$o" || rm -f "$o"; } &
done
wait
for o in "${objs[@]}"; do
    [[ -s "$o" ]] || { echo "fuzz/build.sh: compiling failed (${o##*/})" >&2; exit 1; }
done
rm -f "$WORK/libivcs_fuzz.a"
ar rcs "$WORK/libivcs_fuzz.a" "${objs[@]}"

built=0
for h in "$src"/fuzz/fuzz_*.c; do
    bin=$(basename "$h" .c)
    name=${bin#fuzz_}
    "$CC" "${common[@]}" -c "$h" -o "$WORK/$bin.o"
    "$link" "${cflags[@]}" "$WORK/$bin.o" "${engine[@]}" "$WORK/libivcs_fuzz.a" \
        "${pkg_libs[@]}" -lpthread -lm -o "$OUT/$bin"
    if [[ -d "$src/fuzz/corpus/$name" ]]; then
        rm -f "$OUT/${bin}_seed_corpus.zip"
        (cd "$src/fuzz/corpus/$name" && zip -q -X -r "$OUT/${bin}_seed_corpus.zip" .)
    fi
    d=$(dict_for "$name")
    if [[ -n "$d" ]]; then cp "$src/fuzz/$d.dict" "$OUT/$bin.dict"; fi
    built=$((built + 1))
done
echo "fuzz/build.sh: $built fuzzers in $OUT"
