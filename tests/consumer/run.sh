#!/usr/bin/env bash
# run.sh BUILD_DIR CONSUMER_DIR CC CXX "EXTRA_FLAGS"
#
# Installs BUILD_DIR (cmake --install) into a temporary prefix, then builds
# consumer.c against that prefix three ways and runs each program:
#   1. CMake: find_package(ivcs) + ivcs::ivcs (shared)
#   2. CMake: find_package(ivcs) + ivcs::ivcs_static
#   3. cc $(pkg-config --cflags --libs ivcs) with PKG_CONFIG_PATH at the prefix:
#      without more, the program cannot load libivcs.so.0 (the prefix is not
#      in the loader's path); with LD_LIBRARY_PATH, or linked with
#      -Wl,-rpath,$(pkg-config --variable=libdir ivcs), it can (README)
#   4. static from pkg-config --static (the README's line)
# and checks the installed tree: headers compile as C++, libivcs.so exports
# only iv_cs_*/ivcs_* symbols, the programs load the library from the prefix.
set -euo pipefail

build=$1
here=$2
cc=$3
cxx=$4
extra=${5:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/ivcs-consumer.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
log="$work/log"

step() { echo "--- $*"; }
die() {
    echo "FAIL: $*" >&2
    [[ -s "$log" ]] && tail -50 "$log" >&2
    exit 1
}

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$log" 2>&1 || die "cmake --install"
for h in iv_cm.h iv_err.h iv_cs.h ivcs.h ivcs_err.h ivcs_base.h ivcs_config.h ivcs_viewer.h; do
    [[ -f "$prefix/include/ivcs/$h" ]] || die "header $h not installed"
done
libdir=$(dirname "$(find "$prefix" -name 'libivcs.so' | head -1)")
[[ -n "$libdir" && -e "$libdir/libivcs.so" ]] || die "libivcs.so not installed"
[[ -e "$libdir/libivcs.a" ]] || die "libivcs.a not installed"
[[ -f "$libdir/pkgconfig/ivcs.pc" ]] || die "ivcs.pc not installed"
[[ -f "$libdir/cmake/ivcs/ivcsConfig.cmake" ]] || die "ivcsConfig.cmake not installed"
[[ -x "$prefix/bin/ivcs" ]] || die "ivcs CLI not installed"

step "installed ivcs CLI runs"
"$prefix/bin/ivcs" version >"$log" 2>&1 || die "ivcs version"
grep -q '^ivcs [0-9]*\.[0-9]*\.[0-9]*$' "$log" || die "ivcs version printed: $(cat "$log")"

step "libivcs.so exports only the public API"
bad=$(nm -D --defined-only "$libdir/libivcs.so" | awk '$2 != "A" {print $3}' |
    sed 's/@.*//' | grep -Ev '^(iv_cs_|ivcs_)' || true)
[[ -z "$bad" ]] || die "unexpected exported symbols: $(echo $bad | head -c 400)"
syms=$(nm -D --defined-only "$libdir/libivcs.so")
grep -q ' ivcs_version' <<<"$syms" || die "ivcs_version not exported"
grep -q ' ivcs_viewer_list_slices' <<<"$syms" || die "the viewer API (ivcs_viewer.h) is not exported"
soname=$(objdump -p "$libdir/libivcs.so" | awk '/SONAME/ {print $2}')
[[ "$soname" =~ ^libivcs\.so\.[0-9]+$ ]] || die "SONAME is '$soname'"

step "installed headers compile as C++"
printf '#include "iv_cs.h"\n#include "ivcs.h"\n#include "ivcs_viewer.h"\nint main() { return ivcs_strerror(0) == nullptr; }\n' \
    >"$work/cxx.cc"
"$cxx" -std=c++17 -Wall -Wextra -Werror -fsyntax-only -I "$prefix/include/ivcs" "$work/cxx.cc" \
    >"$log" 2>&1 || die "headers as C++"

step "CMake find_package(ivcs): shared and static"
# shellcheck disable=SC2086
cmake -S "$here/project" -B "$work/cmake-build" -G Ninja \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCONSUMER_SOURCE="$here/consumer.c" \
    -DCMAKE_C_FLAGS="$extra" -DCMAKE_EXE_LINKER_FLAGS="$extra" >"$log" 2>&1 || die "cmake configure"
grep -q "ivcs_DIR" "$work/cmake-build/CMakeCache.txt" || die "find_package did not record ivcs_DIR"
grep -q "ivcs_DIR:PATH=$prefix" "$work/cmake-build/CMakeCache.txt" || die "ivcs found outside the prefix"
cmake --build "$work/cmake-build" >"$log" 2>&1 || die "cmake build"
for exe in consumer_shared consumer_static; do
    "$work/cmake-build/$exe" >"$log" 2>&1 || die "$exe failed"
    grep -q "^ivcs " "$log" || die "$exe printed nothing"
    echo "    $exe: $(head -1 "$log")"
done
# (ldd output is captured first: grep -q may exit early and, with pipefail,
# a SIGPIPE'd ldd would fail the pipeline.)
deps=$(ldd "$work/cmake-build/consumer_shared")
grep -q "$libdir/libivcs.so" <<<"$deps" ||
    die "consumer_shared does not load libivcs from the prefix: $deps"
deps=$(ldd "$work/cmake-build/consumer_static")
if grep -q libivcs <<<"$deps"; then
    die "consumer_static depends on libivcs.so"
fi

step "pkg-config ivcs"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$(pkg-config --cflags --libs ivcs) || die "pkg-config"
[[ "$flags" == *"-I$prefix/include/ivcs"* ]] || die "pkg-config --cflags points elsewhere: $flags"
[[ "$(pkg-config --modversion ivcs)" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "pkg-config --modversion"
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror $extra -o "$work/consumer_pc" "$here/consumer.c" $flags \
    >"$log" 2>&1 || die "cc with pkg-config flags"
LD_LIBRARY_PATH="$libdir" "$work/consumer_pc" >"$log" 2>&1 || die "consumer_pc failed"
echo "    consumer_pc: $(head -1 "$log")"
deps=$(LD_LIBRARY_PATH="$libdir" ldd "$work/consumer_pc")
grep -q "$libdir/libivcs.so" <<<"$deps" || die "consumer_pc does not load libivcs from the prefix: $deps"
# what the README says: without LD_LIBRARY_PATH or an rpath it cannot load
if env -u LD_LIBRARY_PATH "$work/consumer_pc" >"$log" 2>&1; then
    die "consumer_pc ran without LD_LIBRARY_PATH: the README's hint would be wrong"
fi
grep -q "libivcs.so.0" "$log" || die "consumer_pc failed for another reason: $(cat "$log")"

step "pkg-config ivcs + -Wl,-rpath,\$(pkg-config --variable=libdir ivcs) (README)"
rp=$(pkg-config --variable=libdir ivcs)
[[ "$rp" == "$libdir" ]] || die "pkg-config libdir is $rp, not $libdir"
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror $extra -o "$work/consumer_rpath" "$here/consumer.c" $flags \
    -Wl,-rpath,"$rp" >"$log" 2>&1 || die "cc with pkg-config flags and rpath"
env -u LD_LIBRARY_PATH "$work/consumer_rpath" >"$log" 2>&1 || die "consumer_rpath failed: $(cat "$log")"
echo "    consumer_rpath: $(head -1 "$log")"
deps=$(env -u LD_LIBRARY_PATH ldd "$work/consumer_rpath")
grep -q "$libdir/libivcs.so" <<<"$deps" || die "consumer_rpath does not load libivcs from the prefix: $deps"

step "static from pkg-config --static (README)"
sflags=$(pkg-config --static --libs ivcs) || die "pkg-config --static"
[[ "$sflags" == *"-livcs "* ]] || die "pkg-config --static --libs: $sflags"
[[ "$sflags" == *"-lvo-aacenc"* ]] || die "pkg-config --static --libs lacks -lvo-aacenc: $sflags"
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror $extra -o "$work/consumer_pc_static" "$here/consumer.c" \
    $(pkg-config --cflags ivcs) $(sed 's/-livcs /-l:libivcs.a /' <<<"$sflags") \
    >"$log" 2>&1 || die "cc with pkg-config --static"
env -u LD_LIBRARY_PATH "$work/consumer_pc_static" >"$log" 2>&1 || die "consumer_pc_static failed"
echo "    consumer_pc_static: $(head -1 "$log")"
deps=$(ldd "$work/consumer_pc_static")
if grep -q libivcs <<<"$deps"; then
    die "consumer_pc_static depends on libivcs.so"
fi

echo "install.consumer: all checks passed"
