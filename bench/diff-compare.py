#!/usr/bin/env python3
"""Diff wall time, peak RSS and patch size: ota-diff builds beside hdiffz, interleaved.

    bench/diff-compare.py ROUNDS CORPUS NAME=path/to/ota-diff[,--flag...] [NAME=...] -- PAIR [PAIR...]

A build is a binary, with after commas options of its own. Each round runs every build and
`hdiffz -m-6 -SD -c-lzma2-9-16m` once on CORPUS/PAIR.old and CORPUS/PAIR.new, the order reversed
every other round. Prints per pair the median wall seconds, peak RSS (MiB, /usr/bin/time) and
patch bytes of each, each build's wall and size ratio to hdiffz, and for builds after the first
the paired median of its wall ÷ the first build's in the same round with the smallest and
largest round (the machine's drift cancels within a round).
"""
import os, statistics, subprocess, sys, time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
hdiffz = os.path.join(root, "bench", "tools", "hdiffpatch", "hdiffz")
args = sys.argv[1:]
if len(args) < 5 or "--" not in args or not args[0].isdigit():
    sys.exit(__doc__)
rounds, corpus = int(args[0]), args[1]
split = args.index("--")
builds = [b.split("=", 1) for b in args[2:split]]
pairs = args[split + 1:]
tools = builds + [["hdiffz", None]]


def run(name, binary, old, new, out):
    if os.path.exists(out):
        os.remove(out)
    command = binary.split(",") + [old, new, "-o", out] if binary else [hdiffz, "-m-6", "-SD", "-c-lzma2-9-16m", "-f", old, new, out]
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M"] + command, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=True)
    return time.perf_counter() - start, int(done.stderr.strip().split("\n")[-1]) / 1024, os.path.getsize(out)


for pair in pairs:
    old, new = f"{corpus}/{pair}.old", f"{corpus}/{pair}.new"
    runs = {name: [] for name, _ in tools}
    for r in range(rounds):
        for name, binary in (tools if r % 2 == 0 else tools[::-1]):
            runs[name].append(run(name, binary, old, new, f"/tmp/diff-compare-{os.getpid()}-{name}.out"))
    wall = {name: statistics.median(x[0] for x in runs[name]) for name, _ in tools}
    line = [f"{pair}:"]
    for name, _ in tools:
        line.append(f"{name} {wall[name]:.2f} s {max(x[1] for x in runs[name]):.0f} MiB {runs[name][-1][2]} B;")
    for name, _ in builds:
        line.append(f"{name}÷hdiffz wall {wall[name] / wall['hdiffz']:.2f} size "
                    f"{runs[name][-1][2] / runs['hdiffz'][-1][2]:.3f};")
    base = builds[0][0]
    for name, _ in builds[1:]:
        ratios = sorted(runs[name][i][0] / runs[base][i][0] for i in range(rounds))
        line.append(f"{name}÷{base} paired {statistics.median(ratios):.3f} [{ratios[0]:.3f}-{ratios[-1]:.3f}]")
    print(" ".join(line), flush=True)
    for name, _ in tools:
        path = f"/tmp/diff-compare-{os.getpid()}-{name}.out"
        if os.path.exists(path):
            os.remove(path)
