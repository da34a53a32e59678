#!/usr/bin/env python3
"""Apply wall time at millisecond resolution: several ota-patch builds beside hpatchz.

    bench/apply-compare.py [--more N] ROUNDS PATCHDIR NAME=path/to/ota-patch [NAME=...]

PATCHDIR holds PAIR.ota and PAIR.hdp for every pair (bench/delta-apply.sh's PATCHES=DIR makes
them). Each round runs every tool once (each build and hpatchz, the order rotated by one from
round to round so no tool always runs first or after the same one), ROUNDS rounds per pair;
every output is compared with the pair's new image. Prints a Markdown table of median wall and
CPU (user + system) milliseconds and each build's wall ratio to hpatchz. Wall time is measured
around the child with perf_counter, finer than /usr/bin/time's 10 ms; peak RSS is left to
delta-apply.sh (a child's ru_maxrss here would include the Python parent's pages from before
exec).

A/B verdicts. The machine's speed drifts by 10-25% over minutes, so the ratio of two medians
taken over the same rounds still carries that drift. After the table, for each pair and each
build after the first (NEW) against the first (BASE; with a single build, against hpatchz):
the median over rounds of NEW's wall ÷ BASE's wall *in the same round* (the drift cancels
within a round), with a 95% bootstrap interval (percentile method: 10,000 resamples of the
rounds, seeded, so a rerun on the same figures prints the same interval), the same for CPU,
and a verdict on the wall ratio: "faster" when the whole interval is below 1, "slower" when
above, "undecided" otherwise. With 9 rounds the interval is coarse (the median of 9 resampled
values moves in steps of one round); more rounds narrow it.

--more N: after ROUNDS rounds, a pair with an undecided verdict gets N more rounds (all tools,
as before) and is judged again on all its rounds. Deciding to go on after looking is a second
look at the data, so with --more both looks use 97.5% intervals (Bonferroni over two looks):
the chance of a wrong "faster" or "slower" stays at most 5% per pair and build.

Before each run the previous run's output is removed and the file systems synced, untimed, so
every tool writes a new file: otherwise each run pays for freeing the one before (ota-patch in
its rename, hpatchz in its open with O_TRUNC), which on ext4 mounted with `discard` took 3-15 ms
on the tuning pairs' outputs and 74-98 ms on debfs's (docs/PERFORMANCE-LOG.md, "`ota-patch`,
fourteenth round"). A vehicle writes into a slot, where nothing is freed.

Two references: hpatchz as it runs, which leaves its output in the page cache (a power loss
right after may lose it), and "hpatchz+fsync": hpatchz, then fsync of its output and of the
output's directory, timed with it (the fsync's CPU, spent in this script, is added), which is
what ota-patch does before its rename and what an updater must do before trusting the file. On
a disk the difference is the write to the device: 0.1 s on containerd amd64's 48 MB here.

env: PAIRS (default: the eleven tuning pairs), CORPUS (default bench/corpus), REPLACE_OUTPUT=1
(leave the previous output in place, as runs before 2026-11-30 08:00 did).
"""
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
corpus = os.environ.get("CORPUS", os.path.join(root, "bench", "corpus"))
arguments = sys.argv[1:]
more = 0
if arguments[:1] == ["--more"]:
    more, arguments = int(arguments[1]), arguments[2:]
if len(arguments) < 3 or not arguments[0].isdigit() or any("=" not in a for a in arguments[2:]):
    sys.exit(__doc__.split("\n\n")[1])
repeat, patches = int(arguments[0]), arguments[1]
builds = [argument.split("=", 1) for argument in arguments[2:]]
hpatchz = os.path.join(subprocess.run([os.path.join(root, "bench", "hdiffpatch.sh")], check=True,
                                      capture_output=True, text=True).stdout.strip(), "hpatchz")
pairs = os.environ.get("PAIRS", "libpython-amd64 libpython-arm64 postgres-amd64 postgres-arm64 mariadbd-amd64 "
                       "mariadbd-arm64 librsvg-amd64 librsvg-arm64 containerd-amd64 containerd-arm64 debfs").split()
output = os.path.join(tempfile.mkdtemp(prefix="ota-apply-compare."), "out")
# One confidence level per look: 95%, or 97.5% at each of the two looks --more may make.
level = 0.975 if more else 0.95
resamples = 10_000


replace_output = os.environ.get("REPLACE_OUTPUT") == "1"


