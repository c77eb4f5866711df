"""Issue 18's trace benchmark: the Tempo API of a running Vigil over a store of spans, and
DuckDB over the same Parquet files.

usage: python3 benches/tempobench.py DATA_DIR VIGIL_URL RUNS

DATA_DIR is a store `indexbench` generated (`--logs 0 --series 0 --spans 20000000
--trace-gap-ms 69`: 20M spans over a day, `trace_ids.txt` holding sampled ids) that a
`vigil serve` at VIGIL_URL serves. Times are wall-clock milliseconds of whole HTTP answers
(Vigil) or of `fetchall()` (DuckDB), each query run once before it is timed.
"""
import glob
import http.client
import json
import sys
import time
import urllib.parse

data, url, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
host = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(host.hostname, host.port, timeout=600)


def get(path, accept="application/json"):
    conn.request("GET", path, headers={"Accept": accept})
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise SystemExit(f"{path}: {resp.status} {body[:300]!r}")
    return body


def sql(query):
    body = json.dumps({"query": query})
    conn.request("POST", "/api/v1/sql", body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    out = resp.read()
    if resp.status != 200:
        raise SystemExit(f"sql: {resp.status} {out[:300]!r}")
    return json.loads(out)


def timed(calls):
    times, last = [], None
    for call in calls:
        call()
        t = time.perf_counter()
        last = call()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    at = lambda q: times[round((len(times) - 1) * q)]
    return at(0.5), at(0.99), last


def q(path, **params):
    return path + "?" + urllib.parse.urlencode(params)


ids = open(f"{data}/trace_ids.txt").read().split()
row = sql("SELECT min(start_time_unix_nano) AS lo, max(start_time_unix_nano) AS hi, count(*) AS n FROM spans")["rows"][0]
lo, hi, n = int(row["lo"]), int(row["hi"]), int(row["n"])
start, end = lo // 1_000_000_000, hi // 1_000_000_000 + 1
print(f"store: {n} spans, {(hi - lo) / 3.6e12:.1f} h")

service_error = '{ resource.service.name = "checkout" && status = error }'
structural = '{ name = "GET /api/v1/users/{id}" } >> { status = error }'
rate = "{ } | rate() by (resource.service.name)"
quantile = "{ } | quantile_over_time(duration, .9) by (resource.service.name)"
vigil = {
    "trace by id, no time range (100 ids)": [
        (lambda i=i: get(f"/api/traces/{i}", "application/protobuf")) for i in ids
    ],
    "search service + error, 24 h, limit 20": [
        lambda: json.loads(get(q("/api/search", q=service_error, start=start, end=end, limit=20)))
    ] * runs,
    "structural >> , last 1 h, limit 20": [
        lambda: json.loads(get(q("/api/search", q=structural, start=end - 3600, end=end, limit=20)))
    ] * runs,
    "rate() by service, 24 h at 1 m": [
        lambda: json.loads(get(q("/api/metrics/query_range", q=rate, start=start, end=end, step="60")))
    ] * runs,
    "quantile_over_time(duration, .9) by service, last 1 h at 1 m": [
        lambda: json.loads(get(q("/api/metrics/query_range", q=quantile, start=end - 3600, end=end, step="60", exemplars=0)))
    ] * runs,
}
print("vigil | p50 ms | p99 ms | answer")
for name, calls in vigil.items():
    p50, p99, last = timed(calls)
    if isinstance(last, dict) and "traces" in last:
        what = f"{len(last['traces'])} traces"
    elif isinstance(last, dict) and "series" in last:
        what = f"{len(last['series'])} series x {len(last['series'][0]['samples']) if last['series'] else 0} points"
    else:
        what = f"{len(last)} bytes"
    print(f"vigil {name} | {p50:.1f} | {p99:.1f} | {what}")

try:
    import duckdb
except ImportError:
    print("duckdb: not installed (pip install duckdb)")
    sys.exit(0)
con = duckdb.connect()
con.execute("SET threads = 2")
files = sorted(glob.glob(f"{data}/store/default/traces/*/*.parquet"))
con.execute(f"CREATE VIEW spans AS SELECT * FROM read_parquet({files!r}, union_by_name = true)")
s_ns, e_ns = start * 1_000_000_000, end * 1_000_000_000
duck = {
    "trace by id, no time range (100 ids)": [
        f"SELECT * FROM spans WHERE trace_id = from_hex('{i}')" for i in ids
    ],
    "search service + error, 24 h, limit 20": [
        f"""WITH t AS (SELECT trace_id, max(start_time_unix_nano) AS last FROM spans
            WHERE service_name = 'checkout' AND status_code = 2
              AND start_time_unix_nano BETWEEN {s_ns} AND {e_ns}
            GROUP BY trace_id ORDER BY last DESC LIMIT 20)
            SELECT s.* FROM spans s JOIN t USING (trace_id)"""
    ] * runs,
    # The generated traces are a root and its children: `>>` is a parent-child join.
    "structural >> , last 1 h, limit 20": [
        f"""SELECT DISTINCT c.trace_id FROM spans p JOIN spans c
              ON c.trace_id = p.trace_id AND c.parent_span_id = p.span_id
            WHERE p.name = 'GET /api/v1/users/{{id}}' AND c.status_code = 2
              AND p.start_time_unix_nano BETWEEN {e_ns - 3_600_000_000_000} AND {e_ns}
            LIMIT 20"""
    ] * runs,
    "rate() by service, 24 h at 1 m": [
        f"""SELECT service_name, (start_time_unix_nano - {s_ns}) // 60000000000 AS m,
                   count(*) / 60.0 AS rate
            FROM spans WHERE start_time_unix_nano BETWEEN {s_ns} AND {e_ns} GROUP BY 1, 2"""
    ] * runs,
    # Exact quantiles (Tempo's and Vigil's come from log2 buckets, which is cheaper).
    "quantile_over_time(duration, .9) by service, last 1 h at 1 m": [
        f"""SELECT service_name, (start_time_unix_nano - {e_ns - 3_600_000_000_000}) // 60000000000 AS m,
                   quantile_cont(duration_nano, 0.9) AS p90
            FROM spans WHERE start_time_unix_nano BETWEEN {e_ns - 3_600_000_000_000} AND {e_ns}
            GROUP BY 1, 2"""
    ] * runs,
}
print(f"duckdb {duckdb.__version__} | p50 ms | p99 ms | rows")
for name, sqls in duck.items():
    p50, p99, last = timed([lambda s=s: con.execute(s).fetchall() for s in sqls])
    print(f"duckdb {name} | {p50:.1f} | {p99:.1f} | {len(last)}")
