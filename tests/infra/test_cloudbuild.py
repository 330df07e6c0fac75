"""cloudbuild.yaml parsed and checked against functions/main.py and terraform/."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.infra.hcl import ROOT, entry_points, functions, load


@pytest.fixture(scope="module")
def build():
    return yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())


def steps(build) -> dict[str, dict]:
    return {step["id"]: step for step in build["steps"]}


def deployed_functions(build) -> list[str]:
    return build["substitutions"]["_FUNCTIONS"].split(",")


def test_each_deployed_function_is_an_entry_point_and_every_entry_point_is_deployed(build):
    as_entry_points = [name.replace("-", "_") for name in deployed_functions(build)]
    assert sorted(as_entry_points) == sorted(entry_points())


def test_the_functions_it_deploys_are_the_ones_terraform_creates(build):
    tf = load()
    names = {function.name for function in functions(tf).values()}
    assert set(deployed_functions(build)) == names
    assert tf.locals["build_substitutions"]["_FUNCTIONS"] == build["substitutions"]["_FUNCTIONS"]
    # Every substitution the triggers pass is one the build declares.
    assert set(tf.locals["build_substitutions"]) <= set(build["substitutions"])


def test_functions_are_deployed_gen2_from_the_functions_folder(build):
    script = steps(build)["deploy-functions"]["script"]
    assert "gcloud functions deploy" in script and "--gen2" in script and "--source=functions" in script
    assert "--entry-point=" in script


def test_the_gpu_image_is_built_from_its_own_folder_and_deployed_without_traffic(build):
    assert 'docker build --tag="${image}" gpu_service/' in steps(build)["build-gpu"]["script"]
    deploy = steps(build)["deploy-gpu"]["script"]
    assert "gcloud run deploy" in deploy and "--no-traffic" in deploy and "--tag=candidate" in deploy


def test_the_image_is_recorded_with_provenance_and_deployed_by_digest(build):
    built = steps(build)["build-gpu"]
    image = "${_REGION}-docker.pkg.dev/${PROJECT_ID}/${_REPO}/gpu-service:${BUILD_ID}"
    # `images:`: Cloud Build records the digest and the provenance (it must exist in every build).
    assert build["images"] == [image] and build["options"]["requestedVerifyOption"] == "VERIFIED"
    assert "case" not in built["script"], "built in every build: `images:` needs it"
    assert "{{index .RepoDigests 0}}" in built["script"] and "> /workspace/gpu-image" in built["script"]
    for step_id in ("deploy-gpu", "deploy-vertex"):
        script = steps(build)[step_id]["script"]
        assert 'image="$(cat /workspace/gpu-image)"' in script, step_id
    for step in build["steps"]:  # nothing deploys the tag, which can move
        assert "gpu-service:${BUILD_ID}" not in step["script"] or step["id"] == "build-gpu", step["id"]


def test_the_builds_own_pip_installs_check_hashes(build):
    vertex = steps(build)["deploy-vertex"]["script"]
    assert "--require-hashes -r requirements/deploy/vertex.txt" in vertex
    lock = (ROOT / "requirements" / "deploy" / "vertex.txt").read_text()
    pinned = re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+) \\$", lock, flags=re.M)
    assert len(pinned) > 10 and len(pinned) == len(re.findall(r"^[^#\s]", lock, flags=re.M))
    blocks = re.split(r"^(?=[A-Za-z])", lock, flags=re.M)[1:]
    assert all("--hash=sha256:" in block for block in blocks)
    functions = dict(
        re.findall(r"^([a-z0-9_.\-]+)==(\S+)$", (ROOT / "requirements/functions.txt").read_text(), re.M)
    )
    assert dict(pinned)["google-cloud-aiplatform"] == functions["google-cloud-aiplatform"]


def test_every_gpu_deploy_and_promotion_first_asks_the_budget_guard(build):
    guard = 'python3 deploy/rollout.py guard --project="${PROJECT_ID}" --region="${_REGION}"'
    # A build that would deploy the GPU refuses before it deploys anything, functions included.
    check = steps(build)["check-budget-stop"]
    assert guard in check["script"] and "all|gpu" in check["script"]
    for step_id in ("deploy-gpu", "deploy-functions"):
        assert "check-budget-stop" in steps(build)[step_id]["waitFor"], step_id
    for step_id, acts in (("deploy-gpu", "gcloud run deploy"), ("promote-gpu", "update-traffic")):
        script = steps(build)[step_id]["script"]
        assert guard in script and script.index(guard) < script.index(acts), step_id
    # The Vertex AI deploy runs in the python image (no gcloud): its guard is the step it waits for.
    assert steps(build)["deploy-vertex"]["waitFor"] == ["check-budget-stop-vertex"]
    assert guard in steps(build)["check-budget-stop-vertex"]["script"]
    assert steps(build)["check-budget-stop-vertex"]["waitFor"] == ["promote-gpu"]


def test_the_scripts_are_called_with_flags_they_have(build):
    for step in build["steps"]:
        for script, flags in re.findall(r"deploy/(\w+\.py)((?:[^\n]|\\\n)*)", step["script"]):
            source = (ROOT / "deploy" / script).read_text()
            for flag in re.findall(r"(--[a-z-]+)=", flags):
                assert f'"{flag}"' in source, f"{step['id']}: {script} has no {flag}"


def test_smoke_comes_before_traffic_and_a_failure_rolls_back(build):
    by_id = steps(build)
    smoke = by_id["smoke"]
    assert set(smoke["waitFor"]) == {"deploy-gpu", "deploy-functions"}
    assert "deploy/smoke.py" in smoke["script"] and "deploy/rollout.py rollback" in smoke["script"]
    assert "exit 1" in smoke["script"].split("rollout.py rollback")[1]  # the build fails after rolling back
    assert (
        by_id["promote-gpu"]["waitFor"] == ["smoke"]
        and "--to-tags=candidate=100" in by_id["promote-gpu"]["script"]
    )
    assert "deploy/rollout.py snapshot" in by_id["snapshot"]["script"]
    # A function that fails to deploy puts the others back too.
    assert "deploy/rollout.py rollback" in by_id["deploy-functions"]["script"]


def test_the_smoke_test_checks_the_webhook_through_telegram_and_the_functions_own_answers(build):
    smoke = steps(build)["smoke"]
    assert set(smoke["secretEnv"]) == {"TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET"}
    assert '--webhook-probe-url="${_WEBHOOK_PROBE_URL}"' in smoke["script"]
    assert '--since="$(cat /workspace/deploy-started)"' in smoke["script"]
    assert "date +%s > /workspace/deploy-started" in steps(build)["check-substitutions"]["script"]
    # Probed where the build can reach the function itself; behind the edge only Telegram can.
    probe = load().locals["build_substitutions"]["_WEBHOOK_PROBE_URL"]
    assert probe.startswith('${var.edge_enabled ? "" : google_cloudfunctions2_function.telegram_webhook')


def test_the_webhook_is_registered_with_secrets_from_secret_manager_never_echoed(build):
    register = steps(build)["register-webhook"]
    assert set(register["secretEnv"]) == {"TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET"}
    assert "deploy/telegram_setup.py" in register["script"]
    secrets = {s["env"]: s["versionName"] for s in build["availableSecrets"]["secretManager"]}
    assert secrets["TELEGRAM_BOT_TOKEN"].endswith("/secrets/telegram-bot-token/versions/latest")
    assert secrets["TELEGRAM_WEBHOOK_SECRET"].endswith("/secrets/telegram-webhook-secret/versions/latest")
    tf_secret_ids = {value["id"] for value in load().locals["secrets"].values()}
    assert {"telegram-bot-token", "telegram-webhook-secret"} == tf_secret_ids
    for step in build["steps"]:
        script = step.get("script", "")
        assert not re.search(r"(echo|printf|set -x).*TELEGRAM_(BOT_TOKEN|WEBHOOK_SECRET)", script), step["id"]
        assert "set -x" not in script, step["id"]


def test_substitutions_select_environment_and_what_to_deploy(build):
    assert build["substitutions"]["_ENV"] == "dev" and build["substitutions"]["_DEPLOY"] == "all"
    check = steps(build)["check-substitutions"]["script"]
    assert "all|functions|gpu" in check and "dev|prod" in check
    for step_id in ("deploy-gpu", "promote-gpu", "deploy-vertex"):
        assert "all|gpu" in steps(build)[step_id]["script"], step_id
    assert "all|functions" in steps(build)["deploy-functions"]["script"]


def test_tests_run_first(build):
    by_id = steps(build)
    assert "make test-unit" in by_id["test"]["script"]
    assert "test" in by_id["build-gpu"]["waitFor"] and "test" in by_id["deploy-functions"]["waitFor"]


def test_every_script_step_is_bash_with_errexit(build):
    for step in build["steps"]:
        script = step["script"]
        assert script.startswith("#!/usr/bin/env bash\nset -eu\n"), step["id"]
    assert build["options"]["automapSubstitutions"] is True  # substitutions reach scripts as env vars
