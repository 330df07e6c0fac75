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


def start_all(supervisor: Supervisor, project: str, bucket: str) -> EmulatorHosts:
    """Start the three emulators side by side (the two JVMs take seconds each) and wait."""
    pubsub = f"127.0.0.1:{free_port()}"
    firestore = f"127.0.0.1:{free_port()}"
    storage = f"http://127.0.0.1:{free_port()}"
    gcloud = _gcloud()
    storage_script = Path(sys.executable).with_name("gcp-storage-emulator")
    storage_port = storage.rsplit(":", 1)[1]
    supervisor.spawn(
        "pubsub-emulator",
        [gcloud, "beta", "emulators", "pubsub", "start", f"--host-port={pubsub}", f"--project={project}"],
    )
    supervisor.spawn(
        "firestore-emulator", [gcloud, "emulators", "firestore", "start", f"--host-port={firestore}"]
    )
    supervisor.spawn(
        "storage-emulator",
        [
            str(storage_script),
            "start",
            "--host=127.0.0.1",
            f"--port={storage_port}",
            "--in-memory",
            f"--default-bucket={bucket}",
        ],
    )
    supervisor.wait("pubsub-emulator", f"http://{pubsub}", timeout=90)
    supervisor.wait("firestore-emulator", f"http://{firestore}", timeout=90)
    supervisor.wait("storage-emulator", storage, timeout=30)
    return EmulatorHosts(pubsub=pubsub, firestore=firestore, storage=storage)
