"""Google Cloud clients, created on first use and then shared by every request thread.

Lazily, so that the process answers health checks before it has credentials or a network,
and once, because each client holds a connection pool. Tests hand in emulator-backed ones;
against the emulators the clients find them through the standard variables
(STORAGE_EMULATOR_HOST, FIRESTORE_EMULATOR_HOST).
"""

from __future__ import annotations

import threading

from google.cloud import firestore, pubsub_v1, storage


class CloudClients:
    def __init__(
        self,
        project: str,
        *,
        storage_client: storage.Client | None = None,
        firestore_client: firestore.Client | None = None,
    ) -> None:
        self._project = project
        self._storage = storage_client
        self._firestore = firestore_client
        self._publisher: pubsub_v1.PublisherClient | None = None
        self._lock = threading.Lock()

    def storage(self) -> storage.Client:
        with self._lock:
            if self._storage is None:
                self._storage = storage.Client(project=self._project)
            return self._storage

    def publisher(self) -> pubsub_v1.PublisherClient:
        with self._lock:
            if self._publisher is None:
                self._publisher = pubsub_v1.PublisherClient()
            return self._publisher

    def firestore(self) -> firestore.Client:
        with self._lock:
            if self._firestore is None:
                self._firestore = firestore.Client(project=self._project)
            return self._firestore
