"""Generated files match their source (`make sync` writes them), and the lint rules ruff and
mypy cannot state hold."""

from __future__ import annotations

import re
from pathlib import Path

from tools import sync

ROOT = Path(__file__).resolve().parents[2]


def test_every_generated_file_is_up_to_date():
    assert sync.stale() == [], "run make sync"


def test_copies_in_both_deployables_are_byte_identical():
    for source, targets in sync.COPIES.items():
        copies = {(ROOT / target).read_bytes() for target in targets}
        assert len(copies) == 1, f"copies of {source} differ"
        assert copies == {sync.copy_text(source).encode()}


def test_a_type_ignore_names_its_error_and_says_why():
    # ruff's PGH003 asks for the error code; the comment after it is ours to ask for.
    pattern = re.compile(r"#\s*type:\s*ignore(\[[\w,\s-]+\])?(.*)$")
    bare = []
    for folder in ("functions", "gpu_service"):
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                found = pattern.search(line)
                if found and (not found.group(1) or "#" not in found.group(2)):
                    bare.append(f"{path.relative_to(ROOT)}:{number}")
    assert not bare, f"type: ignore without a code and a reason: {bare}"
