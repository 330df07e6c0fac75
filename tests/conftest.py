"""Session-wide fixtures: the emulators start once per test session, never per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local.emulators import EmulatorHosts, start_all
from local.processes import Supervisor

PROJECT = "imagebot-local"
BUCKET = "imagebot-images-local"


@pytest.fixture(scope="session")
def emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHosts]:
    """Real Pub/Sub, Firestore and Cloud Storage emulators, with the standard variables set."""
    supervisor = Supervisor(tmp_path_factory.mktemp("emulator-logs"))
    saved = dict(os.environ)
    try:
        hosts = start_all(supervisor, PROJECT, BUCKET)
        os.environ.update(hosts.environment())
        os.environ["GOOGLE_CLOUD_PROJECT"] = PROJECT
        yield hosts
    finally:
        supervisor.stop()
        os.environ.clear()
        os.environ.update(saved)
