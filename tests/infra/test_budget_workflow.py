"""workflows/budget_guard.yaml run by workflows-emulator against the Cloud Run Admin API and
Secret Manager stand-ins, the real Firestore emulator (REST) and the fake Bot API."""

from __future__ import annotations

from tests.infra.budget_workflow import (
    BOT_TOKEN,
    MAX_CHECKS,
    OPS_CHAT_ID,
    SERVING_MODEL,
    TOKEN_SECRET,
    VERTEX_ENDPOINT,
    BudgetWorkflow,
)
from tests.infra.google_apis import ACCESS_TOKEN


def test_stop_pauses_admissions_scales_the_gpu_to_zero_verifies_and_reports(
    workflow: BudgetWorkflow, ops_telegram
):
    response = workflow.run("stop", "budget 100% of imagebot-prod")

    assert response.status_code == 200, response.text
    result = response.json()
    assert (
        result["scaling_mode"] == "MANUAL" and result["paused_by_us"] == "yes" and result["reported"] == "yes"
    )
    # Cloud Run reported `reconciling` for two reads after the PATCH: the third one verified it.
    assert result["checks"] == 3
    assert workflow.scaling() == {"scalingMode": "MANUAL", "manualInstanceCount": 0}
    (patch,) = workflow.apis.calls("PATCH", "/services/")
    assert patch.query["updateMask"] == ["scaling"]
    assert patch.body == {"scaling": {"scalingMode": "MANUAL", "manualInstanceCount": 0}}

    ops = workflow.ops_doc()
    assert ops["mode"] == "paused" and ops["set_by"] == "budget"
    assert ops["reason"] == "budget stop: budget 100% of imagebot-prod" and ops["updated_at"].startswith("20")

    (report,) = ops_telegram.calls("sendMessage")
    assert report.params["chat_id"] == OPS_CHAT_ID
    assert report.params["text"].startswith(
        "✅ Budget guard stop done: GPU service imagebot-gpu now scales MANUAL to 0"
    )
    # The Vertex AI endpoint's model is billed while deployed: undeployed too.
    assert result["undeployed"] == 1 and workflow.deployed_models() == []
    assert "Vertex AI models undeployed: 1" in report.params["text"]


def test_a_verified_stop_is_recorded_and_a_resume_clears_it(workflow, ops_telegram):
    workflow.put_ops_doc(mode="economy", set_by="budget")

    assert workflow.run("stop").status_code == 200
    ops = workflow.ops_doc()
    assert ops["gpu_stop_verified"] is True and ops["set_by"] == "budget"  # only that field added

    assert workflow.run("resume").status_code == 200
    assert workflow.ops_doc()["gpu_stop_verified"] is False


def test_a_stop_that_was_not_verified_is_recorded_as_not_verified(workflow, ops_telegram):
    workflow.put_ops_doc(mode="paused", set_by="budget")
    workflow.run("stop")  # verified once
    workflow.apis.reads_while_reconciling = 10 * MAX_CHECKS

    assert workflow.run("stop").status_code >= 500
    assert workflow.ops_doc()["gpu_stop_verified"] is False  # from the start of the failed run


def test_a_stop_whose_report_fails_still_ends_as_stopped(workflow, ops_telegram):
    del workflow.apis.secrets[TOKEN_SECRET]  # the token cannot be read: no report

    response = workflow.run("stop")

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["scaling_mode"] == "MANUAL" and result["reported"] == "failed"
    assert workflow.scaling() == {"scalingMode": "MANUAL", "manualInstanceCount": 0}
    assert workflow.ops_doc()["gpu_stop_verified"] is True
    assert ops_telegram.calls("sendMessage") == []


def test_stop_undeploys_an_idle_model_before_the_one_with_the_traffic(workflow, ops_telegram):
    # Mid-release: the new model has all the traffic, the old one none. Vertex AI refuses to
    # undeploy a model with traffic unless it is the last one left.
    workflow.apis.add_endpoint(VERTEX_ENDPOINT, [{"id": "77", "model": "models/1"}, SERVING_MODEL])
    workflow.apis.endpoints[VERTEX_ENDPOINT]["trafficSplit"] = {"77": 0, SERVING_MODEL["id"]: 100}

    response = workflow.run("stop")

    assert response.status_code == 200, response.text
    assert response.json()["undeployed"] == 2 and workflow.deployed_models() == []
    undeploys = workflow.apis.calls("POST", ":undeployModel")
    assert [call.body["deployedModelId"] for call in undeploys] == ["77", SERVING_MODEL["id"]]


