#!/usr/bin/env python3
"""Print the vision model card's figures as Markdown tables (for models/README.md).

  python3 models/card_table.py [models/checkpoint_vlm.json] [--eval eval.json]

With --eval (the JSON of `cap dataset --eval ... --json eval.json`), the same table is
printed from those figures instead, so the two can be compared line by line.
Standard library only.
"""
import argparse
import json

RELATIONS = ["on", "in", "holding", "gripper_empty", "left_of", "right_of", "near", "visible"]


def pct(x):
    return f"{100 * x:.1f}%"


def side_by_side(splits):
    names = list(splits)
    print("| relation | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for r in RELATIONS + ["all"]:
        cells = []
        for n in names:
            s = splits[n]["all"] if r == "all" else splits[n]["per_relation"].get(r)
            cells.append("-" if not s else f"{pct(s['answered_accuracy'])} / {pct(s['answered'])}")
        label = f"**{r}**" if r == "all" else r
        print(f"| {label} | " + " | ".join(cells) + " |")


def detail(splits):
    print("| split | statements | accuracy at 0.5 | answered | answered accuracy | confident wrong | ECE |")
    print("|---|---|---|---|---|---|---|")
    for n, s in splits.items():
        a = s["all"]
        print(f"| {n} | {a['statements']} | {pct(a['accuracy'])} | {pct(a['answered'])} | "
              f"{pct(a['answered_accuracy'])} | {pct(a['confident_wrong'])} | {a['ece']:.3f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("card", nargs="?", default="models/checkpoint_vlm.json")
    ap.add_argument("--eval")
    a = ap.parse_args()
    if a.eval:
        splits = {r.get("family") or r["dir"]: r for r in json.load(open(a.eval))}
    else:
        card = json.load(open(a.card))
        splits = card["splits"]
        cal = card["calibration"]
        print(f"Calibration ({cal['validation']['images']} validation images, "
              f"{cal['validation']['statements']} statements): ECE {cal['ece_before']:.3f} before, "
              f"{cal['ece_after']:.3f} after.\n")
        print("| relation | temperature | cannot_tell below |")
        print("|---|---|---|")
        for r in RELATIONS:
            print(f"| {r} | {cal['temperature'][r]:.2f} | {cal['min_confidence'][r]:.2f} |")
        print()
    print("Answered accuracy / share answered:\n")
    side_by_side(splits)
    print()
    detail(splits)


if __name__ == "__main__":
    main()
