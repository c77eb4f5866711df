#!/usr/bin/env bash
# Rule evaluation, Vigil and Prometheus 2.42 side by side (issue 16, point 6): the same data (the
# scrape-like data set of `promcompare live`, written to both by remote_write and reaching a few
# minutes into the future, so that rules evaluated now see fresh samples) and the same rule file
# (1,000 alerting and recording rules of common shapes, 10 groups of 100: rates, sums by job and
# route, histogram quantiles, averages over time, thresholds with `for`), evaluated by each server
# alone on core 1. Each group's evaluation time is read from both servers' /api/v1/rules after
# every interval; the figure is the median over the rounds of the sum over the groups.
#
# usage: benches/rulecompare.sh [series, default 10000] [rounds, default 5]
#   INTERVAL=15s evaluation interval (default 15s)
#   SKIP_BUILD=1 uses the binaries in $CARGO_TARGET_DIR/release as they are
set -euo pipefail
cd "$(dirname "$0")/.."
series=${1:-10000}
rounds=${2:-5}
interval=${INTERVAL:-15s}
interval_s=${interval%s}
target=${CARGO_TARGET_DIR:-target}
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release --bin vigil --bin promcompare
fi
bin="$target/release"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# The rule file: 100 rules of each of 10 shapes, one group per shape.
python3 - "$work/rules.yml" <<'PY'
import sys
shapes = [
    ("record", "bench:job_route:http_requests:rate5m_{k}",
     'sum by (job, route) (rate(http_requests_total{{job="job{j}"}}[5m]))'),
    ("record", "bench:instance:http_requests:rate1m_{k}",
     'sum by (instance) (rate(http_requests_total{{job="job{j}"}}[1m]))'),
    ("record", "bench:job:request_duration_seconds:p99_{k}",
     'histogram_quantile(0.99, sum by (job, le) (rate(request_duration_seconds_bucket{{job="job{j}"}}[5m])))'),
    ("record", "bench:job:memory_usage_bytes:avg10m_{k}",
     'avg by (job) (avg_over_time(memory_usage_bytes{{job="job{j}"}}[10m]))'),
    ("record", "bench:job:request_duration_seconds:mean5m_{k}",
     'sum by (job) (rate(request_duration_seconds_sum{{job="job{j}"}}[5m])) / sum by (job) (rate(request_duration_seconds_count{{job="job{j}"}}[5m]))'),
    ("alert", "BenchHighRequestRate{k}",
     'sum by (job, instance) (rate(http_requests_total{{job="job{j}", route="/r{r}"}}[5m])) > {t}'),
    ("alert", "BenchMemoryHigh{k}",
     'memory_usage_bytes{{job="job{j}"}} > {m}'),
    ("alert", "BenchLatencyHigh{k}",
     'histogram_quantile(0.9, sum by (instance, le) (rate(request_duration_seconds_bucket{{job="job{j}"}}[5m]))) > 0.{r}'),
    ("alert", "BenchTopRoutes{k}",
     'topk(3, sum by (route) (rate(http_requests_total{{job="job{j}"}}[5m]))) > {t}'),
    ("alert", "BenchNoTraffic{k}",
     'sum by (job) (increase(http_requests_total{{job="job{j}"}}[10m])) < {t}'),
]
out = ["groups:"]
for g, (kind, name, expr) in enumerate(shapes):
    out.append(f"  - name: bench{g}")
    out.append("    rules:")
    for k in range(100):
        p = dict(k=k, j=k % 10, r=k % 6, t=k / 10, m=(k + 1) * 1000000)
        out.append(f"      - {kind}: {name.format(**p)}")
        out.append(f"        expr: '{expr.format(**p)}'")
        if kind == "alert":
            out.append("        for: 1m")
            out.append("        labels: {severity: warning}")
            out.append("        annotations: {summary: '{{ $labels.job }} at {{ $value | humanize }}'}")
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
promtool check rules "$work/rules.yml" >/dev/null

