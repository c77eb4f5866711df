"""The DuckDB side of `indexbench`: the same needle queries over the same Parquet files.

usage: python3 benches/duckdb_queries.py DATA_DIR RUNS
"""
import glob
import sys
import time

try:
    import duckdb
except ImportError:
    print("duckdb: not installed (pip install duckdb)")
    sys.exit(0)

data, runs = sys.argv[1], int(sys.argv[2])
store = f"{data}/store/default"
con = duckdb.connect()
con.execute("SET threads = 2")
files = {
    "logs": sorted(glob.glob(f"{store}/logs/*/*.parquet")),
    "spans": sorted(glob.glob(f"{store}/traces/*/*.parquet")),
    "series": sorted(glob.glob(f"{store}/metrics/*/*.series.parquet")),
    "samples": sorted(
        p for p in glob.glob(f"{store}/metrics/*/*.parquet") if not p.endswith(".series.parquet")
    ),
}
for view, paths in files.items():
    con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet({paths!r}, union_by_name = true)")
# Samples files of segment schema 2 hold the value as a decimal-scaled integer or a float
# (docs/0011); files of schema 1 as `value`.
samples_columns = {r[0] for r in con.execute("DESCRIBE samples").fetchall()}
value_expr = "value" if "value_int" not in samples_columns else (
    "coalesce(value_float, value_int / pow(10, value_scale))"
    if "value" not in samples_columns
    else "coalesce(value, value_float, value_int / pow(10, value_scale))"
)
ids = open(f"{data}/trace_ids.txt").read().split()


def timed(sqls):
    times, rows = [], 0
    for sql in sqls:
        con.execute(sql).fetchall()
        t = time.perf_counter()
        rows = len(con.execute(sql).fetchall())
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    at = lambda q: times[round((len(times) - 1) * q)]
    return at(0.5), at(0.99), rows


queries = {
    "trace_by_id": [f"SELECT span_id, name FROM spans WHERE trace_id = from_hex('{i}')" for i in ids],
    "rare_token": ["SELECT time_unix_nano, body FROM logs WHERE contains(lower(body), 'xyzzy')"] * runs,
    "common_token": ["SELECT count(*) FROM logs WHERE contains(lower(body), 'firefox')"] * runs,
}
print(f"duckdb {duckdb.__version__} | p50 ms | p99 ms | rows")
for name, sqls in queries.items():
    p50, p99, rows = timed(sqls)
    print(f"duckdb {name} | {p50:.1f} | {p99:.1f} | {rows}")


def series_selection():
    """The series of the label matchers, then the count and maximum of their samples."""
    ids = [r[0] for r in con.execute(
        "SELECT DISTINCT series_id FROM series WHERE metric_name = 'http_server_requests_total' "
        "AND labels['shard'] = '17'"
    ).fetchall()]
    rows = con.execute(
        f"SELECT series_id, count(*), max({value_expr}) FROM samples "
        f"WHERE series_id IN ({', '.join(map(str, ids))}) GROUP BY series_id"
    ).fetchall()
    return sum(r[1] for r in rows)


times, samples = [], 0
series_selection()
for _ in range(runs):
    t = time.perf_counter()
    samples = series_selection()
    times.append((time.perf_counter() - t) * 1000)
times.sort()
at = lambda q: times[round((len(times) - 1) * q)]
print(f"duckdb series_by_label | {at(0.5):.1f} | {at(0.99):.1f} | {samples} samples")
