#!/usr/bin/env python3
"""CPU of the decoding thread: several ota-patch builds, interleaved, under perf.

    bench/apply-thread-cpu.py REPEAT PATCHDIR PAIR... -- NAME=path/to/ota-patch [NAME=...]

Each build applies PATCHDIR/PAIR.ota to CORPUS/PAIR.old in turn, REPEAT times, under
`perf record -e task-clock -c 100000` (a sample every 0.1 ms of a thread's CPU); the output is
compared with PAIR.new. Prints a Markdown row per pair: median CPU ms of the main (decoding)
thread, the one with the lowest thread id, then of the whole process. Unlike wall time this
barely moves with the machine's load, so it shows work moved between threads on a shared machine;
whether that shortens the wall time needs a free core (bench/apply-compare.py on an idle machine).
env: CORPUS (default bench/corpus).
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
corpus = os.environ.get("CORPUS", os.path.join(root, "bench", "corpus"))
arguments = sys.argv[1:]
separator = arguments.index("--")
repeat, patches, pairs = int(arguments[0]), arguments[1], arguments[2:separator]
builds = [argument.split("=", 1) for argument in arguments[separator + 1:]]
scratch = tempfile.mkdtemp(prefix="ota-apply-thread-cpu.")
output, data = os.path.join(scratch, "out"), os.path.join(scratch, "perf.data")

print(f"load average at the start: {open('/proc/loadavg').read().strip()}")
print(f"| pair | decoding thread CPU ms: {' / '.join(n for n, _ in builds)} | process CPU ms |")
print("|---|---:|---:|")
for pair in pairs:
    runs = {name: ([], []) for name, _ in builds}
    for _ in range(repeat):
        for name, binary in builds:
            subprocess.run(["perf", "record", "-q", "-e", "task-clock", "-c", "100000", "-o", data, "--", binary,
                            os.path.join(corpus, pair + ".old"), os.path.join(patches, pair + ".ota"), "-o", output],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if subprocess.run(["cmp", "-s", output, os.path.join(corpus, pair + ".new")]).returncode != 0:
                sys.exit(f"{binary} rebuilt a different image for {pair}")
            report = subprocess.run(["perf", "report", "-i", data, "--stdio", "--sort", "pid", "-F", "sample,pid"],
                                    capture_output=True, text=True, check=True).stdout
            samples = {}  # thread id -> samples ("pid" sorts by thread)
            for line in report.splitlines():
                match = re.match(r"\s*(\d+)\s+(\d+):", line)
                if match:
                    samples[int(match.group(2))] = int(match.group(1))
            runs[name][0].append(samples[min(samples)] / 10)
            runs[name][1].append(sum(samples.values()) / 10)
    main = " / ".join(f"{statistics.median(runs[n][0]):.0f}" for n, _ in builds)
    process = " / ".join(f"{statistics.median(runs[n][1]):.0f}" for n, _ in builds)
    print(f"| {pair} | {main} | {process} |", flush=True)
print(f"load average at the end: {open('/proc/loadavg').read().strip()}")
