"""Nothing in the settings schema is decorative: every field of ``orgs.inheritance.schema.SECTIONS`` is read
by product code and has a test that proves its effect.

A test proves a field by carrying ``@pytest.mark.setting("<section>.<field>")`` (on the function, its
class, or the module's ``pytestmark``; a marker may be bound to a module-level name first). The markers
are found by reading the test modules (``ast``), so this walk holds whichever tests are selected.
"Read by product code" means the field's name is a string in a module of ``tenants``, ``orgs`` or
``idp`` other than the schema itself and the migrations, or a name the templates use
(``branding.values.<field>``); a template field ``email_<kind>`` / ``sms_<kind>`` also counts as read
where the code calls ``orgs.inheritance.texts.email_template`` / ``sms_template`` with ``kind="<kind>"``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from orgs.inheritance.schema import SECTIONS

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("tenants", "orgs", "idp")
SCHEMA = ROOT / "orgs" / "settings_schema.py"
TEMPLATE_READERS = {"email_template": "email", "sms_template": "sms"}  # orgs.inheritance.texts: field = <prefix>_<kind>
ALL_FIELDS = sorted(f"{s.key}.{f.name}" for s in SECTIONS.values() for f in s.fields)


def _is_setting_mark(node: ast.AST) -> str | None:
    """``pytest.mark.setting("a.b")`` → "a.b"."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "setting"
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "mark"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value
    return None


def _marks_in(node: ast.AST, named: dict[str, str]) -> Iterator[str]:
    for sub in ast.walk(node):
        found = _is_setting_mark(sub)
        if found:
            yield found
        elif isinstance(sub, ast.Name) and sub.id in named:
            yield named[sub.id]


def proven_fields() -> dict[str, list[str]]:
    """field → the tests (``file::name``) that carry its marker."""
    proven: dict[str, list[str]] = {}
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        named: dict[str, str] = {}  # NAME = pytest.mark.setting("...") at module level
        module_marks: list[str] = []
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                target = node.targets[0].id
                if (found := _is_setting_mark(node.value)) is not None:
                    named[target] = found
                elif target == "pytestmark":
                    module_marks.extend(_marks_in(node.value, named))
        tests: list[tuple[str, list[str]]] = []
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                marks = [m for d in node.decorator_list for m in _marks_in(d, named)]
                tests.append((node.name, marks))
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                class_marks = [m for d in node.decorator_list for m in _marks_in(d, named)]
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name.startswith("test"):
                        marks = [m for d in item.decorator_list for m in _marks_in(d, named)]
                        tests.append((f"{node.name}.{item.name}", class_marks + marks))
        for name, marks in tests:
            for mark in {*module_marks, *marks}:
                proven.setdefault(mark, []).append(f"{path.relative_to(ROOT)}::{name}")
    return proven


def _strings_of_product_code() -> tuple[set[str], set[str]]:
    """The string constants of product modules, and the template fields asked for by kind
    (``email_template(kind="otp")`` reads ``email_otp``)."""
    strings: set[str] = set()
    kinds: set[str] = set()
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            if path == SCHEMA or "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    strings.add(node.value)
                elif (
                    isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in TEMPLATE_READERS
                ):
                    prefix = TEMPLATE_READERS[node.func.id]
                    for kw in node.keywords:
                        if kw.arg == "kind" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                            kinds.add(f"{prefix}_{kw.value.value}")
    return strings, kinds


def _template_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "templates").rglob("*.html"):
        names.update(re.findall(r"branding\.(?:values|texts)\.([a-z_]+)", path.read_text()))
    return names


def test_every_setting_marker_names_a_field_of_the_schema() -> None:
    unknown = {mark: tests for mark, tests in proven_fields().items() if mark not in ALL_FIELDS}
    assert not unknown, (
        f"these markers name no field of orgs/inheritance/schema.py (typo, or a removed field): {unknown}"
    )


@pytest.mark.parametrize("name", ALL_FIELDS)
def test_the_field_is_read_by_product_code(name: str) -> None:
    section, field = name.split(".")
    strings, kinds = _strings_of_product_code()
    read = field in strings or field in _template_names()
    if section == "templates":
        read = read or field in kinds
    assert read, (
        f"nothing in tenants/, orgs/ or idp/ reads '{name}': make it act (and test that with "
        f'@pytest.mark.setting("{name}")) or remove it from orgs/inheritance/schema.py'
    )


@pytest.mark.parametrize("name", ALL_FIELDS)
def test_a_test_proves_the_field_acts(name: str) -> None:
    assert proven_fields().get(name), (
        f"no test proves that '{name}' acts: mark the test that sets it on an organization (or the root) and "
        f'asserts the behaviour it changes with @pytest.mark.setting("{name}"), or remove the field'
    )
