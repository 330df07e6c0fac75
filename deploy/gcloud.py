"""The few gcloud calls the deploy scripts make, in one place (and out of the pure code)."""

from __future__ import annotations

import json
import subprocess
from typing import Any


def run(*args: str) -> str:
    """gcloud's stdout; raises with its stderr on failure."""
    done = subprocess.run(["gcloud", *args], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"gcloud {' '.join(args[:3])} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout.strip()


def run_json(*args: str) -> Any:
    return json.loads(run(*args, "--format=json"))


def identity_token(audience: str) -> str:
    return run("auth", "print-identity-token", f"--audiences={audience}")


def access_token() -> str:
    return run("auth", "print-access-token")
