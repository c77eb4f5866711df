#!/usr/bin/env python3
"""Alerts per second that an Alertmanager's `POST /api/v2/alerts` takes and routes (issue 16,
point 6): distinct alerts (50 alert names x distinct instances, labels and annotations as rulers
send them) posted in batches over keep-alive connections, then the alerts listed back by
`GET /api/v2/alerts` and counted.

usage: benches/alertsbench.py URL [alerts, default 50000] [batch, default 500] [connections, default 4]
"""
import http.client
import json
import sys
import threading
import time
import urllib.parse

url = urllib.parse.urlparse(sys.argv[1])
total = int(sys.argv[2]) if len(sys.argv) > 2 else 50000
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 500
conns = int(sys.argv[4]) if len(sys.argv) > 4 else 4

ends = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
bodies = []
for start in range(0, total, batch):
    alerts = [
        {
            "labels": {
                "alertname": f"Bench{i % 50}",
                "instance": f"host{i}:9100",
                "job": f"job{i % 10}",
                "severity": "warning" if i % 3 else "page",
            },
            "annotations": {"summary": f"host{i} is at {i % 100}%"},
            "endsAt": ends,
            "generatorURL": f"http://ruler/graph?g0.expr=bench{i % 50}",
        }
        for i in range(start, min(start + batch, total))
    ]
    bodies.append(json.dumps(alerts).encode())

def worker(chunks, errors):
    c = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    for body in chunks:
        c.request("POST", "/api/v2/alerts", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        if r.status != 200:
            errors.append(r.status)

errors = []
threads = [threading.Thread(target=worker, args=(bodies[k::conns], errors)) for k in range(conns)]
t0 = time.perf_counter()
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter() - t0
c = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
c.request("GET", "/api/v2/alerts")
listed = len(json.loads(c.getresponse().read()))
print(f"{total} alerts in {len(bodies)} batches of {batch} over {conns} connections: "
      f"{elapsed:.2f} s, {total / elapsed:,.0f} alerts/s; {listed} listed back; errors {len(errors)}")
if errors or listed != total:
    sys.exit(1)
