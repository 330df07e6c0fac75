"""docs/DEPLOY.md's commands held against what they name: the terraform addresses, the secrets,
the triggers, the files and the scripts' flags, and the order an empty project needs. (The
commands that talk to Google Cloud cannot run here; the deploy scripts they lead to run in the
rehearsal: tests/e2e/test_deploy_rehearsal.py and tests/infra/test_rollout.py.)"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.infra.hcl import ROOT, TERRAFORM, load

DOC = ROOT / "docs" / "DEPLOY.md"


@pytest.fixture(scope="module")
def commands() -> list[str]:
    """Every command of the doc's sh blocks, continuation lines joined, comments dropped."""
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(), flags=re.S)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    return [
        line.split("   #")[0].strip() for line in lines if line.strip() and not line.lstrip().startswith("#")
    ]


def position(commands: list[str], pattern: str) -> int:
    found = [i for i, command in enumerate(commands) if re.search(pattern, command)]
    assert len(found) == 1, f"{pattern!r}: {len(found)} commands"
    return found[0]


def test_an_empty_project_gets_its_secret_versions_between_the_two_applies(commands):
    targeted = position(commands, r"^terraform apply .*-target=")
    versions = [
        position(commands, rf"gcloud secrets versions add {name} ")
        for name in ("telegram-bot-token", "telegram-webhook-secret")
    ]
    full = position(commands, r"^terraform apply -var-file=environments/dev\.local\.tfvars$")
    build = position(commands, r"^gcloud builds triggers run ")
    assert targeted < min(versions) and max(versions) < full < build
    # What phase 1 targets exists, and is what the functions mount.
    target = re.search(r"-target=(\w+)\.(\w+)", commands[targeted])
    assert target and target.group(2) in load().of_type(target.group(1))
    assert target.group(0) == "-target=google_secret_manager_secret.telegram"


def test_the_named_secrets_triggers_and_workflows_are_terraforms(commands):
    tf = load()
    secret_ids = {value["id"] for value in tf.locals["secrets"].values()}
    added = {m.group(1) for c in commands if (m := re.search(r"gcloud secrets versions add ([\w-]+)", c))}
    assert added == secret_ids
    triggers = {m.group(1) for c in commands if (m := re.search(r"gcloud builds triggers run ([\w-]+)", c))}
    dev = tf.resource("google_cloudbuild_trigger", "dev_push")["name"].replace(
        "${local.name}", tf.locals["name"]
    )
    assert triggers == {dev}
    functions = {name.replace("_", "-") for name in tf.locals["pushed_functions"]} | {
        "telegram-webhook",
        "deliver-image",
    }
    traffic = {
        m.group(1) for c in commands if (m := re.search(r"gcloud run services update-traffic ([\w-]+)", c))
    }
    assert traffic - {"imagebot-gpu"} <= functions


def test_the_files_it_names_exist_and_the_local_variables_are_ignored(commands):
    copy = commands[position(commands, r"^cp environments/")]
    source, target = copy.split()[1:3]
    assert (TERRAFORM / source).exists()
    ignored = subprocess.run(["git", "check-ignore", "-q", f"terraform/{target}"], cwd=ROOT, timeout=30)
    assert ignored.returncode == 0, f"{target} holds the billing account: it must be git-ignored"
    assert 'backend "gcs"' in (TERRAFORM / "versions.tf").read_text()  # terraform init -backend-config=…


def test_it_says_what_the_smoke_test_really_checks():
    text = DOC.read_text()
    assert "refuses a request without the secret (403)" not in text  # the webhook answers 401
    assert "getWebhookInfo" in text and "401" in text
