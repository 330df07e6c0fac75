"""Where the tools with virtualenvs of their own live: the paths `make tools` creates.

Each is keyed by its pin file's hash, like the project venv in .ci/run, so a change of pin builds
a new one and a fresh clone reuses the cached one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def tool_cache() -> Path:
    """Where tools and fetched artefacts live between runs (CI caches it)."""
    return Path(os.environ.get("IMAGEBOT_TOOLS") or Path.home() / ".cache" / "imagebot")


def tool_venv(name: str) -> Path:
    pins = (ROOT / "requirements" / "tools" / f"{name}.txt").read_bytes()
    return tool_cache() / f"{name}-{hashlib.sha256(pins).hexdigest()[:12]}"


def tool_bin(name: str, program: str) -> Path:
    """The tool's program, or a failed test that says how to install it (never a silent skip)."""
    path = tool_venv(name) / "bin" / program
    if not path.exists():
        pytest.fail(f"{program} is not installed at {path}: run `make tools` (make test does it)")
    return path


def terraform() -> str:
    found = shutil.which("terraform")
    if found is None:
        pytest.fail("terraform is not on PATH (only `terraform fmt` is needed; no providers)")
    return found
