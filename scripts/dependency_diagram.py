"""Draw the import dependencies between Canopy's packages as a Mermaid diagram, from the code.

    python scripts/dependency_diagram.py            # print the diagrams
    python scripts/dependency_diagram.py --write    # refresh them in docs/architecture.md
    python scripts/dependency_diagram.py --check    # fail when docs/architecture.md is out of date

The graph is grimp's (the library behind import-linter, so it sees what the contracts see,
imports inside functions included). An arrow A --> B means some module of A imports one of B.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
# The parts, top to bottom, as the layers contracts name them: the packages, then the features of orgs.
PARTS = [
    "idp.api",
    "idp.account",
    "idp.oidc",
    "idp.saml",
    "idp.federation",
    "idp.passkeys",
    "idp.flow",
    "orgs",
    "tenants",
]
ORGS_PARTS = [
    "orgs.claims",
    "orgs.invitations",
    "orgs.profiles",
    "orgs.inheritance",
    "orgs.sharing",
    "orgs.jobs",
    "orgs.tree",
]
# marker name -> the parts that diagram draws
DIAGRAMS = {"dependency-diagram": PARTS, "orgs-diagram": ORGS_PARTS}


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}: begin (scripts/dependency_diagram.py --write) -->", f"<!-- {name}: end -->"


def diagram(parts: list[str], graph: grimp.ImportGraph) -> str:
    lines = ["```mermaid", "flowchart TD"]
    lines += [f'  {p.replace(".", "_")}["{p}"]' for p in parts]
    for source in parts:
        for target in parts:
            if source == target:
                continue
            if graph.direct_import_exists(importer=source, imported=target, as_packages=True):
                lines.append(f"  {source.replace('.', '_')} --> {target.replace('.', '_')}")
    lines.append("```")
    return "\n".join(lines)


def _with_diagram(text: str, name: str, block: str) -> str:
    begin, end = markers(name)
    if begin not in text or end not in text:
        raise SystemExit(f"{DOC} has no {begin} … {end} block")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{block}\n{end}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="refresh the diagram in docs/architecture.md")
    group.add_argument("--check", action="store_true", help="fail when docs/architecture.md is out of date")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph("tenants", "orgs", "idp", include_external_packages=False)
    blocks = {name: diagram(parts, graph) for name, parts in DIAGRAMS.items()}
    if not (args.write or args.check):
        print("\n\n".join(blocks.values()))
        return 0
    text = DOC.read_text()
    updated = text
    for name, block in blocks.items():
        updated = _with_diagram(updated, name, block)
    if args.check:
        if updated != text:
            print(
                "docs/architecture.md: a dependency diagram is out of date; run "
                "`python scripts/dependency_diagram.py --write`",
                file=sys.stderr,
            )
            return 1
        return 0
    DOC.write_text(updated)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
