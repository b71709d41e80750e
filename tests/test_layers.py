"""The layers' rules where import-linter's contracts cannot reach: the factory's own imports."""

from __future__ import annotations

import ast
from pathlib import Path

from mapapp.paths import PACKAGE_DIR

OUTSIDE_SERVICES = {"geopy", "telegram"}
# Only these modules may sit directly under mapapp/ (the factory, settings, CLI, file paths).
ROOT_MODULES = {"__init__.py", "config.py", "cli.py", "paths.py"}


def imported_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_the_root_modules_import_no_outside_service_library():
    for name in ROOT_MODULES:
        found = {n.split(".")[0] for n in imported_names(PACKAGE_DIR / name)}
        assert found.isdisjoint(OUTSIDE_SERVICES), name


def test_no_other_module_sits_directly_under_the_package():
    assert {p.name for p in PACKAGE_DIR.glob("*.py")} == ROOT_MODULES
