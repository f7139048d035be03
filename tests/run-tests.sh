#!/bin/sh
# Runs every test program given as an argument, each with a deadline, and
# ends with one summary line "N passed, N failed" counting test cases
# (cmocka's own counts; a program without them counts as one case).
# Exit 0 only when every program passed.
set -u
: "${BUILD:=build}"
: "${TEST_TIMEOUT:=600}"
export BR_BIN="${BR_BIN:-$BUILD/bucketbridge}"
export BR_SHARED_FIXTURES="${BR_SHARED_FIXTURES:-../shared/fixtures}"
# The shared fixtures sit beside the checkout in CI, where they must be
# there; a clone on its own runs the project's own cases only.
if [ ! -d "$BR_SHARED_FIXTURES" ] && [ "${CI:-}" != true ]; then
        echo "note: $BR_SHARED_FIXTURES not found: shared fixtures skipped"
        export BR_SKIP_SHARED=1
fi
passed=0
failed=0
failed_names=""
log_dir="$BUILD/test-logs"
mkdir -p "$log_dir"
for t in "$@"; do
        name=$(basename "$t")
        log="$log_dir/$name.log"
        start=$(date +%s)
        timeout -k 10 "$TEST_TIMEOUT" "$t" >"$log" 2>&1
        rc=$?
        secs=$(( $(date +%s) - start ))
        p=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
        f=$(sed -n 's/.*\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
        if [ "$p" = 0 ] && [ "$f" = 0 ]; then
                if [ $rc = 0 ]; then p=1; else f=1; fi
        elif [ $rc != 0 ] && [ "$f" = 0 ]; then
                f=1 # crashed or timed out after its cases
        fi
        passed=$((passed + p))
        failed=$((failed + f))
        if [ $rc = 0 ]; then
                printf 'ok    %-28s %4s cases  %3ss\n' "$name" "$p" "$secs"
        else
                printf 'FAIL  %-28s exit %s (log: %s)\n' "$name" "$rc" "$log"
                tail -n 40 "$log" | sed 's/^/      | /'
                failed_names="$failed_names $name"
        fi
done
[ -z "$failed_names" ] || echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ -z "$failed_names" ]
