"""Load on the Telegram webhook: requests/s, latency, errors, and every update published once.

    python bench/webhook_load.py                     # THREADS=32, the stack's setting
    python bench/webhook_load.py --threads 8,16,64   # the same for other THREADS values
    python bench/webhook_load.py --client-check      # the load clients alone, on a null server

What runs: the real `telegram_webhook` under functions-framework (gunicorn, one worker, THREADS
request threads), started as local/stack.py starts it, on the real Pub/Sub emulator (the prompts
topic) and the Firestore emulator (read for the language of /start). Nothing else.

What is sent, on loopback only: Updates built as Telegram builds them
(local/fake_telegram/_updates.py) from 20,000 distinct private chats: text prompts (70%),
`/pixel …`-style shortcuts (10%), /start (10%) and presses of the style buttons under the bot's
question (10%), each with the secret-token header, over keep-alive HTTP/1.1 connections, one
request in flight on each (as Telegram sends). Three kinds of phase, each bounded in requests
and in seconds:

- closed loop at C connections (32, what one cloud instance is given at once, THREADS and
  max_instance_request_concurrency in terraform/; and 100, Telegram's most): each connection
  sends its next update as soon as the answer is read. This finds the most one instance can
  take; latency at saturation is queueing (Little's law: p50 ≈ C / throughput). The C
  connections are opened before the clock starts, as wrk opens its own: what is timed is the
  requests, not a thousand handshakes at once.
- open loop at R updates a second (100 to 400; Poisson arrivals) over at most 100 connections:
  what Telegram does with a bot's traffic. Latency counts from the update's arrival, so waiting
  for a free connection is in it.
- stress: closed loop at 1,000 connections.

The client is asyncio streams writing requests made once (RawConnection: ~0.07 ms of CPU a
request); `--client httpx` uses httpx.AsyncClient instead, about 20 times heavier here, which on
two shared cores takes CPU from the server (`--client-check` measures both against a server
that does nothing).

Measured per phase: requests/s, latency p50/p95/p99, non-2xx answers and transport errors apart,
and the CPU seconds of the client, the webhook and each emulator. Checked: a pull subscription
made on the prompts topic before the phase is drained after it, and the `update_id` attributes of
what was published are compared with the updates answered 200 that publish (all but /start, which
is answered in the response): lost (accepted, never published) and doubled (published as more
than one message) are counted.

Benchmarks print and save figures (bench/results/webhook_load-*.json); they never fail on a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import random
import re
import secrets
import shutil
import ssl
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_REPOSITORY = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(_REPOSITORY), str(_REPOSITORY / "functions")]  # imagebot, as functions/ deploys it

import httpx  # noqa: E402
from google.api_core.exceptions import AlreadyExists, DeadlineExceeded  # noqa: E402
from google.cloud import pubsub_v1  # noqa: E402
from imagebot.core import keyboards  # noqa: E402

from bench.common import (  # noqa: E402
    ROOT,
    group_cpu_seconds,
    latency_summary,
    machine,
    machine_busy_seconds,
    save,
    self_cpu_seconds,
)
from local.fake_telegram import _updates  # noqa: E402
from local.processes import Supervisor, free_port  # noqa: E402

# httpcore runs `import sniffio` on every async request; sniffio is not installed here, and each
# failed import scans sys.path (0.4 ms of the client's CPU a request). Fail it at once instead.
sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]
# Plain HTTP on loopback; one TLS context for all clients, else each loads the CA bundle (50 ms).
_TLS = ssl.create_default_context()

PROJECT = "imagebot-bench"
PROMPTS_TOPIC = "prompts"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TELEGRAM_CONNECTIONS = 100  # the most `max_connections` setWebhook allows
REQUEST_TIMEOUT = 30.0  # seconds a request may take before it counts as a transport error
BOT = {"id": 7_000_000_001, "is_bot": True, "first_name": "imagebot", "username": "imagebot_local_bot"}
PROMPTS = (
    "a lighthouse on a cliff at dusk", "a fox in a snowy forest", "a busy market street in the rain",
    "a red kite over green hills", "an old tram in Lisbon, morning light", "a cat asleep on a stack of books",
    "кот на крыше под луной", "a castle in the clouds --no people",
)  # fmt: skip
UPDATE_IDS = itertools.count(800_000_001)  # Telegram numbers updates in sequence
# What a crowd sends: mostly prompts, some shortcuts, some /start, some style-button presses.
MIX = (("prompt", 0.70), ("shortcut", 0.10), ("start", 0.10), ("button", 0.10))


@dataclass(frozen=True)
class Update:
    update_id: int
    kind: str
    body: bytes
    publishes: bool  # answered 200, it must reach the prompts topic exactly once


@dataclass
class Sample:
    update_id: int
    seconds: float
    status: int | None
    error: str | None


@dataclass
class Phase:
    name: str
    connections: int
    requests: int
    time_limit: float
    rate: float | None = None  # None: closed loop; else updates arriving at this rate a second
    samples: list[Sample] = field(default_factory=list)
    wall: float = 0.0


def crowd(count: int, users: int, rng: random.Random) -> list[Update]:
    """`count` Updates from `users` distinct private chats, in Telegram's shapes, with fresh ids."""
    message_ids: Counter[int] = Counter()
    result = []
    now = int(time.time())
    for _ in range(count):
        update_id = next(UPDATE_IDS)
        user_id = 10_000_000 + rng.randrange(users)
        language = rng.choice(("en", "en", "ru", None))
        sender = _updates.user(user_id, first_name=f"User{user_id % 1000}", language_code=language)
        chat = _updates.chat(user_id, "private", sender)
        message_ids[user_id] += 1
        kind = rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
        if kind == "button":
            question = _updates.text_message(
                message_id=message_ids[user_id], date=now, chat=chat, sender=BOT, text="Which style?"
            )
            question["reply_markup"] = keyboards.style_question(f"u{update_id - 1}")
            style = rng.choice(("ghibli", "realistic", "pixel"))
            query = _updates.callback_query(
                query_id=str(rng.randrange(10**18, 2 * 10**18)), sender=sender, message=question,
                data=keyboards.encode("style", style, f"u{update_id - 1}"),
            )  # fmt: skip
            update = _updates.update(update_id, "callback_query", query)
        else:
            text = {
                "prompt": rng.choice(PROMPTS),
                "shortcut": f"/{rng.choice(('ghibli', 'realistic', 'pixel'))} {rng.choice(PROMPTS)}",
                "start": "/start",
            }[kind]
            message = _updates.text_message(
                message_id=message_ids[user_id], date=now, chat=chat, sender=sender, text=text
            )
            update = _updates.update(update_id, "message", message)
        body = json.dumps(update, ensure_ascii=False).encode()
        result.append(Update(update_id, kind, body, publishes=kind != "start"))
    return result


