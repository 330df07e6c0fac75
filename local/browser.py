"""Headless Chromium for the playground's test and screenshot: Debian's package, driven by Playwright.

Playwright's own browser download needs the internet, which CI and this machine lack; its Python
wheel carries the driver, and the system Chromium (`apt-get install chromium`) does the rest.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import Browser, Playwright

# Without these a root, GPU-less, offline Chromium stalls or reaches out to Google's services.
# Playwright adds --headless and a fresh temporary --user-data-dir to every launch itself.
FLAGS = (
    "--no-sandbox",  # root cannot use the sandbox
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_path() -> str:
    """The system Chromium ($CHROMIUM, else chromium on PATH); a clear error when there is none."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path or not Path(path).exists():
        raise FileNotFoundError(
            "no Chromium found: install Debian's package (apt-get install chromium) or set CHROMIUM "
            "to its path; `playwright install` cannot download one here"
        )
    return path


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=list(FLAGS))
