#!/usr/bin/env python3
"""Apply wall time at millisecond resolution: several ota-patch builds beside hpatchz.

    bench/apply-compare.py REPEAT PATCHDIR NAME=path/to/ota-patch [NAME=...]

PATCHDIR holds PAIR.ota and PAIR.hdp for every pair (bench/delta-apply.sh's PATCHES=DIR makes
them). The tools run in turn (each build, then hpatchz) REPEAT times per pair; every output is
compared with the pair's new image. Prints a Markdown table of median wall and CPU (user +
system) milliseconds and each build's wall ratio to hpatchz. Wall time is measured around the
child with perf_counter, finer than /usr/bin/time's 10 ms; peak RSS is left to delta-apply.sh
(a child's ru_maxrss here would include the Python parent's pages from before exec).
env: PAIRS (default: the eleven tuning pairs), CORPUS (default bench/corpus).
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
corpus = os.environ.get("CORPUS", os.path.join(root, "bench", "corpus"))
hpatchz = os.path.join(subprocess.run([os.path.join(root, "bench", "hdiffpatch.sh")], check=True,
                                      capture_output=True, text=True).stdout.strip(), "hpatchz")
repeat, patches = int(sys.argv[1]), sys.argv[2]
builds = [argument.split("=", 1) for argument in sys.argv[3:]]
pairs = os.environ.get("PAIRS", "libpython-amd64 libpython-arm64 postgres-amd64 postgres-arm64 mariadbd-amd64 "
                       "mariadbd-arm64 librsvg-amd64 librsvg-arm64 containerd-amd64 containerd-arm64 debfs").split()
output = os.path.join(tempfile.mkdtemp(prefix="ota-apply-compare."), "out")


def run(argv, new):
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if status != 0 or subprocess.run(["cmp", "-s", output, new]).returncode != 0:
        sys.exit(f"{argv[0]} failed or rebuilt a different image: {' '.join(argv)}")
    return wall * 1000, (usage.ru_utime + usage.ru_stime) * 1000


names = [name for name, _ in builds] + ["hpatchz"]
print(f"load average at the start: {open('/proc/loadavg').read().strip()}")
print(f"| pair | wall ms: {' / '.join(names)} | CPU ms | wall ÷ hpatchz: {' / '.join(names[:-1])} |")
print("|---|---:|---:|---:|")
for pair in pairs:
    old, new = os.path.join(corpus, pair + ".old"), os.path.join(corpus, pair + ".new")
    runs = {name: [] for name in names}
    for _ in range(repeat):
        for name, binary in builds:
            runs[name].append(run([binary, old, os.path.join(patches, pair + ".ota"), "-o", output], new))
        runs["hpatchz"].append(run([hpatchz, "-f", old, os.path.join(patches, pair + ".hdp"), output], new))
    wall = {name: statistics.median(r[0] for r in runs[name]) for name in names}
    cpu = {name: statistics.median(r[1] for r in runs[name]) for name in names}
    walls = " / ".join(f"{wall[n]:.0f}" for n in names)
    cpus = " / ".join(f"{cpu[n]:.0f}" for n in names)
    ratios = " / ".join(f"{wall[n] / wall[names[-1]]:.2f}" for n in names[:-1])
    print(f"| {pair} | {walls} | {cpus} | {ratios} |", flush=True)
print(f"load average at the end: {open('/proc/loadavg').read().strip()}")
