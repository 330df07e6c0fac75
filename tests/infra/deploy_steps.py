"""Running the build's scripts as Cloud Build runs them: `python3 deploy/<script> …` from the
repository root, with `gcloud` a stand-in on PATH that prints the token the API stand-ins accept
(tests/infra/google_apis.py) for `auth print-access-token` and `print-identity-token`, and
refuses anything else, so a script that still shells out for an API call fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.infra.google_apis import ACCESS_TOKEN
from tests.infra.tools import ROOT


def build_env(bin_dir: Path) -> dict[str, str]:
    """The environment of a build step: the gcloud stand-in first on PATH, no Telegram secrets."""
    gcloud = bin_dir / "gcloud"
    gcloud.write_text(
        "#!/bin/sh\n"
        'case "$1 $2" in\n'
        f'  "auth print-access-token"|"auth print-identity-token") echo {ACCESS_TOKEN};;\n'
        '  *) echo "gcloud stand-in: no $*" >&2; exit 1;;\n'
        "esac\n"
    )
    gcloud.chmod(0o755)
    env = {key: value for key, value in os.environ.items() if not key.startswith("TELEGRAM_")}
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}", "PYTHONUNBUFFERED": "1"}


def step(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, f"deploy/{script}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
