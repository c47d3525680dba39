"""Draw the import dependencies between Canopy's packages as a Mermaid diagram, from the code.

    python scripts/dependency_diagram.py            # print the diagram
    python scripts/dependency_diagram.py --write    # refresh it in docs/architecture.md
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
BEGIN = "<!-- dependency-diagram: begin (scripts/dependency_diagram.py --write) -->"
END = "<!-- dependency-diagram: end -->"
# The parts, top to bottom, as the layers contract names them.
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


def diagram() -> str:
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph("tenants", "orgs", "idp", include_external_packages=False)
    lines = ["```mermaid", "flowchart TD"]
    lines += [f'  {p.replace(".", "_")}["{p}"]' for p in PARTS]
    for source in PARTS:
        for target in PARTS:
            if source == target:
                continue
            if graph.direct_import_exists(importer=source, imported=target, as_packages=True):
                lines.append(f"  {source.replace('.', '_')} --> {target.replace('.', '_')}")
    lines.append("```")
    return "\n".join(lines)


def _with_diagram(text: str, block: str) -> str:
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC} has no {BEGIN} … {END} block")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{block}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="refresh the diagram in docs/architecture.md")
    group.add_argument("--check", action="store_true", help="fail when docs/architecture.md is out of date")
    args = parser.parse_args()
    block = diagram()
    if not (args.write or args.check):
        print(block)
        return 0
    text = DOC.read_text()
    updated = _with_diagram(text, block)
    if args.check:
        if updated != text:
            print(
                "docs/architecture.md: the dependency diagram is out of date; run "
                "`python scripts/dependency_diagram.py --write`",
                file=sys.stderr,
            )
            return 1
        return 0
    DOC.write_text(updated)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
