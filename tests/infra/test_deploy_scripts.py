"""The pure parts of deploy/ (smoke test, rollback, Telegram setup), checked against the code
they talk to: the GPU service's push envelope and job contract, and the bot's own client."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from imagebot.core import registry, texts
from imagebot.core.updates import Ignored, parse_update
from imagebot.flows import telegram_webhook as webhook

from deploy import rollout, smoke, telegram_setup
from gpu_service.contract import GenerationJob, output_object_names
from gpu_service.pubsub import parse_push
from tests.infra.tools import ROOT

SERVICE_URL = "https://imagebot-gpu-abc123xyz-ez.a.run.app"


def test_the_candidate_is_reached_through_its_tag_url():
    assert smoke.tag_url(SERVICE_URL) == "https://candidate---imagebot-gpu-abc123xyz-ez.a.run.app"
    with pytest.raises(ValueError):
        smoke.tag_url("http://imagebot-gpu.a.run.app")
    with pytest.raises(ValueError):
        smoke.tag_url("https://example.com")


def test_the_synthetic_job_is_one_the_gpu_service_accepts():
    job_id = smoke.smoke_job_id("4f1c2b1e-66aa-4c8e-9d5e-0123456789ab")
    envelope = smoke.push_envelope(smoke.generation_job(job_id), message_id="m-1")
    pushed = parse_push(json.dumps(envelope).encode())
    job = GenerationJob.from_json(pushed.data)  # raises on anything off the contract
    assert job.job_id == job_id and job.chat_id == smoke.SMOKE_CHAT_ID
    # Read by name, one per extension the GPU service may write: the deployer lists nothing.
    assert smoke.output_names(job_id) == output_object_names(job_id)
    assert all(name.startswith("outputs/smoke-") for name in smoke.output_names(job_id))
    assert len(smoke.smoke_job_id("x" * 200)) <= 64
    with pytest.raises(ValueError):
        smoke.smoke_job_id("$$$")


def test_wait_until_retries_until_true_and_gives_up_at_the_deadline():
    now = [0.0]
    answers = iter([OSError("refused"), False, True])

    def check() -> bool:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert smoke.wait_until(
        check, timeout=100, interval=10, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
    )
    assert now[0] == 20.0
    now[0] = 0.0
    assert not smoke.wait_until(
        lambda: False,
        timeout=30,
        interval=10,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    assert now[0] == 30.0


def test_the_summary_fails_on_any_failed_or_no_check():
    passed, text = smoke.summary([smoke.Verdict("a", True, "ok"), smoke.Verdict("b", False, "503")])
    assert not passed and "FAIL b: 503" in text
    assert smoke.summary([])[0] is False


def test_getwebhookinfo_passes_only_without_a_delivery_error_since_the_deploy():
    url, since = "https://bot.example/", 1_800_000_000
    clean = {"url": url, "pending_update_count": 0, "has_custom_certificate": False}
    assert smoke.webhook_info_verdict(clean, url, since).passed
    old_error = {**clean, "last_error_date": since - 60, "last_error_message": "Connection timed out"}
    assert smoke.webhook_info_verdict(old_error, url, since).passed
    refused = {
        **clean,
        "last_error_date": since + 5,
        "last_error_message": "Wrong response from the webhook: 403",
    }
    verdict = smoke.webhook_info_verdict(refused, url, since)
    assert not verdict.passed and "403" in verdict.detail
    # The first deploy: nothing registered yet (register-webhook comes after the promotion).
    assert smoke.webhook_info_verdict({"url": "", "pending_update_count": 0}, url, since).passed


def test_only_the_functions_own_answers_pass_the_probe():
    assert all(v.passed for v in smoke.probe_verdicts(refused=401, accepted=200))
    # Cloud Armor's default deny, or an ingress refusal: not the function, whatever the path.
    refused, accepted = smoke.probe_verdicts(refused=403, accepted=403)
    assert not refused.passed and "not the function" in refused.detail and not accepted.passed
    assert not smoke.probe_verdicts(refused=200, accepted=200)[0].passed  # the secret check is off
    assert not smoke.probe_verdicts(refused=401, accepted=401)[1].passed  # the secret differs


def test_the_webhook_probe_is_an_update_the_bot_ignores():
    assert isinstance(parse_update(smoke.IGNORED_UPDATE), Ignored)
    assert smoke.SECRET_HEADER == webhook.SECRET_HEADER


def test_serving_revisions_read_the_admin_api_v2_service():
    service = {
        "latestReadyRevision": "projects/p/locations/r/services/fn/revisions/fn-00007-new",
        "trafficStatuses": [
            {"type": rollout.REVISION, "revision": "fn-00005-old", "percent": 90},
            {"type": rollout.LATEST, "percent": 10},
            {"type": rollout.REVISION, "revision": "fn-00006-tagged", "tag": "candidate"},
        ],
    }
    assert rollout.serving_revisions(service) == {"fn-00005-old": 90, "fn-00007-new": 10}
    assert rollout.traffic_to({"b": 10, "a": 90}) == [
        {"type": rollout.REVISION, "revision": "a", "percent": 90},
        {"type": rollout.REVISION, "revision": "b", "percent": 10},
    ]
    with pytest.raises(ValueError):
        rollout.traffic_to({"a": 50})
    assert rollout.untagged(service["trafficStatuses"]) == service["trafficStatuses"][:2]


def test_the_budget_stop_is_recognised_by_the_scaling_the_workflow_sets():
    workflow = (ROOT / "workflows" / "budget_guard.yaml").read_text()
    assert "scalingMode: MANUAL" in workflow and "manualInstanceCount: 0" in workflow
    assert rollout.stopped_by_the_budget({"scaling": {"scalingMode": "MANUAL", "manualInstanceCount": 0}})
    assert rollout.stopped_by_the_budget({"scaling": {"scalingMode": "MANUAL"}})  # proto3 omits 0
    assert not rollout.stopped_by_the_budget({"scaling": {"scalingMode": "AUTOMATIC"}})
    assert not rollout.stopped_by_the_budget({"scaling": {"scalingMode": "MANUAL", "manualInstanceCount": 2}})
    assert not rollout.stopped_by_the_budget({})


def test_set_webhook_asks_for_the_update_kinds_the_bot_parses():
    params = telegram_setup.set_webhook_params("https://x.example/", "s3cret")
    # Inline mode's two kinds too: Telegram sends only what is named here.
    assert params["allowed_updates"] == [
        "message",
        "callback_query",
        "inline_query",
        "chosen_inline_result",
        "pre_checkout_query",
    ]
    assert params["secret_token"] == "s3cret" and params["max_connections"] == 100
    with pytest.raises(ValueError):
        telegram_setup.set_webhook_params("http://x.example/", "s3cret")


def test_the_menu_that_deploys_is_the_registry():
    calls = telegram_setup.set_commands_calls()
    assert [call.get("language_code", "") for call in calls] == ["", *texts.CATALOGUE]
    in_menu = [command.name for command in registry.COMMANDS if command.in_menu]
    for call in calls:
        language = call.get("language_code", texts.DEFAULT_LANGUAGE)
        assert [c["command"] for c in call["commands"]] == in_menu
        assert [c["description"] for c in call["commands"]] == [
            texts.render(language, f"cmd_{name}") for name in in_menu
        ]
    assert "enhance" in in_menu and "stats" not in in_menu  # operators' commands stay unlisted


def test_the_deploy_step_reads_the_menu_without_the_functions_libraries():
    # Cloud Build runs it with a bare python3: the registry it imports must need nothing else.
    probe = subprocess.run(
        [sys.executable, "-I", "-S", "deploy/telegram_setup.py", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert probe.returncode == 0, probe.stderr
    assert "--url" in probe.stdout


def test_nothing_secret_is_printed():
    assert telegram_setup.redact(
        "bad token 123456:TEST-TOKEN in /bot123456:TEST-TOKEN/x", "123456:TEST-TOKEN"
    ) == ("bad token [redacted] in /bot[redacted]/x")