# -- the load ---------------------------------------------------------------------------------


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)")


class RawConnection:
    """One keep-alive HTTP/1.1 connection on asyncio streams, each request written from bytes
    made once: a few tens of µs of CPU a request, so on two cores the figures are the server's."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self._address = (parts.hostname or "127.0.0.1", parts.port or 80)
        lines = [
            f"POST {parts.path or '/'} HTTP/1.1",
            f"Host: {parts.netloc}",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        self._head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode()
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def open(self) -> None:
        """Connect now, before the first request is timed (as wrk does: a closed-loop phase
        times requests, not a thousand connections' handshakes at once). A failure here is
        met again, and counted, by the first request."""
        with contextlib.suppress(OSError):
            self._streams = await asyncio.open_connection(*self._address)

    async def post(self, body: bytes) -> int:
        try:
            if self._streams is None:
                self._streams = await asyncio.open_connection(*self._address)
            reader, writer = self._streams
            writer.write(self._head + b"%d\r\n\r\n" % len(body) + body)
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            length = _CONTENT_LENGTH.search(head)
            if length is None:
                raise ValueError("an answer without Content-Length")
            await reader.readexactly(int(length[1]))
            if b"connection: close" in head:
                await self.close()
            return int(head[9:12])
        except BaseException:
            await self.close()  # the next request opens a fresh connection
            raise

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


class HttpxConnection:
    """The same through httpx.AsyncClient, a pool of one (about 1.3 ms of CPU a request here)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self._url, self._headers = url, headers
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self._client = httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT, verify=_TLS)

    async def open(self) -> None:
        """httpx connects on the first request."""

    async def post(self, body: bytes) -> int:
        return (await self._client.post(self._url, content=body, headers=self._headers)).status_code

    async def close(self) -> None:
        await self._client.aclose()


