"""The DuckDB side of `logbench`: the questions of its LogQL queries, asked in SQL of the same
Parquet files.

usage: python3 benches/duckdb_logql.py DATA_DIR RUNS RARE_START DAY_START HOUR_START END
(times in Unix nanoseconds, as logbench passes them)
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
rare_start, day, hour, end = (int(x) for x in sys.argv[3:7])
con = duckdb.connect()
con.execute("SET threads = 2")
paths = sorted(glob.glob(f"{data}/store/default/logs/*/*.parquet"))
con.execute(f"CREATE VIEW logs AS SELECT * FROM read_parquet({paths!r}, union_by_name = true)")

queries = {
    # `{service_name="checkout"} |= "xyzzy"`: the newest 1,000 lines.
    "rare_token_24h": f"""
        SELECT time_unix_nano, body FROM logs
        WHERE service_name = 'checkout' AND time_unix_nano >= {rare_start}
          AND time_unix_nano <= {end} AND contains(body, 'xyzzy')
        ORDER BY time_unix_nano DESC LIMIT 1000""",
    # `sum by (level) (count_over_time({service_name="checkout"}[1m]))` at one-minute steps:
    # the windows (T-1m, T] are the minutes, counted per severity.
    "volume_by_level_24h": f"""
        SELECT severity_text, ({end} - time_unix_nano) // 60000000000 AS minute, count(*)
        FROM logs
        WHERE service_name = 'checkout' AND time_unix_nano > {day} - 60000000000
          AND time_unix_nano <= {end}
        GROUP BY ALL""",
    # `topk(10, sum by (status) (rate({service_name="frontend"} | json | status >= 500 [5m])))`
    # at 15 s steps: 15 s buckets per status, summed over the 20 buckets of each window.
    "topk_json_5xx_1h": f"""
        WITH b AS (
            SELECT CAST(json_extract_string(body, '$.status') AS INTEGER) AS status,
                   ({end} - time_unix_nano) // 15000000000 AS k, count(*) AS n
            FROM logs
            WHERE service_name = 'frontend' AND time_unix_nano > {hour} - 300000000000
              AND time_unix_nano <= {end}
              AND CAST(json_extract_string(body, '$.status') AS INTEGER) >= 500
            GROUP BY ALL),
        w AS (
            SELECT status, k, sum(n) OVER (PARTITION BY status ORDER BY k
                RANGE BETWEEN CURRENT ROW AND 19 FOLLOWING) / 300.0 AS rate
            FROM b)
        SELECT * FROM (
            SELECT *, row_number() OVER (PARTITION BY k ORDER BY rate DESC) AS r FROM w)
        WHERE r <= 10""",
}


def timed(sql):
    con.execute(sql).fetchall()
    times, rows = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        rows = len(con.execute(sql).fetchall())
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    at = lambda q: times[round((len(times) - 1) * q)]
    return at(0.5), at(0.99), rows


print(f"duckdb {duckdb.__version__} | p50 ms | p99 ms | rows")
for name, sql in queries.items():
    p50, p99, rows = timed(sql)
    print(f"duckdb {name} | {p50:.1f} | {p99:.1f} | {rows}")
