#!/usr/bin/env python3
"""Load driver for bench/fleet.sh: N simulated vehicles upload their record logs at once
through the fleet service's TLS front, each with its own client certificate.

Usage: fleet-load.py PORT SERVER_CA CERT_DIR KEY LOG_DIR CONCURRENCY
Prints one JSON object: uploads, seconds, uploads/s, entries/s, p50/p99 latency (ms), failures.
"""
import json, os, ssl, sys, threading, time, http.client

port, server_ca, cert_dir, key, log_dir, concurrency = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
vins = sorted(os.listdir(log_dir))

def body(vin):
    directory = os.path.join(log_dir, vin)
    with open(os.path.join(directory, "log.json"), "rb") as f:
        out = f.read().replace(b"\n", b"") + b"\n"
    for name in sorted(n for n in os.listdir(directory) if n.startswith("segment-")):
        with open(os.path.join(directory, name), "rb") as f:
            out += f.read()
    return out

# Bodies are read when sent (a million entries would not fit comfortably in memory at once).
entries = 0
latencies, failures, lock = [], [], threading.Lock()
queue = list(vins)

def worker():
    global entries
    while True:
        with lock:
            if not queue:
                return
            vin = queue.pop()
        payload = body(vin)
        with lock:
            entries += payload.count(b"\n") - 1
        context = ssl.create_default_context(cafile=server_ca)
        context.load_cert_chain(os.path.join(cert_dir, vin + ".crt"), key)
        start = time.perf_counter()
        try:
            connection = http.client.HTTPSConnection("127.0.0.1", int(port), context=context, timeout=600)
            connection.request("POST", "/v1/vehicles/%s/log" % vin, body=payload, headers={"Content-Type": "application/octet-stream"})
            response = connection.getresponse()
            answer = response.read()
            connection.close()
            ok = response.status == 200
        except Exception as error:  # noqa: BLE001 - every failure is counted and shown
            ok, answer = False, str(error).encode()
        elapsed = time.perf_counter() - start
        with lock:
            if ok:
                latencies.append(elapsed)
            else:
                failures.append((vin, answer[:200].decode(errors="replace")))

began = time.perf_counter()
threads = [threading.Thread(target=worker) for _ in range(concurrency)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
seconds = time.perf_counter() - began
latencies.sort()
def percentile(p):
    return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else None
print(json.dumps({
    "vehicles": len(vins), "entries": entries, "concurrency": concurrency, "seconds": round(seconds, 2),
    "uploadsPerSecond": round(len(latencies) / seconds, 1), "entriesPerSecond": round(entries / seconds),
    "p50ms": percentile(0.5), "p99ms": percentile(0.99), "failures": len(failures), "firstFailure": failures[0] if failures else None,
}))
