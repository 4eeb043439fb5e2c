#!/usr/bin/env python3
"""The include rules of the tree, checked (docs/architecture.md):

- dataplane/ never includes controlplane/;
- inside the dataplane, dependencies run one way: net (and memory) ->
  conntrack -> policy -> worker; no include climbs back.

Exits 1 and names each offending include.
"""
import pathlib
import re
import sys

RANK = {"memory": 0, "net": 0, "conntrack": 1, "policy": 2, "worker": 3}
CONTROLPLANE = {p.name for p in pathlib.Path(__file__).resolve().parent.parent.joinpath("controlplane").iterdir()
                if p.is_dir()}


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
    problems = []
    for f in sorted(root.joinpath("dataplane").rglob("*.[ch]pp")):
        layer = f.relative_to(root / "dataplane").parts[0]
        for n, line in enumerate(f.read_text().splitlines(), 1):
            m = re.match(r'\s*#\s*include\s+"([\w.]+)/', line)
            if not m:
                continue
            top = m.group(1)
            where = f"{f.relative_to(root)}:{n}: {line.strip()}"
            if top == "controlplane" or (top in CONTROLPLANE and top not in RANK):
                problems.append(f"{where}: the dataplane includes the control plane")
            elif top in RANK and layer in RANK and RANK[top] > RANK[layer]:
                problems.append(f"{where}: {layer} must not depend on {top} (net -> conntrack -> policy -> worker)")
    for p in problems:
        print(p)
    print(f"layering: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
