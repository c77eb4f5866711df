#!/usr/bin/env bash
# Vigil and Prometheus 2.42 side by side (issue 4): one data set loaded into both (Prometheus
# by `promtool tsdb create-blocks-from openmetrics`, Vigil by remote_write), the query set of
# `promcompare run` on both, answers compared, latencies and bytes per sample printed.
# Both servers are pinned to core 1, the client runs on core 0.
#
# usage: benches/promcompare.sh [series, default 5000] [hours, default 24]
#   PROFILE=debug uses debug binaries (agreement only; timings mean nothing then)
#   RUNS=n timed runs per query (default 5; the median is reported)
#   KEEP=1 keeps the work directory (both stores) and prints its path
#
# Queries are timed only once both stores have settled: Vigil compacts at once (min age 0)
# and Prometheus compacts its promtool blocks; the script waits until neither store's files
# have changed for 20 s, so background compaction never shares the core with a timed query.
set -euo pipefail
cd "$(dirname "$0")/.."
series=${1:-5000}
hours=${2:-24}
profile=${PROFILE:-release}
target=${CARGO_TARGET_DIR:-target}
if [ -z "${SKIP_BUILD:-}" ]; then
  if [ "$profile" = release ]; then
    cargo build --release --bin vigil --bin promcompare
  else
    cargo build --bin vigil --bin promcompare
  fi
fi
bin="$target/$profile"
work=$(mktemp -d)
if [ -n "${KEEP:-}" ]; then
  trap 'kill $(jobs -p) 2>/dev/null || true; echo "kept $work"' EXIT
else
  trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
fi
# Waits until the files under $1 (names and sizes) have not changed for 20 s (at most 10 min).
settle() {
  local last="" now same=0
  for _ in $(seq 600); do
    now=$(find "$1" -type f -printf '%p %s\n' 2>/dev/null | sort | md5sum)
    if [ "$now" = "$last" ]; then same=$((same + 1)); else same=0; last=$now; fi
    [ "$same" -ge 20 ] && return 0
    sleep 1
  done
  echo "warning: $1 still changing after 10 min" >&2
}
end=$(( ($(date +%s) / 60) * 60 - 300 ))

VIGIL_DATA_DIR="$work/vigil" VIGIL_HTTP_ADDR=127.0.0.1:19700 VIGIL_OTLP_GRPC_ADDR=127.0.0.1:14317 \
  VIGIL_OTLP_HTTP_ADDR=127.0.0.1:14318 VIGIL_LOG_LEVEL=warn \
  VIGIL_COMPACTION_MIN_AGE=0s VIGIL_COMPACTION_INTERVAL=5s \
  taskset -c 1 "$bin/vigil" serve >"$work/vigil.out" 2>&1 &
for _ in $(seq 100); do curl -sf 127.0.0.1:19700/ready >/dev/null && break; sleep 0.2; done

gen_out=$(taskset -c 0 "$bin/promcompare" gen --series "$series" --hours "$hours" --end "$end" \
  --openmetrics "$work/data.om" --vigil http://127.0.0.1:19700)
echo "$gen_out"
total=$(echo "$gen_out" | sed -n 's/^generated .* = \([0-9]*\) samples$/\1/p')
curl -sf -X POST 127.0.0.1:19700/api/v1/admin/flush >/dev/null

mkdir -p "$work/prom"
promtool tsdb create-blocks-from openmetrics "$work/data.om" "$work/prom" >/dev/null
rm -f "$work/data.om"
printf 'global:\n  scrape_interval: 1h\n' >"$work/prom.yml"
taskset -c 1 prometheus --config.file="$work/prom.yml" --storage.tsdb.path="$work/prom" \
  --storage.tsdb.retention.time=10y --web.listen-address=127.0.0.1:19090 \
  >"$work/prom.out" 2>&1 &
for _ in $(seq 150); do curl -sf 127.0.0.1:19090/-/ready >/dev/null && break; sleep 0.2; done

settle "$work/vigil/store"
settle "$work/prom"
taskset -c 0 "$bin/promcompare" run --vigil http://127.0.0.1:19700 \
  --prometheus http://127.0.0.1:19090 --end "$end" --hours "$hours" --runs "${RUNS:-5}"

vigil_bytes=$(du -sb "$work/vigil/store" | cut -f1)
prom_bytes=$(du -sb --exclude=wal --exclude=chunks_head "$work/prom" | cut -f1)
echo "bytes on disk: vigil $vigil_bytes (store, indexes included), prometheus $prom_bytes (blocks)"
awk -v v="$vigil_bytes" -v p="$prom_bytes" -v n="$total" \
  'BEGIN { printf "bytes per sample over %d samples: vigil %.3f, prometheus %.3f\n", n, v / n, p / n }'
