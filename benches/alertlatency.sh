#!/usr/bin/env bash
# Time from a threshold crossing to the webhook's arrival (issue 16, point 6). Three alerting
# rules cross their thresholds at known instants (`vector(time()) > T`, T 20 s, 50 s and 80 s after the
# start, so no data has to arrive first); Vigil evaluates them every INTERVAL and routes them
# with `group_wait: GROUP_WAIT` to a local webhook, which notes when each notification arrives.
# The bound to meet: INTERVAL + GROUP_WAIT + 1 s.
#
# usage: benches/alertlatency.sh   (INTERVAL=5s GROUP_WAIT=5s by default; SKIP_BUILD=1)
set -euo pipefail
cd "$(dirname "$0")/.."
interval=${INTERVAL:-5s}
group_wait=${GROUP_WAIT:-5s}
target=${CARGO_TARGET_DIR:-target}
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release --bin vigil
fi
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
now=$(date +%s)
{
  echo "groups:"
  echo "  - name: crossings"
  echo "    rules:"
  for k in 1 2 3; do
    t=$((now + 20 + 30 * (k - 1)))
    echo "      - alert: Crossing$k"
    echo "        expr: vector(time()) > $t"
    echo "        annotations: {crossed_at: '$t'}"
  done
} >"$work/rules.yml"
printf 'route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: %s\n  group_interval: 1m\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    webhook_configs:\n      - url: http://127.0.0.1:19888/hook\n' \
  "$group_wait" >"$work/am.yml"
python3 - "$work/arrivals" <<'PY' &
import http.server, json, sys, time
out = open(sys.argv[1], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        for a in body["alerts"]:
            out.write(f'{a["labels"]["alertname"]} {a["annotations"]["crossed_at"]} {time.time():.3f}\n')
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", 19888), H).serve_forever()
PY
env VIGIL_DATA_DIR="$work/vigil" VIGIL_HTTP_ADDR=127.0.0.1:19700 \
  VIGIL_OTLP_GRPC_ADDR=127.0.0.1:14317 VIGIL_OTLP_HTTP_ADDR=127.0.0.1:14318 VIGIL_LOG_LEVEL=warn \
  VIGIL_RULE_FILES="$work/rules.yml" VIGIL_ALERTMANAGER_CONFIG="$work/am.yml" \
  VIGIL_EVALUATION_INTERVAL="$interval" "$target/release/vigil" serve >"$work/vigil.out" 2>&1 &
for _ in $(seq 200); do
  [ -f "$work/arrivals" ] && [ "$(wc -l <"$work/arrivals")" -ge 3 ] && break
  sleep 1
done
bound=$(( ${interval%s} + ${group_wait%s} + 1 ))
awk -v bound="$bound" -v i="$interval" -v g="$group_wait" '
  { d = $3 - $2; printf "%s: webhook %.2f s after the crossing\n", $1, d; if (d > max) max = d; n++ }
  END { printf "%d crossings, worst %.2f s; bound (interval %s + group_wait %s + 1 s) %d s: %s\n",
        n, max, i, g, bound, (n == 3 && max <= bound) ? "met" : "MISSED" }' "$work/arrivals"
