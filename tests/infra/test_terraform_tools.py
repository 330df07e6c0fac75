"""terraform fmt and the checkov security scan over terraform/ (no providers, no cloud)."""

from __future__ import annotations

import json
import os
import subprocess

from tests.infra.hcl import TERRAFORM
from tests.infra.tools import terraform, tool_bin

MIN_REASON_CHARS = 30  # a skip says why in a sentence, not "n/a"


def test_terraform_is_formatted():
    # No CLI config here; an empty one keeps terraform from warning about it.
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull}
    done = subprocess.run(
        [terraform(), "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, f"run `terraform fmt -recursive terraform/`:\n{done.stdout}{done.stderr}"


def test_checkov_finds_nothing_unexplained():
    checkov = tool_bin("checkov", "checkov")
    done = subprocess.run(
        [
            str(checkov),
            "--directory",
            str(TERRAFORM),
            "--framework",
            "terraform",
            "--output",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(done.stdout)
    results = report["results"]
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in results["failed_checks"]]
    assert not failed, "checkov failed checks (fix them, or skip inline with a reason):\n" + "\n".join(failed)
    assert not results["parsing_errors"], results["parsing_errors"]
    assert report["summary"]["passed"] > 100  # it really scanned the configuration
    for skipped in results["skipped_checks"]:
        reason = (skipped["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) >= MIN_REASON_CHARS, (
            f"{skipped['check_id']} on {skipped['resource']} skipped without a reason"
        )