def run(argv, new, durable=False):
    """Wall and CPU milliseconds of one run; `durable`: then fsync the output and its directory."""
    if not replace_output and os.path.exists(output):
        os.unlink(output)
        os.sync()
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    cpu = usage.ru_utime + usage.ru_stime
    if durable and status == 0:
        before = resource.getrusage(resource.RUSAGE_SELF)
        for path, flags in ((output, os.O_RDONLY), (os.path.dirname(output), os.O_RDONLY | os.O_DIRECTORY)):
            descriptor = os.open(path, flags)
            os.fsync(descriptor)
            os.close(descriptor)
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu += after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    wall = time.perf_counter() - start
    if status != 0 or subprocess.run(["cmp", "-s", output, new]).returncode != 0:
        sys.exit(f"{argv[0]} failed or rebuilt a different image: {' '.join(argv)}")
    return wall * 1000, cpu * 1000


def median_interval(values, seed):
    """The median of `values` and its bootstrap interval at `level` (percentile method)."""
    generator = random.Random(seed)
    medians = sorted(statistics.median(generator.choices(values, k=len(values))) for _ in range(resamples))
    tail = (1 - level) / 2
    low = medians[int(tail * resamples)]
    high = medians[min(resamples - 1, int((1 - tail) * resamples))]
    return statistics.median(values), low, high


def paired(runs, new, base, column, seed):
    """Median and interval of NEW ÷ BASE over the rounds, round by round (column 0 wall, 1 CPU)."""
    ratios = [n[column] / b[column] for n, b in zip(runs[new], runs[base]) if b[column] > 0]
    return median_interval(ratios, seed) if ratios else (float("nan"),) * 3


def verdict(low, high):
    return "faster" if high < 1 else "slower" if low > 1 else "undecided"


references = ["hpatchz", "hpatchz+fsync"]
names = [name for name, _ in builds] + references
binaries = dict(builds)
# (NEW, BASE) for the verdicts: every later build against the first, or a lone build against hpatchz.
comparisons = [(name, names[0]) for name in names[1:len(builds)]] or [(names[0], r) for r in references]


def one_round(pair, old, new, runs, number):
    order = names[number % len(names):] + names[:number % len(names)]
    for name in order:
        if name in references:
            runs[name].append(
                run([hpatchz, "-f", old, os.path.join(patches, pair + ".hdp"), output], new, name == "hpatchz+fsync"))
        else:
            runs[name].append(run([binaries[name], old, os.path.join(patches, pair + ".ota"), "-o", output], new))


print(f"load average at the start: {open('/proc/loadavg').read().strip()}")
ours = " / ".join(names[:len(builds)])
print(f"| pair | wall ms: {' / '.join(names)} | CPU ms | wall ÷ hpatchz: {ours} | wall ÷ hpatchz+fsync: {ours} |")
print("|---|---:|---:|---:|---:|")
verdicts = []
for index, pair in enumerate(pairs):
    old, new = os.path.join(corpus, pair + ".old"), os.path.join(corpus, pair + ".new")
    runs = {name: [] for name in names}
    for number in range(repeat):
        one_round(pair, old, new, runs, number)
    if more and any(verdict(*paired(runs, n, b, 0, index)[1:]) == "undecided" for n, b in comparisons):
        for number in range(repeat, repeat + more):
            one_round(pair, old, new, runs, number)
    wall = {name: statistics.median(r[0] for r in runs[name]) for name in names}
    cpu = {name: statistics.median(r[1] for r in runs[name]) for name in names}
    walls = " / ".join(f"{wall[n]:.0f}" for n in names)
    cpus = " / ".join(f"{cpu[n]:.0f}" for n in names)
    ratios = " / ".join(f"{wall[n] / wall['hpatchz']:.2f}" for n in names[:len(builds)])
    durable = " / ".join(f"{wall[n] / wall['hpatchz+fsync']:.2f}" for n in names[:len(builds)])
    print(f"| {pair} | {walls} | {cpus} | {ratios} | {durable} |", flush=True)
    for new_name, base_name in comparisons:
        w, w_low, w_high = paired(runs, new_name, base_name, 0, index)
        c, c_low, c_high = paired(runs, new_name, base_name, 1, index)
        verdicts.append(
            f"- {pair}: {new_name} ÷ {base_name}, {len(runs[new_name])} rounds: wall {w:.3f} "
            f"[{w_low:.3f}, {w_high:.3f}], CPU {c:.3f} [{c_low:.3f}, {c_high:.3f}]: "
            f"{verdict(w_low, w_high)}")
print(f"load average at the end: {open('/proc/loadavg').read().strip()}")
print()
print(f"Paired ratios (median over rounds of NEW ÷ BASE in the same round, "
      f"{level:.1%} bootstrap interval{'; --more ' + str(more) if more else ''}), wall verdict:")
for line in verdicts:
    print(line)