CLIENTS: dict[str, type[RawConnection] | type[HttpxConnection]] = {
    "raw": RawConnection,
    "httpx": HttpxConnection,
}


async def _load(url: str, secret: str, updates: list[Update], phase: Phase, client: str) -> None:
    headers = {"Content-Type": "application/json", SECRET_HEADER: secret}
    connections = [CLIENTS[client](url, headers) for _ in range(phase.connections)]

    async def send(http: RawConnection | HttpxConnection, update: Update, since: float) -> None:
        try:
            status, error = await asyncio.wait_for(http.post(update.body), REQUEST_TIMEOUT), None
        except (TimeoutError, OSError, EOFError, ValueError, httpx.HTTPError) as exc:
            status, error = None, type(exc).__name__
        phase.samples.append(Sample(update.update_id, time.perf_counter() - since, status, error))

    async def closed_loop(http: RawConnection | HttpxConnection) -> None:
        # One request in flight per connection, the next sent as soon as the answer is read.
        for update in pending:
            if time.perf_counter() > deadline:
                return
            await send(http, update, time.perf_counter())

    async def open_loop(rate: float) -> None:
        # Updates arrive at random (Poisson, `rate` a second) and wait for a free connection, as
        # Telegram queues them; latency counts from arrival, so that waiting is in the figures.
        idle: asyncio.Queue[RawConnection | HttpxConnection] = asyncio.Queue()
        for http in connections:
            idle.put_nowait(http)

        async def arrive(update: Update, due: float) -> None:
            http = await idle.get()
            try:
                await send(http, update, due)
            finally:
                idle.put_nowait(http)

        gaps = random.Random(len(updates))
        tasks, due = [], started
        for update in updates:
            due += gaps.expovariate(rate)
            if due > deadline:
                break
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(arrive(update, due)))
        await asyncio.gather(*tasks)

    pending = iter(updates)
    started = time.perf_counter()
    deadline = started + phase.time_limit
    try:
        if phase.rate is None:
            await asyncio.gather(*(http.open() for http in connections))  # the clock starts after
            started = time.perf_counter()
            deadline = started + phase.time_limit
            await asyncio.gather(*(closed_loop(http) for http in connections))
        else:
            await open_loop(phase.rate)
    finally:
        await asyncio.gather(*(http.close() for http in connections))
    phase.wall = time.perf_counter() - started


def run_load(url: str, secret: str, updates: list[Update], phase: Phase, client: str) -> None:
    asyncio.run(_load(url, secret, updates[: phase.requests], phase, client))


# -- Pub/Sub: the tap on the prompts topic ----------------------------------------------------


class Tap:
    """A pull subscription on the prompts topic: sees what is published after it is made."""

    def __init__(self, name: str) -> None:
        self.subscriber = pubsub_v1.SubscriberClient()
        self.path = self.subscriber.subscription_path(PROJECT, f"bench-{name}-{secrets.token_hex(4)}")
        topic = pubsub_v1.PublisherClient.topic_path(PROJECT, PROMPTS_TOPIC)
        self.subscriber.create_subscription(
            request={"name": self.path, "topic": topic, "ack_deadline_seconds": 60}
        )

    def drain(self, expect: int, quiet: float = 3.0, limit: float = 120.0) -> list[tuple[str, str]]:
        """(update_id attribute, message_id) of every message, until `expect` have come and then
        nothing more for `quiet` seconds (a second copy would show up), or `limit` passes."""
        seen: list[tuple[str, str]] = []
        deadline = time.monotonic() + limit
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            if len(seen) >= expect and time.monotonic() - last_new > quiet:
                break
            try:
                response = self.subscriber.pull(
                    request={"subscription": self.path, "max_messages": 1000}, timeout=2.0
                )
            except DeadlineExceeded:
                continue
            if not response.received_messages:
                continue
            ack_ids = [m.ack_id for m in response.received_messages]
            self.subscriber.acknowledge(request={"subscription": self.path, "ack_ids": ack_ids})
            seen += [
                (m.message.attributes.get("update_id", ""), m.message.message_id)
                for m in response.received_messages
            ]
            last_new = time.monotonic()
        self.subscriber.delete_subscription(request={"subscription": self.path})
        return seen


