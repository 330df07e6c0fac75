"""`python -m gpu_service` as the local stack and the container start it: gunicorn, real HTTP."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from google.cloud import firestore, storage

from gpu_service.contract import GenerationJob, output_object_name
from local.processes import Supervisor, free_port
from tests.conftest import BUCKET, PROJECT
from tests.integration.gpu_service.conftest import READY_TIMEOUT_SECONDS

REPO = Path(__file__).resolve().parents[3]
Push = Callable[..., httpx.Response]


def test_the_service_process_answers_at_once_warms_up_and_draws(
    tmp_path: Path,
    push: Push,
    bucket: storage.Bucket,
    firestore_client: firestore.Client,
    job_in_state: Callable[[str], datetime],
    job_document: firestore.DocumentReference,
    job_id: str,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    supervisor = Supervisor(tmp_path)
    # The emulator variables come from the environment the `emulators` fixture set.
    env = {"PORT": str(port), "HOST": "127.0.0.1", "GOOGLE_CLOUD_PROJECT": PROJECT, "IMAGES_BUCKET": BUCKET}
    job_in_state("queued")
    try:
        supervisor.start(
            "gpu-service",
            [sys.executable, "-m", "gpu_service"],
            ready_url=f"{url}/healthz",
            env=env,
            cwd=REPO,
            timeout=30,
        )
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while httpx.get(f"{url}/readyz", timeout=5).status_code != 200:
            if time.monotonic() > deadline:
                log = (tmp_path / "gpu-service.log").read_text()
                pytest.fail(f"/readyz not 200 after {READY_TIMEOUT_SECONDS:.0f} s:\n{log}")
            time.sleep(0.2)

        response = push(
            GenerationJob(job_id=job_id, chat_id=7, prompt="a fox", style="pixel", seed=3), url=url
        )
    finally:
        supervisor.stop()

    assert response.status_code == 200, response.text
    assert bucket.blob(output_object_name(job_id, "png")).exists()
    assert job_document.get().to_dict()["state"] == "generated"
    lines = (tmp_path / "gpu-service.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(entries) == len(lines), "every log line is one JSON object"
    assert any(
        e["severity"] == "WARNING"
        and "NO MODEL WEIGHTS CONFIGURED: TINY RANDOM SDXL PIPELINE" in e["message"]
        for e in entries
    )
    done = [e for e in entries if e["message"] == "job done"]
    assert len(done) == 1 and done[0]["job_id"] == job_id and done[0]["outcome"] == "generated"
