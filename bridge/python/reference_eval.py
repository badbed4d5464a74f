"""Run cap's shipped reference policies on the PyBullet reference arm, through the
bridge, and judge each episode on PyBullet's own object poses.

For each task of each scene and each seed:
  1. `cap world SCENE --seed N`: the layout, which examples/pybullet_panda.py builds;
  2. the arm serves one connection (`--once`), in real time;
  3. `cap exec SCENE examples/policies/TASK.rhai --task TASK --seed N --robot ws://...`
     (simulation check first, then the motions on the PyBullet arm);
  4. after cap disconnects the arm settles for 1 s and writes its object poses;
  5. `cap judge SCENE --task TASK --poses FINAL.json`: the task's predicate on them.

    python bridge/python/reference_eval.py --seeds 0,1,2 --out runs/pybullet
    # prints one line per episode, then the table; writes OUT/summary.json and
    # OUT/summary.md; each episode's report, trace and arm record are in OUT/TASK-SEED/

Every step has a deadline; an arm or cap that overruns is killed and the episode is
counted as a miss, with the reason."""

import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def tasks_of(scene):
    """Task names of a scene file, in order (the `name` line after each [[tasks]])."""
    names, in_task = [], False
    with open(scene) as f:
        for line in f:
            s = line.strip()
            if s == "[[tasks]]":
                in_task = True
            elif in_task and s.startswith("name"):
                names.append(re.sub(r'^name\s*=\s*"(.*)"$', r"\1", s))
                in_task = False
    return names


def episode(args, scene, task, seed):
    out = os.path.join(args.out, f"{task}-{seed}")
    os.makedirs(out, exist_ok=True)
    world = os.path.join(out, "world.json")
    final = os.path.join(out, "pybullet_final.json")
    record = os.path.join(out, "pybullet_arm.jsonl")
    for p in (final, record):
        if os.path.exists(p):
            os.remove(p)
    subprocess.run([args.cap, "world", scene, "--seed", str(seed), "--out", world], check=True,
                   timeout=60)
    arm = subprocess.Popen([args.python, os.path.join(HERE, "examples", "pybullet_panda.py"), world,
                            "--once", "--final-poses", final, "--record", record],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    row = {"scene": os.path.basename(scene), "task": task, "seed": seed}
    try:
        url, deadline = None, time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = arm.stdout.readline()
            if not line:
                break
            m = re.search(r"serving on (ws://\S+)", line)
            url = m.group(1) if m else None
        if url is None:
            row.update(pybullet="miss", why="the PyBullet arm did not start")
            return row
        policy = os.path.join(args.policies, f"{task}.rhai")
        t0 = time.monotonic()
        cap = subprocess.run([args.cap, "exec", scene, policy, "--task", task, "--seed", str(seed),
                              "--robot", url, "--out", out],
                             capture_output=True, text=True, timeout=args.episode_timeout_s)
        row["wall_s"] = round(time.monotonic() - t0, 1)
        try:
            arm.wait(timeout=15)
        except subprocess.TimeoutExpired:
            arm.kill()
        report = {}
        rp = os.path.join(out, "report.json")
        if os.path.exists(rp):
            with open(rp) as f:
                report = json.load(f)
        robot = report.get("robot") or {}
        failure = report.get("failure") or {}
        row.update(cap=report.get("status", f"exit {cap.returncode}"),
                   failure=failure.get("kind"), message=failure.get("message"),
                   motions=robot.get("motions"),
                   tracking_rad=robot.get("max_tracking_error_rad"),
                   sim_check=robot.get("sim_check"))
        if not os.path.exists(final):
            row.update(pybullet="miss", why="the arm wrote no final poses")
            return row
        judged = subprocess.run([args.cap, "judge", scene, "--task", task, "--seed", str(seed),
                                 "--poses", final], capture_output=True, text=True, timeout=60)
        row["pybullet"] = {0: "success", 1: "failed"}.get(judged.returncode, "error")
        row["judge"] = (judged.stdout or judged.stderr).strip()
        if row["pybullet"] != "success":
            row["why"] = f"{row['failure'] or 'no cap failure'}: {row['message'] or row['judge']}"
        return row
    except subprocess.TimeoutExpired as e:
        row.update(pybullet="miss", why=f"timed out: {' '.join(map(str, e.cmd[:2]))}")
        return row
    finally:
        if arm.poll() is None:
            arm.kill()
            arm.wait(timeout=5)


def table(rows):
    lines = ["| task | seed | cap | PyBullet judge | motions | tracking (rad) | wall (s) | why |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        trk = f"{r['tracking_rad']:.4f}" if r.get("tracking_rad") is not None else "-"
        lines.append(f"| {r['task']} | {r['seed']} | {r.get('cap', '-')} | {r['pybullet']} | "
                     f"{r.get('motions', '-')} | {trk} | {r.get('wall_s', '-')} | {r.get('why', '')} |")
    ok = sum(r["pybullet"] == "success" for r in rows)
    lines.append("")
    lines.append(f"success on PyBullet's poses: {ok}/{len(rows)} ({100.0 * ok / max(len(rows), 1):.0f}%)")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cap", default=os.path.join(ROOT, "target", "release", "cap"))
    ap.add_argument("--python", default=sys.executable, help="a Python with pybullet, numpy, websockets")
    ap.add_argument("--scenes", nargs="+", default=[os.path.join(ROOT, "scenes", "tabletop.toml")])
    ap.add_argument("--tasks", nargs="*", help="only these tasks")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--policies", default=os.path.join(ROOT, "examples", "policies"))
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "pybullet"))
    ap.add_argument("--episode-timeout-s", type=float, default=240.0)
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    jobs = [(sc, t, s) for sc in args.scenes for t in tasks_of(sc)
            if not args.tasks or t in args.tasks for s in seeds]
    rows = []
    for k, (scene, task, seed) in enumerate(jobs, 1):
        r = episode(args, scene, task, seed)
        rows.append(r)
        print(f"[{k}/{len(jobs)}] {task} seed {seed}: PyBullet {r['pybullet']}, cap {r.get('cap', '-')}"
              f"{', ' + r['why'] if r.get('why') else ''}", flush=True)
    text = table(rows)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(text + "\n")
    return 0 if rows and all(r["pybullet"] == "success" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
