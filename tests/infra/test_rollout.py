"""deploy/rollout.py as the build's snapshot and rollback steps run it, against the Cloud Run
Admin API and Cloud Functions API stand-ins (tests/infra/google_apis.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.deploy_steps import build_env, step
from tests.infra.google_apis import ACCESS_TOKEN, GoogleApisServer

PROJECT, REGION = "imagebot-rehearsal", "europe-west4"
PARENT = f"projects/{PROJECT}/locations/{REGION}"
FUNCTIONS = ["telegram-webhook", "rate-limit"]
GPU_SERVICE = "imagebot-gpu"
REVISION = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"


@pytest.fixture
def cloud() -> Iterator[GoogleApisServer]:
    """Two functions and the GPU service, each serving its one revision."""
    with GoogleApisServer() as server:
        for name in FUNCTIONS:
            server.apis.add_function(PARENT, name)
            server.apis.add_service(PARENT, name, revisions=[f"{name}-00041-old"])
        server.apis.add_service(PARENT, GPU_SERVICE, revisions=[f"{GPU_SERVICE}-00007-live"])
        yield server


@pytest.fixture
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return build_env(tmp_path_factory.mktemp("bin"))


def rollout(cloud: GoogleApisServer, env: dict[str, str], *args: str):
    apis = [f"--run-api={cloud.base_url}", f"--functions-api={cloud.base_url}"]
    return step("rollout.py", *args, f"--project={PROJECT}", f"--region={REGION}", *apis, env=env)


def test_snapshot_then_rollback_puts_the_functions_back_and_untags_the_candidate(cloud, env, tmp_path: Path):
    previous = tmp_path / "previous.json"
    # A function not deployed yet (the first build) has nothing to go back to.
    functions = ",".join([*FUNCTIONS, "budget-guard"])
    taken = rollout(
        cloud,
        env,
        "snapshot",
        f"--gpu-service={GPU_SERVICE}",
        f"--functions={functions}",
        f"--out={previous}",
    )
    assert taken.returncode == 0, taken.stdout + taken.stderr
    assert json.loads(previous.read_text())["functions"] == {
        name: {f"{name}-00041-old": 100} for name in FUNCTIONS
    }
    assert "budget-guard: not deployed yet" in taken.stderr

    # The deploy: each function serves a new revision; the GPU candidate is tagged, no traffic.
    for name in FUNCTIONS:
        cloud.apis.deploy_revision(PARENT, name, f"{name}-00042-new")
    gpu = cloud.apis.services[f"{PARENT}/services/{GPU_SERVICE}"]
    gpu["revisions"].append(f"{GPU_SERVICE}-00008-cand")
    gpu["traffic"].append({"type": REVISION, "revision": f"{GPU_SERVICE}-00008-cand", "tag": "candidate"})

    back = rollout(cloud, env, "rollback", f"--snapshot={previous}")

    assert back.returncode == 0, back.stdout + back.stderr
    for name in FUNCTIONS:
        assert cloud.apis.services[f"{PARENT}/services/{name}"]["traffic"] == [
            {"type": REVISION, "revision": f"{name}-00041-old", "percent": 100}
        ]
    assert gpu["traffic"] == [{"type": REVISION, "revision": f"{GPU_SERVICE}-00007-live", "percent": 100}]
    patches = cloud.apis.calls("PATCH", "/services/")
    assert len(patches) == 3 and all(patch.query["updateMask"] == ["traffic"] for patch in patches)
    assert all(patch.authorization == f"Bearer {ACCESS_TOKEN}" for patch in patches)


def test_a_rollback_cloud_run_refuses_fails_the_step_and_still_puts_back_the_rest(cloud, env, tmp_path: Path):
    previous = tmp_path / "previous.json"
    previous.write_text(
        json.dumps(
            {
                "functions": {
                    "rate-limit": {"rate-limit-00040-gone": 100},
                    "telegram-webhook": {"telegram-webhook-00041-old": 100},
                }
            }
        )
    )
    cloud.apis.deploy_revision(PARENT, "telegram-webhook", "telegram-webhook-00042-new")

    back = rollout(cloud, env, "rollback", f"--snapshot={previous}")

    assert back.returncode == 1 and "revision 'rate-limit-00040-gone' does not exist" in back.stderr
    webhook = cloud.apis.services[f"{PARENT}/services/telegram-webhook"]
    assert webhook["traffic"] == [
        {"type": REVISION, "revision": "telegram-webhook-00041-old", "percent": 100}
    ]


def test_the_guard_refuses_while_the_budget_stop_is_in_force(cloud, env):
    gpu = f"--gpu-service={GPU_SERVICE}"
    assert rollout(cloud, env, "guard", gpu).returncode == 0

    # What the budget workflow's stop leaves (workflows/budget_guard.yaml).
    cloud.apis.services[f"{PARENT}/services/{GPU_SERVICE}"]["scaling"] = {
        "scalingMode": "MANUAL",
        "manualInstanceCount": 0,
    }
    refused = rollout(cloud, env, "guard", gpu)

    assert refused.returncode == 1
    assert refused.stdout.startswith("REFUSED: the budget guard has stopped the GPU service imagebot-gpu")
    assert cloud.apis.calls("PATCH", "/services/") == []  # it only reads
