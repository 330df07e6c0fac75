"""The package's layout is its architecture: flows use steps, chat, edges and core; core is pure."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "functions" / "imagebot"
ENTRY_POINTS = {
    "telegram_webhook",
    "validate_prompt",
    "rate_limit",
    "dispatch_vertex",
    "report_progress",
    "report_failure",
    "sweep_stuck_jobs",
    "deliver_image",
    "budget_guard",
}


def imports(path: Path) -> set[str]:
    package = ".".join(("imagebot", *path.parent.relative_to(PACKAGE).parts))
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or node.level):
            # A relative import (the blocklist's `from .confusables`) is named in full.
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return found


def modules(folder: str) -> list[Path]:
    return sorted(p for p in (PACKAGE / folder).glob("*.py") if p.name != "__init__.py")


def test_one_flow_per_entry_point_named_after_it():
    main = (PACKAGE.parent / "main.py").read_text()
    assert {p.stem for p in modules("flows")} == ENTRY_POINTS
    assert all(f"def {name}(" in main and f"imagebot.flows.{name}." in main for name in ENTRY_POINTS)


@pytest.mark.parametrize("path", modules("flows"), ids=lambda p: p.stem)
def test_flows_do_not_import_each_other(path):
    assert not {name for name in imports(path) if name.startswith("imagebot.flows")}


# Pillow on bytes in memory is computation, not I/O: core/photos.py checks a user's photo with it.
PURE_LIBRARIES = {"PIL"}


@pytest.mark.parametrize("path", modules("core"), ids=lambda p: p.stem)
def test_the_core_imports_only_the_standard_library_and_itself(path):
    outside = {
        name
        for name in imports(path)
        if name.split(".")[0] not in sys.stdlib_module_names | PURE_LIBRARIES
        and not name.startswith("imagebot.core")
    }
    assert not outside - {"__future__"}


@pytest.mark.parametrize("folder", ["core", "edges", "chat", "steps"])
def test_nothing_below_the_flows_imports_a_flow(folder):
    for path in modules(folder):
        assert not {name for name in imports(path) if name.startswith("imagebot.flows")}, path
