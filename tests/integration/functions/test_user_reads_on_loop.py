"""The webhook's read of users' settings on its event loop, on the Firestore emulator: reads
asked for together go as one BatchGetDocuments, each gets its own user's document."""

from __future__ import annotations

import asyncio

from google.cloud import firestore
from imagebot.edges.store import UserReadsOnLoop

from tests.conftest import PROJECT

USERS = range(5_100_000, 5_100_250)


class CountingClient:
    """firestore.Client, counting its get_all calls (the round trips)."""

    def __init__(self) -> None:
        self.db = firestore.Client(project=PROJECT)
        self.batches: list[int] = []

    def collection(self, name: str) -> firestore.CollectionReference:
        return self.db.collection(name)

    def get_all(self, refs):  # type: ignore[no-untyped-def]
        self.batches.append(len(refs))
        return self.db.get_all(refs)


def test_reads_asked_for_together_share_round_trips_and_each_gets_its_own(emulators):
    sync = firestore.Client(project=PROJECT)
    for user_id in USERS[::2]:  # every other user has settings; the rest have no document
        sync.collection("users").document(str(user_id)).set({"language": "ru", "n": user_id})

    async def scenario() -> tuple[list[dict], list[int], dict]:
        client = CountingClient()
        reads = UserReadsOnLoop(client)  # type: ignore[arg-type]
        alone = await reads.get_user(USERS[0])
        crowd = await asyncio.gather(*(reads.get_user(user_id) for user_id in [*USERS, USERS[1]]))
        return crowd, client.batches, alone

    crowd, batches, alone = asyncio.run(scenario())
    assert alone == {"language": "ru", "n": USERS[0]}  # a read alone goes at once, by itself
    expected = [{"language": "ru", "n": u} if (u - USERS[0]) % 2 == 0 else {} for u in [*USERS, USERS[1]]]
    assert crowd == expected
    # The crowd's 250 users (one of them asked for twice) went in batches of at most 100, read
    # side by side in the worker threads, so in no set order.
    assert batches[0] == 1 and sorted(batches[1:]) == [50, 100, 100]


def test_a_failed_read_fails_every_reader_waiting_on_it(emulators):
    class Broken(CountingClient):
        def get_all(self, refs):  # type: ignore[no-untyped-def]
            raise RuntimeError("firestore unavailable")

    async def scenario() -> list[object]:
        reads = UserReadsOnLoop(Broken())  # type: ignore[arg-type]
        outcomes = await asyncio.gather(*(reads.get_user(u) for u in USERS[:3]), return_exceptions=True)
        return [*outcomes, await asyncio.gather(reads.get_user(USERS[0]), return_exceptions=True)]

    *failed, again = asyncio.run(scenario())
    assert all(isinstance(outcome, RuntimeError) for outcome in [*failed, *again])  # and it reads again
