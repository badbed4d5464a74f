#!/usr/bin/env python3
"""What `cap eval --record all` costs: the same suite run plain and with every episode
recorded, interleaved, N rounds; prints the medians and the median of the paired
differences (this kind of VM drifts in speed from minute to minute, and a plain run
next to a recorded one drifts least).

    python3 bench/eval_recording.py [--rounds 20] [--threads 2] [--cap target/release/cap] [SUITE]

Standard library only. Each run writes to a fresh temporary directory.
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run(cap, suite, threads, record):
    out = tempfile.mkdtemp(prefix="cap-eval-rec-")
    cmd = [cap, "eval", suite, "--out", out, "--threads", str(threads)]
    if record:
        cmd += ["--record", "all"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(out, ignore_errors=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suite", nargs="?", default="suites/default.toml")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--cap", default="target/release/cap")
    a = ap.parse_args()
    plain, recorded = [], []
    for i in range(a.rounds):
        plain.append(run(a.cap, a.suite, a.threads, False))
        recorded.append(run(a.cap, a.suite, a.threads, True))
        print(f"round {i + 1}/{a.rounds}: plain {plain[-1][0]:.2f} s, recorded {recorded[-1][0]:.2f} s", file=sys.stderr)
    for k, what in [(0, "wall"), (1, "CPU")]:
        p = statistics.median(x[k] for x in plain)
        r = statistics.median(x[k] for x in recorded)
        d = [100 * (y[k] - x[k]) / x[k] for x, y in zip(plain, recorded)]
        print(
            f"{what:4s} s: plain median {p:.2f}, recorded median {r:.2f}; "
            f"recording {statistics.median(d):+.1f}% (median of paired differences, "
            f"{min(d):+.0f}% to {max(d):+.0f}%, {a.rounds} rounds, {a.threads} workers)"
        )


if __name__ == "__main__":
    main()
