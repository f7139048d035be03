#!/bin/sh
# libFuzzer runs (make fuzz): run-libfuzzer.sh SECONDS [NAME...]
# builds every tests/fuzz/fuzz_<name>.c (or only the NAMEs given) with
# clang's fuzzer, ASan and UBSan, together with the library sources compiled
# by clang into build-fuzz/ (build/libbridge.a is gcc without coverage),
# then runs each for SECONDS seconds on tests/fuzz/corpus/<name>/.
# New inputs go to build-fuzz/corpus-<name>/, never into the committed
# corpus; crashes go to tests/fuzz/crashes/<name>-*.  Exits 1 when any
# harness failed to build or found a crash, leak or timeout.
#
# To fold new finds into the committed corpus, minimised:
#   build-fuzz/fuzz_<name> -merge=1 tests/fuzz/corpus/<name> \
#       build-fuzz/corpus-<name>
set -u
secs=${1:-60}
[ $# -gt 0 ] && shift
only="$*"
cd "$(dirname "$0")/../.." || exit 1

CC=${FUZZ_CC:-clang}
OUT=build-fuzz
PKGS="rdkafka libcurl json-c yaml-0.1 libmicrohttpd"
VERSION=$(cat VERSION 2>/dev/null || echo 0.0.0)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -I. \
$(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -lpthread"

mkdir -p "$OUT/obj" tests/fuzz/crashes
objs=""
for src in bridge/*.c adapters/*.c; do
        [ "$src" = bridge/main.c ] && continue
        obj="$OUT/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')"
        # shellcheck disable=SC2086
        $CC $CFLAGS $SAN -fsanitize=fuzzer-no-link \
            -DBR_VERSION="\"$VERSION\"" -c -o "$obj" "$src" || {
                echo "run-libfuzzer: cannot build $src" >&2
                exit 1
        }
        objs="$objs $obj"
done
# An archive, as the Makefile links: only the objects a harness needs.
rm -f "$OUT/libbridge.a"
# shellcheck disable=SC2086
ar rcs "$OUT/libbridge.a" $objs || exit 1

failed=""
for harness in tests/fuzz/fuzz_*.c; do
        [ -e "$harness" ] || continue
        name=$(basename "$harness" .c)
        name=${name#fuzz_}
        case " ${only:-$name} " in
        *" $name "*) ;;
        *) continue ;;
        esac
        bin="$OUT/fuzz_$name"
        # shellcheck disable=SC2086
        if ! $CC $CFLAGS $SAN -fsanitize=fuzzer -o "$bin" "$harness" \
            "$OUT/libbridge.a" $LIBS; then
                failed="$failed $name(build)"
                continue
        fi
        mkdir -p "$OUT/corpus-$name" "tests/fuzz/corpus/$name"
        before=$(ls tests/fuzz/crashes | grep -c "^$name-")
        echo "run-libfuzzer: $name for ${secs}s"
        "$bin" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
            -artifact_prefix="tests/fuzz/crashes/$name-" \
            "$OUT/corpus-$name" "tests/fuzz/corpus/$name" \
            >"$OUT/$name.log" 2>&1
        rc=$?
        after=$(ls tests/fuzz/crashes | grep -c "^$name-")
        tail -n 12 "$OUT/$name.log"
        if [ $rc != 0 ] || [ "$after" != "$before" ]; then
                failed="$failed $name"
                echo "run-libfuzzer: $name FAILED (log: $OUT/$name.log)"
        fi
done
if [ -n "$failed" ]; then
        echo "run-libfuzzer: failed:$failed"
        exit 1
fi
echo "run-libfuzzer: no crashes"
