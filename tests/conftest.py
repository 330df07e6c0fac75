"""Session-wide fixtures: the emulators start once per test session, never per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from local.emulators import EmulatorHosts, start_all
from local.processes import Supervisor

PROJECT = "imagebot-local"
BUCKET = "imagebot-images-local"

# Property-based tests run in `make test`: a bounded number of examples each, no per-example
# deadline (two cores are shared with the emulators), and no example database left in the tree.
# HYPOTHESIS_PROFILE=thorough searches harder, for a bug hunt rather than every run.
settings.register_profile("imagebot", max_examples=100, deadline=None, database=None, print_blob=True)
settings.register_profile("thorough", parent=settings.get_profile("imagebot"), max_examples=5000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "imagebot"))


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
