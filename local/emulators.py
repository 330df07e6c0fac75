"""The Google Cloud emulators: Pub/Sub and Firestore from the gcloud CLI, Cloud Storage from PyPI.

Each `start_*` returns the value for the standard variable the Google clients read
(`PUBSUB_EMULATOR_HOST`, `FIRESTORE_EMULATOR_HOST`, `STORAGE_EMULATOR_HOST`), so the code under
test talks to an emulator exactly as it would talk to the cloud.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from local.processes import Supervisor, free_port


@dataclass(frozen=True)
class EmulatorHosts:
    pubsub: str
    firestore: str
    storage: str

    def environment(self) -> dict[str, str]:
        return {
            "PUBSUB_EMULATOR_HOST": self.pubsub,
            "FIRESTORE_EMULATOR_HOST": self.firestore,
            "STORAGE_EMULATOR_HOST": self.storage,
        }


def _gcloud() -> str:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise RuntimeError("the gcloud CLI (with its pubsub and firestore emulators) is not on PATH")
    return gcloud


def start_pubsub(supervisor: Supervisor, project: str) -> str:
    host = f"127.0.0.1:{free_port()}"
    argv = [_gcloud(), "beta", "emulators", "pubsub", "start", f"--host-port={host}", f"--project={project}"]
    supervisor.start("pubsub-emulator", argv, ready_url=f"http://{host}", timeout=90)
    return host


def start_firestore(supervisor: Supervisor) -> str:
    host = f"127.0.0.1:{free_port()}"
    argv = [_gcloud(), "emulators", "firestore", "start", f"--host-port={host}"]
    supervisor.start("firestore-emulator", argv, ready_url=f"http://{host}", timeout=90)
    return host


def start_storage(supervisor: Supervisor, bucket: str) -> str:
    port = free_port()
    script = Path(sys.executable).with_name("gcp-storage-emulator")
    argv = [str(script), "start", "--host", "127.0.0.1", f"--port={port}", "--in-memory", f"--default-bucket={bucket}"]
    supervisor.start("storage-emulator", argv, ready_url=f"http://127.0.0.1:{port}", timeout=30)
    return f"http://127.0.0.1:{port}"


def start_all(supervisor: Supervisor, project: str, bucket: str) -> EmulatorHosts:
    return EmulatorHosts(
        pubsub=start_pubsub(supervisor, project),
        firestore=start_firestore(supervisor),
        storage=start_storage(supervisor, bucket),
    )
