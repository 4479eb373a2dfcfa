#!/usr/bin/env bash
# tests/fuzz/build.sh [fuzz|replay] OUTDIR — build every fuzz target.
#
#   fuzz    libFuzzer binaries: clang -fsanitize=fuzzer,address,undefined
#   replay  the same targets with tests/fuzz/replay_main.c as main(), no
#           libFuzzer: -fsanitize=address,undefined (clang, or $CC if no
#           clang is installed). Run as OUTDIR/fuzz_x DIR|FILE... (TAP).
#
# Compiles the daemon's sources (fcgi/*.c except main.c) itself into
# OUTDIR/obj with the sanitizer flags; the Makefile's objects are not used.
# Environment: FUZZ_CC overrides the compiler; FUZZ_CFLAGS adds flags.
set -euo pipefail

mode=${1:-}
out=${2:-}
if [[ -z $mode || -z $out || ( $mode != fuzz && $mode != replay ) ]]; then
    echo "usage: $0 fuzz|replay OUTDIR" >&2
    exit 2
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

if [[ $mode == fuzz ]]; then
    cc=${FUZZ_CC:-clang}
    obj_san="-fsanitize=fuzzer-no-link,address,undefined"
    link_san="-fsanitize=fuzzer,address,undefined"
else
    cc=${FUZZ_CC:-$(command -v clang || echo "${CC:-cc}")}
    obj_san="-fsanitize=address,undefined"
    link_san="-fsanitize=address,undefined"
fi

jsonc_cflags=$(pkg-config --cflags json-c 2>/dev/null || true)
jsonc_libs=$(pkg-config --libs json-c 2>/dev/null || echo -ljson-c)
pq_inc=-I$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)

cflags="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
        -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=all
        $jsonc_cflags $pq_inc -Ifcgi -I$out/gen ${FUZZ_CFLAGS:-}"
libs="-lfcgi -lpq $jsonc_libs -lssl -lcrypto"
targets=(fuzz_request fuzz_jwt fuzz_fingerprint)

mkdir -p "$out/obj"

# The named statement table (fcgi/store/sql.h), then the daemon's sources, in parallel.
scripts/gen-sql "$out/gen"
lib_srcs=("$out/gen/sql_table.c")
while IFS= read -r src; do
    # the daemon's main(), and zerosum-verify (a program of its own)
    [[ $src == fcgi/main.c || $src == fcgi/verify/* ]] || lib_srcs+=("$src")
done < <(find fcgi -name '*.c' | sort)
export cc cflags obj_san out
printf '%s\n' "${lib_srcs[@]}" | xargs -P "$(nproc 2>/dev/null || echo 2)" -I{} sh -c '
    src={}; o="$out/obj/$(printf %s "${src%.c}" | tr / _).o"
    $cc $cflags $obj_san -c "$src" -o "$o"' || { echo "build.sh: compiling fcgi/ failed" >&2; exit 1; }
lib_objs=()
for src in "${lib_srcs[@]}"; do
    o=${src%.c}
    lib_objs+=("$out/obj/${o//\//_}.o") # fcgi/api/market.c and fcgi/domain/market.c apart
done

extra=()
if [[ $mode == replay ]]; then
    $cc $cflags $obj_san -c tests/fuzz/replay_main.c -o "$out/obj/replay_main.o"
    extra=("$out/obj/replay_main.o")
fi

for t in "${targets[@]}"; do
    $cc $cflags $obj_san -c "tests/fuzz/$t.c" -o "$out/obj/$t.o"
    # shellcheck disable=SC2086
    $cc $cflags $link_san -o "$out/$t" "$out/obj/$t.o" "${extra[@]}" "${lib_objs[@]}" $libs
done
echo "build.sh: built ${targets[*]} ($mode) in $out with $cc"
