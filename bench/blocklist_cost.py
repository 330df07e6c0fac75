"""What the blocklist costs a prompt, and its import a cold instance.

    python bench/blocklist_cost.py                   # this tree's common/blocklist.py
    python bench/blocklist_cost.py --against HEAD~2  # and another revision's, for the difference

Per prompt: the fold alone and the whole check (`blocked_term`), best of five rounds of timeit,
for a short and a long English prompt, a Russian one, a disguised one and a 500-character one
(PROMPT_MAX_CHARS). The import is timed in a fresh interpreter (it compiles the term patterns
and reads the look-alike table), with and without the sources' bytecode at hand. Each revision
is loaded from git into a temporary package, as `make sync` lays it out in a deployable. Prints
the figures and saves them under bench/results/.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, save  # noqa: E402  (bench/ is no package)

PROMPTS = {
    "short": "a fox in the snow",
    "long": "a ginger cat asleep on a windowsill in the morning sun, soft light, watercolour, detailed",
    "russian": "рыжий кот спит на подоконнике в лучах утреннего солнца, акварель",
    "disguised": "ᴀ ɴ.ᴜ.ᴅ.ᴇ ｋ1ｄｓ on a beach",
    "500 chars": ("a lighthouse at dusk, " * 23)[:500],
}
FILES = ("blocklist.py", "confusables.py")


def lay_out(revision: str | None, folder: Path) -> Path:
    """The revision's common/ files (the working tree's for None) as a package `blocklist_pkg`."""
    package = folder / "blocklist_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in FILES:
        if revision is None:
            source = ROOT / "common" / name
            text = source.read_text() if source.exists() else None
        else:
            shown = subprocess.run(
                ["git", "show", f"{revision}:common/{name}"], cwd=ROOT, capture_output=True, text=True
            )
            text = shown.stdout if shown.returncode == 0 else None
        if text is not None:
            (package / name).write_text(text)
    return folder


def measure(folder: Path) -> dict[str, Any]:
    code = (
        "import time; t = time.perf_counter(); import blocklist_pkg.blocklist; print(time.perf_counter() - t)"
    )
    # Bytecode written: the first import compiles the sources (a new instance without .pyc files),
    # the later ones read the .pyc files.
    environ = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    imports = [
        float(
            subprocess.run(
                [sys.executable, "-c", code],
                cwd=folder,
                env=environ,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(4)
    ]
    sys.path.insert(0, str(folder))
    try:
        import blocklist_pkg.blocklist as blocklist

        per_prompt: dict[str, dict[str, float]] = {}
        for kind, prompt in PROMPTS.items():
            figures = {"blocked_term_us": _best_us(lambda p=prompt: blocklist.blocked_term(p))}
            if hasattr(blocklist, "fold"):
                figures["fold_us"] = _best_us(lambda p=prompt: blocklist.fold(p))
            figures["blocked"] = blocklist.blocked_term(prompt) is not None
            per_prompt[kind] = figures
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.startswith("blocklist_pkg")]:
            del sys.modules[name]
    return {
        "import_compiling_ms": round(imports[0] * 1000, 1),
        "import_ms": round(min(imports[1:]) * 1000, 1),
        "per_prompt": per_prompt,
    }


def _best_us(call: Any, number: int = 2000) -> float:
    return round(min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", help="a git revision whose blocklist to measure too")
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine()}
    for label, revision in (("this tree", None), (args.against, args.against)):
        if label is None:
            continue
        with tempfile.TemporaryDirectory() as folder:
            figures = measure(lay_out(revision, Path(folder)))
        results[label] = figures
        compiling = figures["import_compiling_ms"]
        print(f"{label}: import {figures['import_ms']} ms ({compiling} ms compiling the sources)")
        for kind, row in figures["per_prompt"].items():
            print(f"  {kind:>10}: " + ", ".join(f"{key} {value}" for key, value in row.items()))
    print(f"saved {save('blocklist_cost', results)}")


if __name__ == "__main__":
    main()