def test_every_google_call_carries_the_oauth_token_and_the_bot_token_stays_out_of_the_result(
    workflow, ops_telegram
):
    response = workflow.run("stop")

    google_calls = [r for r in workflow.apis.requests if r.path != "/token"]
    assert {r.path.split("/")[1] for r in google_calls} == {"v1", "v2"}  # Secret Manager and Cloud Run
    assert all(r.authorization == f"Bearer {ACCESS_TOKEN}" for r in google_calls)
    assert BOT_TOKEN not in response.text


def test_stop_twice_ends_in_the_same_state_and_writes_the_pause_once(workflow, ops_telegram):
    first, second = workflow.run("stop"), workflow.run("stop")

    assert first.status_code == second.status_code == 200
    assert second.json()["paused_by_us"] == "no"  # already paused: nothing rewritten
    assert (first.json()["undeployed"], second.json()["undeployed"]) == (1, 0)
    assert workflow.scaling() == {"scalingMode": "MANUAL", "manualInstanceCount": 0}
    assert workflow.ops_doc()["mode"] == "paused"
    assert len(ops_telegram.calls("sendMessage")) == 2


def test_an_operators_pause_keeps_its_author(workflow, ops_telegram):
    workflow.put_ops_doc(mode="paused", set_by="operator", reason="maintenance")

    assert workflow.run("stop").status_code == 200

    ops = workflow.ops_doc()
    assert (ops["mode"], ops["set_by"], ops["reason"]) == ("paused", "operator", "maintenance")
    assert workflow.scaling()["scalingMode"] == "MANUAL"  # the GPU stops all the same


def test_the_pause_leaves_the_budget_fields_of_the_ops_document_alone(workflow, ops_telegram):
    workflow.put_ops_doc(mode="economy", set_by="budget", budget_period="2026-11-01T00:00:00Z")

    workflow.run("stop")

    ops = workflow.ops_doc()
    assert ops["mode"] == "paused" and ops["budget_period"] == "2026-11-01T00:00:00Z"


def test_resume_scales_the_gpu_back_to_automatic_and_leaves_the_mode_to_the_function(workflow, ops_telegram):
    workflow.run("stop")
    response = workflow.run("resume", "new budget period")

    assert response.status_code == 200, response.text
    assert response.json()["scaling_mode"] == "AUTOMATIC"
    assert workflow.scaling() == {"scalingMode": "AUTOMATIC"}
    assert workflow.ops_doc()["mode"] == "paused"
    assert ops_telegram.calls("sendMessage")[-1].params["text"].startswith("✅ Budget guard resume done")
    # The endpoint's model comes back with a `gpu` build, not here: one undeploy, at the stop.
    assert len(workflow.apis.calls("POST", ":undeployModel")) == 1 and response.json()["undeployed"] == 0


def test_a_transient_cloud_run_error_is_retried(workflow, ops_telegram):
    workflow.apis.patch_failures.append(503)

    response = workflow.run("stop")

    assert response.status_code == 200, response.text
    assert len(workflow.apis.calls("PATCH", "/services/")) == 2
    assert workflow.scaling()["scalingMode"] == "MANUAL"


def test_a_scale_down_cloud_run_never_confirms_fails_loudly_and_tells_the_operators(workflow, ops_telegram):
    workflow.apis.reads_while_reconciling = 10 * MAX_CHECKS

    response = workflow.run("stop")

    assert response.status_code >= 500  # the execution fails: its error alerts in the cloud
    assert len(workflow.apis.calls("GET", "/services/")) == MAX_CHECKS
    (report,) = ops_telegram.calls("sendMessage")
    assert report.params["text"].startswith("⚠️ Budget guard stop FAILED on imagebot-gpu")
    assert "did not report scaling MANUAL after 5 checks" in report.params["text"]


def test_a_refused_change_is_not_retried_and_is_reported(workflow, ops_telegram):
    workflow.apis.patch_failures.append(403)

    response = workflow.run("stop")

    assert response.status_code >= 500
    assert len(workflow.apis.calls("PATCH", "/services/")) == 1
    assert "FAILED" in ops_telegram.calls("sendMessage")[0].params["text"]


def test_an_unknown_action_changes_nothing(workflow, ops_telegram):
    response = workflow.run("restart")

    assert response.status_code >= 500
    assert workflow.apis.calls("PATCH", "/services/") == [] and workflow.ops_doc() is None
    assert ops_telegram.calls("sendMessage") == []
