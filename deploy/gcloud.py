"""The few gcloud calls the deploy scripts make, and their one HTTP helper, in one place (and out
of the pure code). Google's REST APIs are called directly with gcloud's access token, so a test
can point them at local stand-ins (`--run-api` and the like)."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from typing import Any


def run(*args: str) -> str:
    """gcloud's stdout; raises with its stderr on failure."""
    done = subprocess.run(["gcloud", *args], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"gcloud {' '.join(args[:3])} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout.strip()


def identity_token(audience: str) -> str:
    return run("auth", "print-identity-token", f"--audiences={audience}")


def access_token() -> str:
    return run("auth", "print-access-token")


def http(
    method: str,
    url: str,
    token: str | None = None,
    body: Any = None,
    timeout: float = 60,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """(status, body) of one request; an HTTP error status is returned, not raised."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def rest(method: str, url: str, token: str, body: Any = None, timeout: float = 60) -> Any:
    """The JSON answer of a Google REST call; raises RuntimeError with the API's message otherwise."""
    status, answer = http(method, url, token, body, timeout)
    if status != 200:
        raise RuntimeError(f"{method} {url.split('?')[0]}: {status} {answer[:500].decode(errors='replace')}")
    return json.loads(answer or b"{}")
