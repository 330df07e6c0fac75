"""The whole pipeline on one machine: `python -m local.stack` (what `make up` runs).

Real emulators, every function under functions-framework, the real GPU service, the event
bridge standing in for Eventarc (with Eventarc's retry policy), a scheduler standing in for Cloud
Scheduler (the stuck-job sweep), a Vertex AI stand-in for prompt translation
(local/fake_vertex.py), and a fake Bot API unless TELEGRAM_API_BASE points elsewhere.

The functions, the GPU service and the stand-ins for Google's services are supervised as Cloud
Run runs instances: one that dies is reported on the console and restarted with backoff
(local/processes.py). The emulators and the fake Bot API are not: their state would be gone.
A stop signal stops everything at once; further signals during the stop are ignored.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from google.cloud import storage

from local.emulators import EmulatorHosts, start_all
from local.event_bridge import EVENTARC, EventarcRetry
from local.function_host import LEDGER_PATH
from local.processes import RestartPolicy, Supervisor, free_port
from local.wiring import Route, create_routes

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_SOURCE = ROOT / "functions" / "main.py"
FAKE_TOKEN = "123456:LOCAL-FAKE-TOKEN"  # only ever valid at the local fake Bot API
FAKE_BOT_USERNAME = "imagebot_local_bot"  # the fake Bot API's default bot
TRANSLATE_MODEL = "gemini-2.5-flash"  # a name only: the stand-in answers for any model
FUNCTIONS = (
    "telegram_webhook",
    "validate_prompt",
    "rate_limit",
    "dispatch_vertex",
    "report_progress",
    "deliver_image",
    "report_failure",
    "sweep_stuck_jobs",
)
# The tiny pipeline's safety checker flags every picture of a prompt with this word (the
# GPU service's TINY_FLAG_WORD; real weights ignore it): a flagged picture, on purpose.
TINY_FLAG_WORD = "flagme"

# The GPU service serves Vertex AI's custom-container routes too, and the Vertex AI stand-in
# forwards an endpoint's predictions to them: the second GPU home, on the same process.
AIP_ROUTES = {"AIP_HEALTH_ROUTE": "/vertex/health", "AIP_PREDICT_ROUTE": "/vertex/predict"}

log = logging.getLogger("local.stack")
# httpx logs every request's URL at INFO, and a Bot API URL holds the bot token
# (functions/imagebot/telegram.py keeps it quiet the same way).
logging.getLogger("httpx").setLevel(logging.WARNING)


@dataclass
class StackConfig:
    project: str = "imagebot-local"
    bucket: str = "imagebot-images-local"
    bot_token: str = FAKE_TOKEN
    webhook_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    telegram_api_base: str | None = None  # None: start the fake Bot API
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="imagebot-stack-")))
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. quota settings for tests
    webhook_threads: int = 32  # Telegram opens up to 100 connections; the default of 4 per core queues them
    emulators: EmulatorHosts | None = None  # already running (a test session's); else started here
    # routing.py: auto overflows to the endpoint stand-in once the oldest job has waited
    # OVERFLOW_QUEUE_AGE_SECONDS (60 unless extra_env says otherwise).
    gpu_route: str = "auto"
    # How a supervised child that dies comes back (Cloud Run replaces a crashed instance).
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    # Seconds between sweeps of stuck jobs: terraform's sweep_schedule is every five minutes
    # (`make up` reads LOCAL_SWEEP_PERIOD_SECONDS).
    sweep_period: float = 300.0
    # The event bridge's retries: Eventarc's (10 s to 600 s, for 24 h) unless a test compresses them.
    eventarc: EventarcRetry = EVENTARC

    @classmethod
    def from_env(cls) -> StackConfig:
        config = cls(telegram_api_base=os.environ.get("TELEGRAM_API_BASE") or None)
        config.bot_token = os.environ.get("TELEGRAM_BOT_TOKEN") or (
            FAKE_TOKEN if config.telegram_api_base is None else ""
        )
        if not config.bot_token:
            raise SystemExit("TELEGRAM_BOT_TOKEN is required when TELEGRAM_API_BASE is set")
        config.webhook_secret = os.environ.get("TELEGRAM_WEBHOOK_SECRET") or config.webhook_secret
        if period := os.environ.get("LOCAL_SWEEP_PERIOD_SECONDS"):
            config.sweep_period = float(period)
        return config


@dataclass
class LocalStack:
    config: StackConfig
    supervisor: Supervisor = field(init=False)
    hosts: EmulatorHosts | None = None
    urls: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(self.config.log_dir)

    @property
    def webhook_url(self) -> str:
        return self.urls["telegram_webhook"]

    @property
    def telegram_api_base(self) -> str:
        return self.urls["telegram"]

    def environment(self) -> dict[str, str]:
        """What every process of the stack sees: the same variables the cloud sets."""
        assert self.hosts is not None
        return {
            **self.hosts.environment(),
            "GOOGLE_CLOUD_PROJECT": self.config.project,
            "IMAGES_BUCKET": self.config.bucket,
            "TELEGRAM_BOT_TOKEN": self.config.bot_token,
            "TELEGRAM_WEBHOOK_SECRET": self.config.webhook_secret,
            "TELEGRAM_API_BASE": self.telegram_api_base,
            "BOT_USERNAME": os.environ.get("BOT_USERNAME") or FAKE_BOT_USERNAME,
            "PROGRESS_TOPIC": "job-progress",
            "TRANSLATE_MODEL": TRANSLATE_MODEL,
            "VERTEX_API_ENDPOINT": self.urls["vertex"],
            "GPU_ROUTE": self.config.gpu_route,
            "VERTEX_ENDPOINT": f"projects/{self.config.project}/locations/us-central1/endpoints/local-gpu",
            "PYTHONUNBUFFERED": "1",
            **self.config.extra_env,
        }

    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        started = time.monotonic()
        self.hosts = self.config.emulators or start_all(
            self.supervisor, self.config.project, self.config.bucket
        )
        os.environ.update(self.hosts.environment())  # for the wiring below, in this process
        ensure_bucket(self.config.project, self.config.bucket)  # emulators handed in may lack it
        self.urls["telegram"] = self.config.telegram_api_base or self._start_fake_telegram()
        self.urls["gpu_service"] = f"http://127.0.0.1:{free_port()}"
        self.urls["vertex"] = self._start_fake_vertex(
            predict_target=self.urls["gpu_service"] + AIP_ROUTES["AIP_PREDICT_ROUTE"]
        )

        env = self.environment()
        for target in FUNCTIONS:
            self.urls[target] = self._spawn_function(target, env)
        self._spawn_gpu_service(env)
        for target in FUNCTIONS:
            self.supervisor.wait(target, self.urls[target])
        self._wait_gpu_service_ready()

        create_routes(
            self.config.project, stack_routes(self.urls), dead_letter_endpoint=self.urls["report_failure"]
        )
        bridge_health = free_port()
        self.urls["event_bridge"] = f"http://127.0.0.1:{bridge_health}"
        self.supervisor.start(
            "event_bridge",
            [
                sys.executable,
                "-m",
                "local.event_bridge",
                f"--bucket={self.config.bucket}",
                f"--target={self.urls['deliver_image']}",
                "--prefix=outputs/",
                f"--health-port={bridge_health}",
                *self.config.eventarc.args(),
            ],
            ready_url=f"{self.urls['event_bridge']}/healthz",
            env=env,
            cwd=ROOT,
            restart=self.config.restart,
        )
        self.supervisor.spawn(
            "scheduler",
            [
                sys.executable,
                "-m",
                "local.scheduler",
                f"--project={self.config.project}",
                "--topic=sweep",
                f"--period={self.config.sweep_period}",
            ],
            env=env,
            cwd=ROOT,
            restart=self.config.restart,
        )
        self._register_webhook()
        log.info("stack ready in %.1fs; logs in %s", time.monotonic() - started, self.config.log_dir)

    def _spawn_gpu_service(self, env: dict[str, str]) -> None:
        port = self.urls["gpu_service"].rsplit(":", 1)[1]
        self.supervisor.spawn(
            "gpu_service",
            [sys.executable, "-m", "gpu_service"],
            env={**env, **AIP_ROUTES, "PORT": port, "HOST": "127.0.0.1", "TINY_FLAG_WORD": TINY_FLAG_WORD},
            cwd=ROOT,
            restart=self.config.restart,
        )

    def _wait_gpu_service_ready(self) -> None:
        wait_for_ok(
            self.urls["gpu_service"] + "/readyz",
            timeout=180,
            process=self.supervisor.processes["gpu_service"],
        )

    def _start_fake_telegram(self) -> str:
        # The token by the environment, not the command line: a process list shows arguments.
        return self._start_fake("fake_telegram", env={"FAKE_TELEGRAM_TOKEN": self.config.bot_token})

    def _start_fake_vertex(self, predict_target: str) -> str:
        # Vertex AI is a managed service that keeps no state of ours: it comes back if it dies.
        return self._start_fake(
            "fake_vertex", f"--predict-target={predict_target}", restart=self.config.restart
        )

    def _start_fake(
        self,
        module: str,
        *args: str,
        restart: RestartPolicy | None = None,
        env: dict[str, str] | None = None,
    ) -> str:
        """A stand-in (`python -m local.<module> --port=N …`) on a free port; its base URL once
        its /_fake/health answers."""
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        self.supervisor.start(
            module,
            [sys.executable, "-m", f"local.{module}", f"--port={port}", *args],
            ready_url=f"{base}/_fake/health",
            env=env,
            cwd=ROOT,
            restart=restart,
        )
        return base

    def _spawn_function(self, target: str, env: dict[str, str]) -> str:
        port = free_port()
        signature = "http" if target == "telegram_webhook" else "cloudevent"
        threads = self.config.webhook_threads if target == "telegram_webhook" else 8
        # functions-framework as its CLI runs it, with a record of the requests it answered
        # (local/function_host.py): what tests wait on instead of sleeping.
        self.supervisor.spawn(
            target,
            [
                sys.executable,
                "-m",
                "local.function_host",
                f"--source={FUNCTIONS_SOURCE}",
                f"--target={target}",
                f"--signature-type={signature}",
                "--host=127.0.0.1",
                f"--port={port}",
            ],
            env={**env, "THREADS": str(threads), "PYTHONPATH": str(ROOT)},
            cwd=FUNCTIONS_SOURCE.parent,
            restart=self.config.restart,
        )
        return f"http://127.0.0.1:{port}"

    def _register_webhook(self) -> None:
        """setWebhook, as a deploy does in the cloud; a real Telegram would refuse a loopback URL."""
        url = os.environ.get("LOCAL_PUBLIC_WEBHOOK_URL") or self.webhook_url
        response = httpx.post(
            f"{self.telegram_api_base}/bot{self.config.bot_token}/setWebhook",
            json={"url": url, "secret_token": self.config.webhook_secret, "max_connections": 100},
            timeout=10,
        )
        if not response.json().get("ok"):
            log.warning("setWebhook was refused: %s", response.json().get("description"))
        else:
            log.info("webhook registered: %s", url)

    def requests(self, target: str, since: int = 0) -> dict[str, Any]:
        """What a function has answered after record `since` (-1: no records, only the counts):
        {"in_flight": n, "seq": latest, "requests": [{"seq", "status", "ce_id" or "message_id"
        and "attributes", …}]} (local/function_host.py)."""
        response = httpx.get(f"{self.urls[target]}{LEDGER_PATH}", params={"since": since}, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def bridge_stats(self) -> dict[str, Any]:
        """The event bridge's counters (local/event_bridge.py BridgeStats)."""
        return dict(httpx.get(f"{self.urls['event_bridge']}/healthz", timeout=10).json())

    def busy(self) -> list[str]:
        """What is at work right now: functions answering requests, the event bridge delivering
        (or with a retry due), the fake Bot API answering calls. Empty when all is idle."""
        busy = [target for target in FUNCTIONS if self.requests(target, since=-1)["in_flight"]]
        bridge = self.bridge_stats()
        if bridge["in_flight"] or bridge["pending_retries"]:
            busy.append("event_bridge")
        if self.config.telegram_api_base is None:
            calls = httpx.get(f"{self.telegram_api_base}/_fake/in_flight", timeout=10).json()["calls"]
            busy += [f"Bot API {call['method']}" for call in calls]
        return busy

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Return once `busy()` is empty: the moment nothing is at work."""
        deadline = time.monotonic() + timeout
        while busy := self.busy():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the stack was still busy after {timeout:.0f}s: {busy}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.supervisor.stop()


def ensure_bucket(project: str, bucket: str) -> None:
    client = storage.Client(project=project)
    if client.lookup_bucket(bucket) is None:
        client.create_bucket(bucket)


def stack_routes(urls: dict[str, str]) -> list[Route]:
    """The Pub/Sub hops of the local stack, as terraform/pubsub.tf wires them in the cloud
    (tests/infra checks the two agree)."""
    return [
        Route("prompts", "prompts-validate", urls["validate_prompt"]),
        Route("validated", "validated-rate-limit", urls["rate_limit"]),
        # The cloud's backoff (terraform/pubsub.tf), not the quick local one: a lost GPU
        # instance is replaced and must warm up before it can draw, and a push that
        # reaches it meanwhile is answered 503 after a wait. With 1 s backoff the five
        # attempts ran out within a minute, before a restarted instance on a busy
        # two-core machine was warm (tests/e2e/test_faults.py), failing jobs that the
        # cloud would still draw.
        Route(
            "generation-jobs",
            "generation-jobs-gpu",
            urls["gpu_service"],
            ack_deadline_seconds=600,
            minimum_backoff_seconds=10,
            maximum_backoff_seconds=600,
        ),
        # One predict call holds a push until the picture is drawn (terraform/pubsub.tf).
        Route(
            "vertex-jobs",
            "vertex-jobs-dispatch",
            urls["dispatch_vertex"],
            ack_deadline_seconds=600,
            minimum_backoff_seconds=10,
            maximum_backoff_seconds=600,
        ),
        Route(
            "job-progress", "job-progress-report", urls["report_progress"], dead_letters_fail_the_job=False
        ),
        # Published by the scheduler (Cloud Scheduler in the cloud); a lost sweep is not a job.
        Route(
            "sweep",
            "sweep-stuck-jobs",
            urls["sweep_stuck_jobs"],
            ack_deadline_seconds=120,
            dead_letters_fail_the_job=False,
        ),
    ]


def wait_for_ok(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll until `url` answers 200; fail at once if the process died or says it cannot start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return
            if "failed" in response.text:  # /readyz: "engine failed to load: …" will not get better
                raise RuntimeError(f"{url}: {response.text[:500]}")
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} was not ready within {timeout:.0f}s")


class StopRequested(BaseException):
    """A stop signal arrived: unwind whatever runs (a start, the wait) into `stack.stop()`.
    A BaseException, like KeyboardInterrupt, so no `except Exception` on the way swallows it."""


class Redact(logging.Filter):
    """Replaces secrets in every record a handler emits: a second line behind keeping them out
    of log calls (the bot token is part of every Bot API URL)."""

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if secret]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "<redacted>")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


@dataclass
class Shutdown:
    """The stack's signal handling: the first SIGTERM or SIGINT stops it, once; every later one
    (make sends a second SIGTERM while the stop runs) is reported and ignored, so the stop is
    never cut short and leaves nothing running."""

    stack: LocalStack
    requested: threading.Event = field(default_factory=threading.Event)

    def install(self) -> Shutdown:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.handle)
        return self

    def handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested.is_set() or self.stack.supervisor.stopping:
            log.warning("%s: the stack is already stopping; ignored", name)
            return
        self.requested.set()
        log.warning("%s: stopping the stack", name)
        raise StopRequested(name)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = StackConfig.from_env()
    for handler in logging.getLogger().handlers:
        handler.addFilter(Redact(config.bot_token, config.webhook_secret))
    stack = LocalStack(config)
    shutdown = Shutdown(stack).install()
    try:
        stack.start()
        print(f"telegram api: {stack.telegram_api_base}", flush=True)
        if stack.config.telegram_api_base is None:  # the fake is running: it serves the playground
            print(f"playground: {stack.telegram_api_base}/_fake/chat", flush=True)
        print(f"logs: {stack.config.log_dir}", flush=True)
        print(f"webhook: {stack.webhook_url}", flush=True)
        shutdown.requested.wait()
    except StopRequested:
        pass
    finally:
        stack.stop()
        log.info("stack stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
