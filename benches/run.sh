#!/usr/bin/env bash
# Ingest benchmark: a release build of Vigil pinned to core 1, the load generator on core 0.
# For each signal and protocol: a fresh data directory; the load generator builds its pool of
# distinct, gzipped requests on every core (the server idle), then pins itself to core 0, sends
# the first 200 requests (6,000 for metrics; flushed, to measure bytes per item on disk), then the timed run, never
# sending a request twice. Prints one line per figure. A last logs run measures the bytes once
# compaction has rewritten 2M records (no timed run).
#
# usage: benches/run.sh [duration, default 100s: long enough that several head flushes fall inside]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-100s}
target=${CARGO_TARGET_DIR:-target}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --bin vigil --bin loadgen
vigil="$target/release/vigil"
loadgen="$target/release/loadgen"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

run() { # signal protocol extra-loadgen-args...
  local signal=$1 protocol=$2; shift 2
  local dir="$work/$signal-$protocol"
  mkdir -p "$dir"
  env VIGIL_DATA_DIR="$dir" VIGIL_OTLP_GRPC_ADDR=127.0.0.1:14317 VIGIL_OTLP_HTTP_ADDR=127.0.0.1:14318 \
    VIGIL_HTTP_ADDR=127.0.0.1:19700 VIGIL_FLUSH_AGE=1h VIGIL_LOG_LEVEL=warn ${server_env:-} \
    taskset -c 1 "$vigil" serve >"$dir.out" 2>"$dir.err" &
  local pid=$!
  for _ in $(seq 100); do curl -sf 127.0.0.1:19700/ready >/dev/null && break; sleep 0.1; done
  "$loadgen" --pin-core 0 --signal "$signal" --protocol "$protocol" \
    --grpc http://127.0.0.1:14317 --otlp-http http://127.0.0.1:14318 --api http://127.0.0.1:19700 \
    --data-dir "$dir" --duration "$duration" "$@"
  kill -TERM "$pid"; wait "$pid" || true
  rm -rf "$dir"
}

echo "# $(date -u +%FT%TZ) $(uname -m) $(nproc) cores; server on core 1, loadgen on core 0"
run logs grpc --batch 1000
run logs http --batch 1000
run logs grpc --batch 1000 --trace-context
run logs loki --batch 1000
# Logs as compaction leaves them: 2,000 requests (2M records) flushed, then compacted into one
# segment with the bodies at compaction's zstd level; no timed run.
server_env="VIGIL_COMPACTION_MIN_AGE=0s VIGIL_COMPACTION_INTERVAL=5s" \
  run logs grpc --batch 1000 --disk-requests 2000 --requests 2000 --compacted
run traces grpc --batch 1000
run traces http --batch 1000
# Metrics: 100,000 series (50 requests a round); 6,000 requests (120 points a series) before the
# flush that measures bytes per point.
run metrics grpc --batch 2000 --disk-requests 6000
run metrics http --batch 2000 --disk-requests 6000
