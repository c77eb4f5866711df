#!/usr/bin/env bash
# Vigil and Prometheus 2.42 side by side (issues 4 and 15): one data set written to both live by
# remote_write, in time order as scrapes produce it (jittered scrape times, counters with
# varying increments and resets, gauges and histogram sums with many digits, targets that go
# away with stale markers, new ones in their place), then the query set of `promcompare run` on
# both, answers compared and latencies printed, in three states of Vigil:
#   1. as written: the newest data in Vigil's head (Prometheus's newest hours are in its head);
#   2. flushed: everything in segments, recent samples in Vigil's hot window;
#   3. flushed, hot window off (VIGIL_QUERY_HOT_WINDOW=0s): every read from segments.
# Then the bytes per sample of both: Vigil's store after the flush (indexes included), and
# Prometheus's blocks over the samples they hold (from their meta.json).
# Both servers are pinned to core 1, the client runs on core 0.
#
# usage: benches/promcompare.sh [series, default 5000] [hours, default 24]
#   PROFILE=debug uses debug binaries (agreement only; timings mean nothing then)
#   RUNS=n timed runs per query (default 5; the median is reported)
#   KEEP=1 keeps the work directory (both stores) and prints its path
#
# Queries are timed only once both stores have settled (no file changed for 20 s), so
# background compaction never shares the core with a timed query.
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

start_vigil() { # extra environment assignments...
  env VIGIL_DATA_DIR="$work/vigil" VIGIL_HTTP_ADDR=127.0.0.1:19700 \
    VIGIL_OTLP_GRPC_ADDR=127.0.0.1:14317 VIGIL_OTLP_HTTP_ADDR=127.0.0.1:14318 VIGIL_LOG_LEVEL=warn \
    VIGIL_COMPACTION_MIN_AGE=0s VIGIL_COMPACTION_INTERVAL=5s "$@" \
    taskset -c 1 "$bin/vigil" serve >>"$work/vigil.out" 2>&1 &
  vigil_pid=$!
  for _ in $(seq 300); do curl -sf 127.0.0.1:19700/ready >/dev/null && return 0; sleep 0.2; done
  echo "vigil did not become ready" >&2; exit 1
}
# Flushes by size only while phase 1 runs (at the default of 5 min, the age would flush the head
# in the middle of it); the head then holds the newest hours, as Prometheus's does.
start_vigil VIGIL_FLUSH_AGE=1h

mkdir -p "$work/prom"
printf 'global:\n  scrape_interval: 1h\n' >"$work/prom.yml"
taskset -c 1 prometheus --config.file="$work/prom.yml" --storage.tsdb.path="$work/prom" \
  --storage.tsdb.retention.time=10y --web.listen-address=127.0.0.1:19090 \
  --web.enable-remote-write-receiver >"$work/prom.out" 2>&1 &
for _ in $(seq 150); do curl -sf 127.0.0.1:19090/-/ready >/dev/null && break; sleep 0.2; done

live_out=$(taskset -c 0 "$bin/promcompare" live --series "$series" --hours "$hours" --end "$end" \
  --to http://127.0.0.1:19700 --to http://127.0.0.1:19090)
echo "$live_out"
total=$(echo "$live_out" | sed -n 's/^wrote [0-9]* series, \([0-9]*\) samples.*/\1/p')

run() { # label
  settle "$work/vigil/store"
  settle "$work/prom"
  taskset -c 0 "$bin/promcompare" run --vigil http://127.0.0.1:19700 \
    --prometheus http://127.0.0.1:19090 --end "$end" --hours "$hours" --runs "${RUNS:-5}" \
    --label "$1: "
}
run "as written (newest data in the head)"
curl -sf -X POST 127.0.0.1:19700/api/v1/admin/flush >/dev/null
run "flushed, hot window on"
kill -TERM "$vigil_pid"; wait "$vigil_pid" || true
start_vigil VIGIL_QUERY_HOT_WINDOW=0s
run "flushed, hot window off"

vigil_bytes=$(du -sb "$work/vigil/store" | cut -f1)
read -r prom_bytes prom_samples < <(python3 - "$work/prom" <<'PY'
import json, os, sys
root = sys.argv[1]
size = samples = 0
for d in os.listdir(root):
    meta = os.path.join(root, d, "meta.json")
    if not os.path.isfile(meta):
        continue
    samples += json.load(open(meta))["stats"]["numSamples"]
    for dirpath, _, files in os.walk(os.path.join(root, d)):
        size += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
print(size, samples)
PY
)
echo "bytes on disk: vigil $vigil_bytes (store after a flush, indexes included, $total samples); prometheus $prom_bytes in blocks holding $prom_samples samples (the newest hours are still in its head)"
awk -v v="$vigil_bytes" -v n="$total" -v p="$prom_bytes" -v m="$prom_samples" \
  'BEGIN { printf "bytes per sample: vigil %.3f, prometheus %.3f\n", v / n, (m > 0 ? p / m : 0) }'