def exactly_once(
    updates: list[Update], samples: list[Sample], published: list[tuple[str, str]]
) -> dict[str, int]:
    """Accepted updates that publish, against the update_ids the tap saw."""
    publishes = {u.update_id for u in updates if u.publishes}
    accepted = {s.update_id for s in samples if s.status == 200 and s.update_id in publishes}
    messages: dict[str, set[str]] = {}
    for update_id, message_id in published:
        messages.setdefault(update_id, set()).add(message_id)  # a redelivery of the tap keeps its id
    seen = {int(u) for u in messages}
    return {
        "accepted_to_publish": len(accepted),
        "published_update_ids": len(seen),
        "lost": len(accepted - seen),
        "doubled": sum(1 for ids in messages.values() if len(ids) > 1),
        "published_not_accepted": len(seen - accepted),  # e.g. a client timeout after the publish
    }


# -- processes --------------------------------------------------------------------------------


def start_emulators(supervisor: Supervisor) -> dict[str, str]:
    """Pub/Sub and Firestore only (the webhook uses no Cloud Storage)."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise SystemExit("the gcloud CLI (with its Pub/Sub and Firestore emulators) is not on PATH")
    pubsub, firestore = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    supervisor.spawn(
        "pubsub",
        [gcloud, "beta", "emulators", "pubsub", "start", f"--host-port={pubsub}", f"--project={PROJECT}"],
    )
    supervisor.spawn("firestore", [gcloud, "emulators", "firestore", "start", f"--host-port={firestore}"])
    supervisor.wait("pubsub", f"http://{pubsub}", timeout=90)
    supervisor.wait("firestore", f"http://{firestore}", timeout=90)
    return {"PUBSUB_EMULATOR_HOST": pubsub, "FIRESTORE_EMULATOR_HOST": firestore}


def start_webhook(supervisor: Supervisor, hosts: dict[str, str], secret: str, server: Server) -> str:
    port = free_port()
    source = server.source
    url = f"http://127.0.0.1:{port}/"
    if server.kind == "aiogram":
        peer_env = {
            **hosts,
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "PROMPTS_TOPIC": PROMPTS_TOPIC,
            "TELEGRAM_WEBHOOK_SECRET": secret,
            "PYTHONUNBUFFERED": "1",
        }
        script = ROOT / "bench" / "aiogram_peer.py"
        supervisor.spawn("webhook", [str(server.python), str(script), f"--port={port}"], env=peer_env)
        supervisor.wait("webhook", url, timeout=60)
        return url
    env: dict[str, str] = {
        **hosts,
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "IMAGES_BUCKET": "bench-images",
        "TELEGRAM_BOT_TOKEN": "123456:BENCH-FAKE-TOKEN",
        "TELEGRAM_WEBHOOK_SECRET": secret,
        "TELEGRAM_API_BASE": "http://127.0.0.1:9",  # never called on these paths
        "BOT_USERNAME": str(BOT["username"]),
        "THREADS": str(server.threads),
        "WORKERS": str(server.workers),  # functions-framework's gunicorn worker processes (1 unless set)
        "PYTHONUNBUFFERED": "1",
    }
    supervisor.spawn(
        "webhook",
        [
            str(Path(sys.executable).with_name("functions-framework")), f"--source={source}",
            "--target=telegram_webhook", "--signature-type=http", "--host=127.0.0.1", f"--port={port}",
        ],
        env=env,
        cwd=source.parent,
    )  # fmt: skip
    supervisor.wait("webhook", url, timeout=60)
    return url


# -- the client alone -------------------------------------------------------------------------


def _null_server(port: int, ready: Any) -> None:
    """HTTP/1.1 keep-alive server that reads each request and answers 200 `{}` at once."""
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=4096)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def client_check(
    updates: list[Update], connections: list[int], requests: int, clients: list[str]
) -> list[dict[str, Any]]:
    """The client's own ceiling: the same load against a server that does nothing."""
    port = free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=_null_server, args=(port, ready), daemon=True)
    server.start()
    ready.wait(10)
    rows = []
    try:
        for client, count in ((client, count) for client in clients for count in connections):
            phase = Phase(f"null-{count}", count, requests, time_limit=60)
            cpu = self_cpu_seconds()
            run_load(f"http://127.0.0.1:{port}/", "x", updates, phase, client)
            rows.append(
                {
                    "client": client,
                    "connections": count,
                    "requests": len(phase.samples),
                    "requests_per_second": round(len(phase.samples) / phase.wall, 1),
                    "client_cpu_per_request_ms": round(
                        (self_cpu_seconds() - cpu) / len(phase.samples) * 1000, 3
                    ),
                    **latency_summary([s.seconds for s in phase.samples]),
                }
            )
    finally:
        server.terminate()
        server.join(5)
    return rows


