"""Code in the deployables that nothing uses, found by vulture (run by `make lint`).

Tests, the local stack and deploy scripts are read too, since they use the deployables' code,
but only findings in functions/ and gpu_service/ count: the rest is not shipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import vulture

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("functions", "gpu_service")
READ = (*SHIPPED, "deploy", "local", "bench", "tests", "tools/vulture_whitelist.py")


def findings() -> list[str]:
    scan = vulture.Vulture()
    scan.scavenge([str(ROOT / path) for path in READ])
    shipped = [ROOT / path for path in SHIPPED]
    return [
        item.get_report()
        for item in scan.get_unused_code(min_confidence=60)
        if any(Path(item.filename).is_relative_to(folder) for folder in shipped)
    ]


def main() -> int:
    found = findings()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