start_vigil() { # extra environment assignments...
  env VIGIL_DATA_DIR="$work/vigil" VIGIL_HTTP_ADDR=127.0.0.1:19700 \
    VIGIL_OTLP_GRPC_ADDR=127.0.0.1:14317 VIGIL_OTLP_HTTP_ADDR=127.0.0.1:14318 VIGIL_LOG_LEVEL=warn \
    "$@" taskset -c 1 "$bin/vigil" serve >>"$work/vigil.out" 2>&1 &
  vigil_pid=$!
  for _ in $(seq 300); do curl -sf 127.0.0.1:19700/ready >/dev/null && return 0; sleep 0.2; done
  echo "vigil did not become ready" >&2; exit 1
}
start_prometheus() { # rule file or nothing
  local rules=""
  [ -n "${1:-}" ] && rules="rule_files: ['$1']"
  printf 'global:\n  scrape_interval: 1h\n  evaluation_interval: %s\n%s\n' "$interval" "$rules" >"$work/prom.yml"
  taskset -c 1 prometheus --config.file="$work/prom.yml" --storage.tsdb.path="$work/prom" \
    --storage.tsdb.retention.time=10y --web.listen-address=127.0.0.1:19090 \
    --web.enable-remote-write-receiver >>"$work/prom.out" 2>&1 &
  prom_pid=$!
  for _ in $(seq 150); do curl -sf 127.0.0.1:19090/-/ready >/dev/null && return 0; sleep 0.2; done
  echo "prometheus did not become ready" >&2; exit 1
}

# Two hours of data ending ten minutes from now, into both.
end=$(( ($(date +%s) / 60) * 60 + 600 ))
start_vigil
start_prometheus
taskset -c 0 "$bin/promcompare" live --series "$series" --hours 2 --end "$end" \
  --to http://127.0.0.1:19700 --to http://127.0.0.1:19090
kill -TERM "$vigil_pid" "$prom_pid"; wait "$vigil_pid" "$prom_pid" || true

# Sums each group's evaluationTime of /api/v1/rules on $1 once every group has evaluated at
# least twice since the start, one total per round; and the CPU time the server process ($3)
# used per round over the rounds measured (groups run concurrently, so wall-clock evaluation
# times overlap; the CPU time does not).
measure() { # base url, label, pid
  python3 - "$1" "$rounds" "$interval_s" "$2" "$3" <<'PY'
import json, os, statistics, sys, time, urllib.request
base, rounds, interval, label, pid = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick
def groups():
    with urllib.request.urlopen(base + "/api/v1/rules?exclude_alerts=true") as r:
        return json.load(r)["data"]["groups"]
seen, totals, health, cpus = {}, [], set(), []
deadline = time.time() + interval * (rounds + 6) + 120
while len(totals) < rounds and time.time() < deadline:
    gs = groups()
    stamps = tuple(g["lastEvaluation"] for g in gs)
    if len(gs) == 10 and all(not s.startswith("0001") for s in stamps) and stamps != seen.get("last"):
        seen["n"] = seen.get("n", 0) + 1
        seen["last"] = stamps
        if seen["n"] >= 2:  # the first round warms caches
            totals.append(sum(g["evaluationTime"] for g in gs))
            cpus.append(cpu())
            health |= {r["health"] for g in gs for r in g["rules"]}
    time.sleep(interval / 5)
if len(totals) < rounds:
    sys.exit(f"{label}: only {len(totals)} rounds measured")
per_round = (cpus[-1] - cpus[0]) / (len(cpus) - 1)
print(f"{label}: 1000 rules in 10 groups, per round {statistics.median(totals) * 1000:.1f} ms "
      f"(median of {rounds}; min {min(totals) * 1000:.1f}, max {max(totals) * 1000:.1f}); "
      f"cpu {per_round * 1000:.0f} ms per round; rule health {sorted(health)}")
PY
}

start_prometheus "$work/rules.yml"
prom_line=$(measure http://127.0.0.1:19090 prometheus "$prom_pid")
echo "$prom_line"
kill -TERM "$prom_pid"; wait "$prom_pid" || true

start_vigil VIGIL_RULE_FILES="$work/rules.yml" VIGIL_EVALUATION_INTERVAL="$interval"
vigil_line=$(measure http://127.0.0.1:19700 vigil "$vigil_pid")
echo "$vigil_line"
kill -TERM "$vigil_pid"; wait "$vigil_pid" || true

p=$(echo "$prom_line" | sed -n 's/.*per round \([0-9.]*\) ms.*/\1/p')
v=$(echo "$vigil_line" | sed -n 's/.*per round \([0-9.]*\) ms.*/\1/p')
pc=$(echo "$prom_line" | sed -n 's/.*cpu \([0-9]*\) ms per round.*/\1/p')
vc=$(echo "$vigil_line" | sed -n 's/.*cpu \([0-9]*\) ms per round.*/\1/p')
awk -v v="$v" -v p="$p" -v vc="$vc" -v pc="$pc" \
  'BEGIN { printf "vigil / prometheus: evaluation time %.2f, cpu %.2f\n", v / p, vc / pc }'
