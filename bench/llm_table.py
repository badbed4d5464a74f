#!/usr/bin/env python3
"""The language-model table of README.md and bench/README.md, from `cap eval` output.

    python3 bench/llm_table.py LABEL=EVAL_DIR [LABEL=EVAL_DIR ...]

Each EVAL_DIR is a `cap eval --out` directory of a suite without programs (the model
writes every program). A task counts as solved when at least half its seeds succeed.
With a response cache in EVAL_DIR/cache (`cap eval --cache EVAL_DIR/cache`), every reply
the model gave is scanned for degenerate programs: one statement repeated more than 5
times in a row.
"""

import json
import pathlib
import sys
from collections import defaultdict

MAX_REPEATS = 5


def degenerate(content: str) -> bool:
    """Whether one statement repeats more than MAX_REPEATS times in a row."""
    run, last = 0, None
    for line in content.splitlines():
        s = line.strip()
        if not s or s.startswith("//") or s in ("{", "}", "```", "```rhai"):
            continue
        run = run + 1 if s == last else 1
        last = s
        if run > MAX_REPEATS:
            return True
    return False


def row(label: str, d: pathlib.Path) -> str:
    results = [json.loads(l) for l in (d / "results.jsonl").read_text().splitlines() if l.strip()]
    by_task = defaultdict(list)
    for r in results:
        by_task[(r["scene"], r["task"])].append(r)
    n = len(results)
    tasks = len(by_task)
    solved = sum(1 for rs in by_task.values() if 2 * sum(r["success"] for r in rs) >= len(rs))
    one_shot_tasks = sum(
        1 for rs in by_task.values() if 2 * sum(r["success"] and r["attempts"] == 1 for r in rs) >= len(rs)
    )
    one_shot = sum(1 for r in results if r["success"] and r["attempts"] == 1)
    final = sum(1 for r in results if r["success"])
    attempts = sum(r["attempts"] for r in results) / max(n, 1)
    tin = sum(r["tokens_in"] for r in results) / max(n, 1)
    tout = sum(r["tokens_out"] for r in results) / max(n, 1)
    wall = sum(r["wall_s"] for r in results)
    cache = d / "cache"
    if cache.is_dir():
        replies = [json.loads(p.read_text()).get("content", "") for p in cache.glob("*.json")]
        degen = f"{sum(degenerate(c) for c in replies)} of {len(replies)}"
    else:
        degen = "-"
    return (
        f"| {label} | {one_shot_tasks}/{tasks} | {solved}/{tasks} | {one_shot}/{n} ({100 * one_shot / max(n, 1):.0f}%) "
        f"| {final}/{n} ({100 * final / max(n, 1):.0f}%) | {attempts:.2f} | {tin:,.0f} / {tout:,.0f} | {wall / 60:.1f} | {degen} |"
    )


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print(
        "| configuration | tasks solved, attempt 1 | tasks solved | episodes, attempt 1 | episodes, final "
        "| mean attempts | tokens in / out per episode | wall min | degenerate replies |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for arg in sys.argv[1:]:
        label, _, d = arg.partition("=")
        print(row(label, pathlib.Path(d)))


if __name__ == "__main__":
    main()
