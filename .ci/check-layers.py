#!/usr/bin/env python3
"""Layering check (ARCHITECTURE.md): a crate depends only on crates in lower layers,
and the low crates (cap-core, cap-sim, cap-script) pull in no heavy dependency, not
even transitively. Reads `cargo metadata` (the lock file, nothing downloaded).
Exit 1 naming each violation."""
import json
import subprocess
import sys

# Bottom to top, as ARCHITECTURE.md's table lists them.
LAYERS = ["cap-core", "cap-robot", "cap-sim", "cap-script", "cap-llm", "cap-vision", "cap-agent",
          "cap-viz", "cap-bridge", "cap-cli"]
LOW = ["cap-core", "cap-robot", "cap-sim", "cap-script"]
# Crates whose presence in a low crate's tree means a heavy dependency leaked in.
HEAVY = {"ort", "ort-sys", "rerun", "tokio", "reqwest", "ureq", "hyper", "tonic",
         "llama-cpp-2", "llama-cpp-sys-2", "tungstenite", "arrow", "re_sdk"}


def main() -> int:
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True, capture_output=True, text=True).stdout)
    name = {p["id"]: p["name"] for p in meta["packages"]}
    # Normal (not dev, not build) dependencies of each package.
    deps = {}
    for node in meta["resolve"]["nodes"]:
        deps[node["id"]] = [d["pkg"] for d in node["deps"]
                            if any(k["kind"] is None for k in d["dep_kinds"])]
    ids = {name[i]: i for i in name if name[i] in LAYERS}
    problems = []
    for crate, cid in sorted(ids.items()):
        rank = LAYERS.index(crate)
        for d in deps.get(cid, []):
            dn = name[d]
            if dn in LAYERS and LAYERS.index(dn) >= rank:
                problems.append(f"{crate} depends on {dn}, which is not in a lower layer")
    for crate in LOW:
        cid = ids.get(crate)
        if cid is None:
            continue
        seen, stack, path = set(), [cid], {cid: [crate]}
        while stack:
            cur = stack.pop()
            for d in deps.get(cur, []):
                if d in seen:
                    continue
                seen.add(d)
                path[d] = path[cur] + [name[d]]
                dn = name[d]
                if dn in HEAVY or dn.startswith("re_"):
                    problems.append(f"{crate} pulls in {dn}: {' -> '.join(path[d])}")
                    continue
                stack.append(d)
    for p in problems:
        print(f"layering: {p}", file=sys.stderr)
    if not problems:
        print(f"layering: ok ({len(ids)} crates; {', '.join(LOW)} free of {len(HEAVY)} heavy crates)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
