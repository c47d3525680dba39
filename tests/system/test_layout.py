"""The layout of tests/ stays as docs/architecture.md says: test modules in area folders named
tests/<area>/test_<subject>.py, helpers in tests/support/, fixtures in conftest.py files, and no
module importing a test module or a conftest (pytest discourages both; a helper two modules need
belongs in tests/support/, a fixture in the conftest above them)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(TESTS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module an import statement of ``path`` names (relative imports resolved), with its line."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def is_test_module_or_conftest(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "tests" and (parts[-1].startswith("test_") or parts[-1] == "conftest")


def test_no_module_imports_a_test_module_or_a_conftest() -> None:
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{line} imports {name}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, name in imported_modules(path)
        if is_test_module_or_conftest(name)
    ]
    assert not offenders, "move what is shared to tests/support/ (helpers) or a conftest.py (fixtures):\n" + "\n".join(
        offenders
    )


def test_test_modules_are_tests_area_test_subject() -> None:
    wrong = []
    for path in sorted(TESTS.rglob("test_*.py")):
        relative = path.relative_to(TESTS)
        if len(relative.parts) != 2 or relative.parts[0] == "support":
            wrong.append(f"{relative}: test modules live in tests/<area>/, helpers in tests/support/")
            continue
        area, stem = relative.parts[0], path.stem
        if not (TESTS / area / "__init__.py").exists():  # module names stay unique (tests.oidc.test_protocol)
            wrong.append(f"{relative}: tests/{area}/ needs an __init__.py")
        prefixes = {f"test_{area}", f"test_{area.removesuffix('s')}"}
        if stem in prefixes or any(stem.startswith(f"{prefix}_") for prefix in prefixes):
            wrong.append(f"{relative}: name the subject without the area (tests/{area}/test_<subject>.py)")
    assert not wrong, "\n".join(wrong)
