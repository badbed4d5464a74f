#!/usr/bin/env python3
"""The vision inspector against the geometric one on the shipped scenes' checkpoints.

Runs every reference policy (examples/policies/<task>.rhai) on its scene for --seeds
seeds with `cap exec --inspector vision --checkpoint-on-subgoal` (the geometric
inspector cross-checks every checkpoint, and the trace keeps both verdicts), then
scores the vision verdicts against the geometric ones, per relation: the share
answered (not cannot_tell), accuracy on those, and the confident wrong answers
(confidence >= 0.9 and wrong). Statements the geometric inspector could not decide
are left out; statements outside the model's vocabulary (a mug, `upright`) count as
not answered.

  python3 models/shipped_checkpoints.py --cap target/release/cap --seeds 10 \
      [--vision-model models/checkpoint_vlm.onnx] [--json runs/shipped-checkpoints.json]

Uses only the Python standard library.
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib

SUITES = ["suites/default.toml", "suites/objects.toml"]
RELATION = re.compile(r"^(?:not\s+)?([a-z_]+)\(")


def scenes(root):
    out = []
    for suite in SUITES:
        path = os.path.join(root, suite)
        if not os.path.exists(path):
            continue
        s = tomllib.load(open(path, "rb"))
        for sc in s.get("scenes", []):
            p = os.path.normpath(os.path.join(os.path.dirname(path), sc["path"]))
            if p not in out:
                out.append(p)
    return out


def relation_of(verdicts):
    for v in verdicts:
        m = RELATION.match(v.get("detail") or "")
        if m:
            return m.group(1)
    return "other"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cap", default="target/release/cap")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--vision-model")
    ap.add_argument("--json")
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    per = collections.defaultdict(lambda: collections.Counter())
    runs = 0
    with tempfile.TemporaryDirectory() as tmp:
        for scene in scenes(root):
            tasks = tomllib.load(open(scene, "rb")).get("tasks", [])
            for t in tasks:
                policy = os.path.join(root, "examples", "policies", t["name"] + ".rhai")
                if not os.path.exists(policy):
                    continue
                for seed in range(a.seeds):
                    out = os.path.join(tmp, f"{t['name']}-{seed}")
                    cmd = [a.cap, "exec", scene, policy, "--task", t["name"], "--seed", str(seed),
                           "--inspector", "vision", "--checkpoint-on-subgoal", "--out", out]
                    if a.vision_model:
                        cmd += ["--vision-model", a.vision_model]
                    subprocess.run(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    runs += 1
                    trace = os.path.join(out, "trace.jsonl")
                    if not os.path.exists(trace):
                        continue
                    for line in open(trace):
                        e = json.loads(line)
                        if e.get("event") != "checkpoint":
                            continue
                        vs = e.get("verdicts", [])
                        vis = next((v for v in vs if v.get("inspector") == "vision"), None)
                        geo = next((v for v in vs if v.get("inspector") == "geometric"), None)
                        if not vis or not geo or geo["answer"] == "cannot_tell":
                            continue
                        c = per[relation_of([vis, geo])]
                        c["statements"] += 1
                        if vis["answer"] != "cannot_tell":
                            c["answered"] += 1
                            if vis["answer"] == geo["answer"]:
                                c["right"] += 1
                            elif vis["confidence"] >= 0.9:
                                c["confident_wrong"] += 1
                print(f"{t['name']}: {a.seeds} seeds", file=sys.stderr, flush=True)
    total = collections.Counter()
    for c in per.values():
        total.update(c)
    rows = sorted(per.items()) + [("all", total)]
    report = {}
    print(f"{'relation':<14} {'statements':>10} {'answered':>9} {'ans. acc.':>10} {'conf.wrong':>10}")
    for r, c in rows:
        n, ans = c["statements"], c["answered"]
        rep = {"statements": n, "answered": round(ans / n, 4) if n else 0.0,
               "answered_accuracy": round(c["right"] / ans, 4) if ans else 0.0,
               "confident_wrong": round(c["confident_wrong"] / ans, 4) if ans else 0.0}
        report[r] = rep
        print(f"{r:<14} {n:>10} {100 * rep['answered']:>8.1f}% {100 * rep['answered_accuracy']:>9.1f}% "
              f"{100 * rep['confident_wrong']:>9.1f}%")
    print(f"({runs} runs)")
    if a.json:
        json.dump({"runs": runs, "seeds": a.seeds, "per_relation": report}, open(a.json, "w"), indent=2)


if __name__ == "__main__":
    main()