# -- one server configuration ----------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    threads: int
    workers: int = 1
    source: Path = ROOT / "functions" / "main.py"
    kind: str = "functions"  # functions: under functions-framework; aiogram: the peer (bench/aiogram_peer.py)
    python: Path = Path(sys.executable)  # the peer's interpreter: the bench virtualenv's

    def __str__(self) -> str:
        if self.kind == "aiogram":
            return "aiogram"
        if self.asgi:
            return "asgi"
        return f"{self.threads}" + (f"x{self.workers}w" if self.workers > 1 else "")

    @property
    def asgi(self) -> bool:
        """An `@functions_framework.aio.http` entry point: the framework serves it with uvicorn
        (THREADS does not apply)."""
        return self.kind != "aiogram" and "@functions_framework.aio.http" in self.source.read_text()

    @property
    def label(self) -> str:
        if self.kind == "aiogram":
            return "aiogram 3 peer (aiohttp)"
        if self.asgi:
            return "telegram_webhook, ASGI (uvicorn)"
        return f"telegram_webhook, Flask, THREADS={self.threads}"


def run_server(
    server: Server,
    phases: list[Phase],
    hosts: dict[str, str],
    supervisor: Supervisor,
    rng: random.Random,
    client: str,
) -> list[dict[str, Any]]:
    secret = secrets.token_urlsafe(24)
    url = start_webhook(supervisor, hosts, secret, server)
    pids = {"webhook": supervisor.processes["webhook"].pid}
    pids |= {name: supervisor.processes[name].pid for name in ("pubsub", "firestore")}
    rows = []
    try:
        warm = Phase("warm-up", 50, 500, time_limit=60)  # the instance's clients made, channels open
        run_load(url, secret, crowd(warm.requests, 500, rng), warm, client)
        for index, phase in enumerate(phases, start=1):
            updates = crowd(phase.requests, users=20_000, rng=rng)
            tap = Tap(f"{index}")
            load_before = os.getloadavg()[0]
            cpu = cpu_now(pids)
            run_load(url, secret, updates, phase, client)
            cpu_after = cpu_now(pids)
            load_after = os.getloadavg()[0]
            samples = phase.samples
            by_id = {u.update_id: u for u in updates}
            expect = sum(1 for s in samples if s.status == 200 and by_id[s.update_id].publishes)
            check = exactly_once(updates, samples, tap.drain(expect))
            statuses = Counter(s.status for s in samples if s.status is not None)
            rows.append(
                {
                    "server": server.label,
                    "threads": server.threads,
                    "workers": server.workers,
                    "client": client,
                    "phase": phase.name,
                    "connections": phase.connections,
                    "arrival_rate": phase.rate,
                    "requests": len(samples),
                    "seconds": round(phase.wall, 2),
                    "requests_per_second": round(len(samples) / phase.wall, 1),
                    **latency_summary([s.seconds for s in samples]),
                    "ok_2xx": sum(n for status, n in statuses.items() if 200 <= status < 300),
                    "non_2xx": {str(status): n for status, n in statuses.items() if not 200 <= status < 300},
                    "transport_errors": dict(Counter(s.error for s in samples if s.error)),
                    "kinds": dict(Counter(by_id[s.update_id].kind for s in samples)),
                    **check,
                    "cpu_seconds": cpu_spent(cpu, cpu_after),
                    "load_average_1m": [round(load_before, 2), round(load_after, 2)],
                }
            )
            print_row(rows[-1], server)
    finally:
        supervisor.stop_one("webhook")
    return rows


