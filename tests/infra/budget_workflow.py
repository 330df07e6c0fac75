"""workflows/budget_guard.yaml, running locally: workflows-emulator behind a gRPC Executions API,
with the Google REST APIs it calls standing in on loopback and Firestore the real emulator.

Used by tests/infra (the workflow alone) and tests/integration/functions (the budget_guard
function starting it). The budget tests use a Firestore project of their own (BUDGET_PROJECT):
the ops document is a singleton, and a paused bot must never leak into other tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from local.emulators import EmulatorHosts
from local.processes import Supervisor, free_port
from tests.infra.google_apis import GoogleApis, GoogleApisServer
from tests.infra.tools import ROOT, tool_bin
from tests.infra.workflows_bridge import ExecutionsBridge

BUDGET_PROJECT = "imagebot-budget"
REGION = "europe-west4"
WORKFLOW = "budget-guard"
GPU_SERVICE = "imagebot-gpu"
OPS_CHAT_ID = -1001234567890
BOT_TOKEN = "123456:TEST-TOKEN"
TOKEN_SECRET = "telegram-bot-token"
MAX_CHECKS = 5
VERTEX_ENDPOINT = f"projects/{BUDGET_PROJECT}/locations/us-central1/endpoints/1001"
SERVING_MODEL = {"id": "88", "model": f"projects/{BUDGET_PROJECT}/locations/us-central1/models/2"}
WORKFLOW_FILE = ROOT / "workflows" / "budget_guard.yaml"


@dataclass
class BudgetWorkflow:
    apis: GoogleApis
    bridge: ExecutionsBridge
    emulator_url: str
    firestore: str

    @property
    def parent(self) -> str:
        return f"projects/{BUDGET_PROJECT}/locations/{REGION}/workflows/{WORKFLOW}"

    @property
    def service_name(self) -> str:
        return f"projects/{BUDGET_PROJECT}/locations/{REGION}/services/{GPU_SERVICE}"

    def run(self, action: str, reason: str = "test") -> httpx.Response:
        """One execution, as `gcloud workflows run` would start it; answers when it has ended."""
        argument = json.dumps({"action": action, "reason": reason})
        return httpx.post(
            f"{self.emulator_url}/v1/{self.parent}/executions", json={"argument": argument}, timeout=120
        )

    def reset(self) -> None:
        """A fresh GPU service, no pending faults, no recorded requests, no ops document."""
        self.apis.services.clear()
        self.apis.add_service(f"projects/{BUDGET_PROJECT}/locations/{REGION}", GPU_SERVICE)
        self.apis.patch_failures.clear()
        self.apis.endpoints.clear()
        self.apis.add_endpoint(VERTEX_ENDPOINT, [SERVING_MODEL])
        self.apis.reads_while_reconciling = 2
        self.apis.requests.clear()
        self.apis.secrets[TOKEN_SECRET] = BOT_TOKEN
        self.bridge.executions.clear()
        httpx.delete(self.ops_doc_url(), headers={"Authorization": "Bearer owner"}, timeout=10)

    def ops_doc_url(self) -> str:
        return (
            f"http://{self.firestore}/v1/projects/{BUDGET_PROJECT}/databases/(default)/documents/config/ops"
        )

    def ops_doc(self) -> dict[str, Any] | None:
        """config/ops as plain values, read over the Firestore REST API."""
        response = httpx.get(self.ops_doc_url(), headers={"Authorization": "Bearer owner"}, timeout=10)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return {key: next(iter(value.values())) for key, value in response.json().get("fields", {}).items()}

    def put_ops_doc(self, **fields: str) -> None:
        body = {"fields": {key: {"stringValue": value} for key, value in fields.items()}}
        response = httpx.patch(
            self.ops_doc_url(), json=body, headers={"Authorization": "Bearer owner"}, timeout=10
        )
        response.raise_for_status()

    def deployed_models(self) -> list[str]:
        return [model["id"] for model in self.apis.endpoints[VERTEX_ENDPOINT]["deployedModels"]]

    def scaling(self) -> dict[str, Any]:
        return self.apis.services[self.service_name]["scaling"]


@contextmanager
def budget_workflow(
    emulators: EmulatorHosts, telegram_api_base: str, log_dir: Path
) -> Iterator[BudgetWorkflow]:
    python = tool_bin("workflows-emulator", "python")
    supervisor = Supervisor(log_dir)
    with GoogleApisServer() as google:
        google.apis.secrets[TOKEN_SECRET] = BOT_TOKEN
        # Application Default Credentials for the emulator's `auth: {type: OAuth2}` calls: the
        # one credentials file type whose token endpoint google-auth lets us choose
        # (authorized_user always uses Google's), pointed at the stand-in: no real login.
        adc = log_dir / "adc.json"
        adc.write_text(
            json.dumps(
                {
                    "type": "external_account_authorized_user",
                    "audience": "//iam.googleapis.com/locations/global/workforcePools/local/providers/local",
                    "client_id": "local",
                    "client_secret": "local",
                    "refresh_token": "local",
                    "token_url": f"{google.base_url}/token",
                }
            )
        )
        port = free_port()
        env = {
            "GOOGLE_APPLICATION_CREDENTIALS": str(adc),
            "REGION": REGION,
            "GPU_SERVICE": GPU_SERVICE,
            "OPS_CHAT_ID": str(OPS_CHAT_ID),
            "BOT_TOKEN_SECRET": TOKEN_SECRET,
            "POLL_SECONDS": "0",
            "MAX_CHECKS": str(MAX_CHECKS),
            "RUN_API": google.base_url,
            "VERTEX_API": google.base_url,
            "VERTEX_ENDPOINT": VERTEX_ENDPOINT,
            "SECRETS_API": google.base_url,
            "FIRESTORE_API": f"http://{emulators.firestore}",
            "TELEGRAM_API": telegram_api_base,
            "PYTHONUNBUFFERED": "1",
        }
        argv = [
            str(python),
            str(ROOT / "tests/infra/workflows_emulator_server.py"),
            f"--source={WORKFLOW_FILE}",
            f"--port={port}",
        ]
        try:
            supervisor.start(
                "workflows-emulator", argv, ready_url=f"http://127.0.0.1:{port}/healthz", env=env, cwd=log_dir
            )
            emulator_url = f"http://127.0.0.1:{port}"
            with ExecutionsBridge(emulator_url) as bridge:
                harness = BudgetWorkflow(google.apis, bridge, emulator_url, emulators.firestore)
                harness.reset()
                yield harness
        finally:
            supervisor.stop()
