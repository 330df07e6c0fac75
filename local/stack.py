"""The whole pipeline on one machine: `python -m local.stack` (what `make up` runs).

Real emulators, every function under functions-framework, the real GPU service, the event
bridge standing in for Eventarc, a Vertex AI stand-in for prompt translation
(local/fake_vertex.py), and a fake Bot API unless TELEGRAM_API_BASE points elsewhere.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from google.cloud import storage

from local.emulators import EmulatorHosts, start_all
from local.processes import Supervisor, free_port
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
)
# The GPU service serves Vertex AI's custom-container routes too, and the Vertex AI stand-in
# forwards an endpoint's predictions to them: the second GPU home, on the same process.
AIP_ROUTES = {"AIP_HEALTH_ROUTE": "/vertex/health", "AIP_PREDICT_ROUTE": "/vertex/predict"}

log = logging.getLogger("local.stack")


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

    @classmethod
    def from_env(cls) -> StackConfig:
        config = cls(telegram_api_base=os.environ.get("TELEGRAM_API_BASE") or None)
        config.bot_token = os.environ.get("TELEGRAM_BOT_TOKEN") or (
            FAKE_TOKEN if config.telegram_api_base is None else ""
        )
        if not config.bot_token:
            raise SystemExit("TELEGRAM_BOT_TOKEN is required when TELEGRAM_API_BASE is set")
        config.webhook_secret = os.environ.get("TELEGRAM_WEBHOOK_SECRET") or config.webhook_secret
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
            ],
            ready_url=f"http://127.0.0.1:{bridge_health}/healthz",
            env=env,
            cwd=ROOT,
        )
        self._register_webhook()
        log.info("stack ready in %.1fs; logs in %s", time.monotonic() - started, self.config.log_dir)

    def start_gpu_service(self) -> None:
        """(Re)start the GPU service on its port, as Cloud Run replaces a crashed instance, and
        wait until it is warm: the fault tests kill it mid-generation."""
        self._spawn_gpu_service(self.environment())
        self._wait_gpu_service_ready()

    def _spawn_gpu_service(self, env: dict[str, str]) -> None:
        port = self.urls["gpu_service"].rsplit(":", 1)[1]
        self.supervisor.spawn(
            "gpu_service",
            [sys.executable, "-m", "gpu_service"],
            env={**env, **AIP_ROUTES, "PORT": port, "HOST": "127.0.0.1"},
            cwd=ROOT,
        )

    def _wait_gpu_service_ready(self) -> None:
        wait_for_ok(
            self.urls["gpu_service"] + "/readyz",
            timeout=180,
            process=self.supervisor.processes["gpu_service"],
        )

    def _start_fake_telegram(self) -> str:
        return self._start_fake("fake_telegram", f"--token={self.config.bot_token}")

    def _start_fake_vertex(self, predict_target: str) -> str:
        return self._start_fake("fake_vertex", f"--predict-target={predict_target}")

    def _start_fake(self, module: str, *args: str) -> str:
        """A stand-in (`python -m local.<module> --port=N …`) on a free port; its base URL once
        its /_fake/health answers."""
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        self.supervisor.start(
            module,
            [sys.executable, "-m", f"local.{module}", f"--port={port}", *args],
            ready_url=f"{base}/_fake/health",
            cwd=ROOT,
        )
        return base

    def _spawn_function(self, target: str, env: dict[str, str]) -> str:
        port = free_port()
        signature = "http" if target == "telegram_webhook" else "cloudevent"
        threads = self.config.webhook_threads if target == "telegram_webhook" else 8
        self.supervisor.spawn(
            target,
            [
                str(Path(sys.executable).with_name("functions-framework")),
                f"--source={FUNCTIONS_SOURCE}",
                f"--target={target}",
                f"--signature-type={signature}",
                "--host=127.0.0.1",
                f"--port={port}",
            ],
            env={**env, "THREADS": str(threads)},
            cwd=FUNCTIONS_SOURCE.parent,
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


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stack = LocalStack(StackConfig.from_env())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        stack.start()
        print(f"telegram api: {stack.telegram_api_base}", flush=True)
        if stack.config.telegram_api_base is None:  # the fake is running: it serves the playground
            print(f"playground: {stack.telegram_api_base}/_fake/chat", flush=True)
        print(f"logs: {stack.config.log_dir}", flush=True)
        print(f"webhook: {stack.webhook_url}", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