def cpu_now(pids: dict[str, int]) -> dict[str, float]:
    parts = {name: group_cpu_seconds(pid) for name, pid in pids.items()}
    return {"client": self_cpu_seconds(), **parts, "machine": machine_busy_seconds()}


def cpu_spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each part spent in a phase, and what everything else on the machine did."""
    spent = {name: after[name] - before[name] for name in before}
    spent["other"] = max(0.0, spent.pop("machine") - sum(spent.values()))  # clock ticks: ±0.1 s
    return {name: round(value, 2) for name, value in spent.items()}


HEADER = (
    "  THREADS | load          | reqs  |  req/s |    p50 |    p95 |    p99 | non-2xx | transport | lost "
    "| doubled | CPU s: client webhook pubsub firestore other / wall"
)


def print_row(row: dict[str, Any], server: Server) -> None:
    load = (
        f"{row['connections']} conns"
        if row["arrival_rate"] is None
        else f"{row['arrival_rate']:g}/s, ≤{row['connections']}"
    )
    cpu = " ".join(f"{value:.1f}" for value in row["cpu_seconds"].values())
    non_2xx, transport = sum(row["non_2xx"].values()), sum(row["transport_errors"].values())
    print(
        f"  {server!s:>7} | {load:<13} | {row['requests']:>5} | {row['requests_per_second']:>6.0f} | "
        f"{row['p50_ms']:>6.1f} | {row['p95_ms']:>6.1f} | {row['p99_ms']:>6.1f} | {non_2xx:>7} | "
        f"{transport:>9} | {row['lost']:>4} | {row['doubled']:>7} | {cpu} / {row['seconds']:.1f}",
        flush=True,
    )


def comparison(rows: list[dict[str, Any]], servers: list[Server]) -> list[str]:
    """Side by side, each server's rows of every round, and ours over the peer's."""
    lines = [
        "  server                             | conns | round | req/s  |    p50 |    p99 | errors | lost "
        "| doubled",
    ]
    by: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        by.setdefault((row["server"], row["connections"]), []).append(row)
    levels = sorted({row["connections"] for row in rows})
    for level in levels:
        for server in servers:
            for n, row in enumerate(by.get((server.label, level), []), start=1):
                errors = sum(row["non_2xx"].values()) + sum(row["transport_errors"].values())
                lines.append(
                    f"  {server.label:<34} | {level:>5} | {n:>5} | {row['requests_per_second']:>6.0f} | "
                    f"{row['p50_ms']:>6.1f} | {row['p99_ms']:>6.1f} | {errors:>6} | {row['lost']:>4} | "
                    f"{row['doubled']:>7}"
                )
        peer = next((server for server in servers if server.kind == "aiogram"), None)
        if peer is None:
            continue
        for server in servers:
            if server is peer:
                continue
            ours, theirs = by.get((server.label, level), []), by.get((peer.label, level), [])
            ratios = [
                f"{a['requests_per_second'] / b['requests_per_second']:.2f}x req/s, p99 "
                f"{a['p99_ms']:.0f} vs {b['p99_ms']:.0f} ms"
                for a, b in zip(ours, theirs, strict=False)
            ]
            lines.append(f"  {server.label} / aiogram at {level}: " + "; ".join(ratios))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", default="32", help="THREADS values, comma-separated (the stack runs 32)")
    parser.add_argument(
        "--workers", type=int, default=1, help="WORKERS: gunicorn processes (Cloud Functions: 1)"
    )
    parser.add_argument(
        "--source", type=Path, default=Server.source, help="functions' main.py (to compare a change)"
    )
    parser.add_argument(
        "--connections", default="32,100", help="closed-loop phases: connections, comma-separated"
    )
    parser.add_argument("--requests", type=int, default=3000, help="requests in each closed-loop phase")
    parser.add_argument(
        "--rates", default="100,200,300,400", help="open-loop phases: updates a second, comma-separated"
    )
    parser.add_argument("--rate-requests", type=int, default=2000, help="requests in each open-loop phase")
    parser.add_argument(
        "--stress-requests", type=int, default=5000, help="requests at the stress level (0: skip)"
    )
    parser.add_argument("--stress-connections", type=int, default=1000)
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per phase at most")
    parser.add_argument(
        "--client", choices=sorted(CLIENTS), default="raw", help="the load client (raw: asyncio streams)"
    )
    parser.add_argument("--client-check", action="store_true", help="only the clients, against a null server")
    parser.add_argument(
        "--peer-python",
        type=Path,
        help="compare with the aiogram peer, run by this interpreter (the bench virtualenv's): each "
        "server in turn at --compare-connections, --rounds times",
    )
    parser.add_argument(
        "--baseline-source", type=Path, help="a second functions' main.py loaded in turn too (before/after)"
    )
    parser.add_argument("--compare-connections", default="100,1000")
    parser.add_argument("--compare-requests", type=int, default=6000, help="requests a comparison phase")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    results: dict[str, Any] = {"machine": machine(), "args": vars(args)}

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (1 min) before the run")
    most = max(args.requests, args.stress_requests)
    closed = [int(c) for c in args.connections.split(",") if c]
    levels = closed + ([args.stress_connections] if args.stress_requests else [])
    print("the load client alone, against a null server (its ceiling on this machine):")
    clients = sorted(CLIENTS) if args.client_check else [args.client]
    results["client_check"] = client_check(crowd(most, 20_000, rng), levels, most, clients)
    for row in results["client_check"]:
        print(
            f"  {row['client']:>5} {row['connections']:>5} connections: "
            f"{row['requests_per_second']:>7.1f} req/s, {row['client_cpu_per_request_ms']:.3f} ms client CPU "
            f"a request, p50 {row['p50_ms']} ms"
        )
    if args.client_check:
        print(f"saved {save('webhook_load-client', results).relative_to(ROOT)}")
        return 0

    def phases() -> list[Phase]:
        if args.peer_python:
            return [
                Phase(f"closed-{c}", int(c), args.compare_requests, args.time_limit)
                for c in args.compare_connections.split(",")
            ]
        batch = [Phase(f"closed-{c}", c, args.requests, args.time_limit) for c in closed]
        for rate in (float(r) for r in args.rates.split(",") if r):
            batch.append(
                Phase(f"open-{rate:g}", TELEGRAM_CONNECTIONS, args.rate_requests, args.time_limit, rate)
            )
        if args.stress_requests:
            batch.append(Phase("stress", args.stress_connections, args.stress_requests, args.time_limit))
        return batch

    supervisor = Supervisor(Path(tempfile.mkdtemp(prefix="bench-webhook-")))
    results["runs"] = []
    try:
        hosts = start_emulators(supervisor)
        os.environ.update(hosts)
        publisher = pubsub_v1.PublisherClient()
        with contextlib.suppress(AlreadyExists):
            publisher.create_topic(name=publisher.topic_path(PROJECT, PROMPTS_TOPIC))
        print(f"telegram_webhook under functions-framework (logs in {supervisor.log_dir}); latency in ms:")
        print(HEADER)
        servers = [Server(int(t), args.workers, args.source.resolve()) for t in args.threads.split(",")]
        if args.baseline_source:  # e.g. the Flask entry point of an earlier commit, before and after
            servers.insert(
                0, Server(int(args.threads.split(",")[0]), args.workers, args.baseline_source.resolve())
            )
        if args.peer_python:
            servers.append(Server(0, kind="aiogram", python=args.peer_python))
        for _ in range(args.rounds if args.peer_python else 1):
            for server in servers:
                results["runs"] += run_server(server, phases(), hosts, supervisor, rng, args.client)
    finally:
        supervisor.stop()
    if args.peer_python:
        print(
            "\nside by side (each server loaded in turn, on the same emulators; errors: non-2xx, transport):"
        )
        for line in comparison(results["runs"], servers):
            print(line)
    results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(
        "latency: from the update's arrival (closed loop: from sending) to the answer read; transport: errors"
    )
    print("without an HTTP answer; lost: answered 200, never published; doubled: published as two messages")
    print(f"saved {save('webhook_load', results).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
