#!/bin/bash
# Side-by-side benchmark: bucketbridge against the baselines of
# ../shared/bench (mock broker, nginx sink, Python and Node.js bridges).
# Usage: bench/run.sh [run.sh options] [other presets...]
#   e.g. bench/run.sh -n 20000 -r 2 node py
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
shared=${BENCH_SHARED:-$top/../shared/bench}
[[ -x $shared/run.sh ]] || { echo "bench: $shared/run.sh not found" >&2; exit 2; }
make -C "$top" -s build/bucketbridge
exec "$shared/run.sh" "$@" \
    --bridge bucketbridge "$top/build/bucketbridge run -c $here/bucketbridge.yaml"
