"""terraform/ parsed (python-hcl2, no providers needed) and checked against the code it deploys."""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict

import pytest

from local.stack import stack_routes
from tests.infra.hcl import (
    ROOT,
    TERRAFORM,
    entry_points,
    env_names_read,
    functions,
    load,
    load_tfvars,
    one,
    secret_env_names,
)

FUNCTION = "google_cloudfunctions2_function"
# Read by config.py only where the cloud differs: the legacy project variable (GOOGLE_CLOUD_PROJECT
# is set), and the local workflows-emulator endpoint (the cloud uses the Executions API itself).
LOCAL_ONLY = {"GCP_PROJECT", "WORKFLOWS_API_ENDPOINT", "VERTEX_API_ENDPOINT"}
# Pub/Sub-fed functions and the topic each consumes; Storage-fed ones and their event.
EXPECTED_TOPICS = {
    "validate_prompt": ["prompts"],
    "rate_limit": ["validated"],
    "report_progress": ["job-progress"],
    "dispatch_vertex": ["vertex-jobs"],
    "report_failure": ["generation-jobs-dead", "prompts-dead", "validated-dead", "vertex-jobs-dead"],
    "sweep_stuck_jobs": ["sweep"],
    "budget_guard": ["billing-alerts"],
}
STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"


@pytest.fixture(scope="module")
def tf():
    return load()


def functions_by_entry_point(tf) -> dict[str, tuple[str, dict]]:
    return {entry_point: (f.address, f.body) for entry_point, f in functions(tf).items()}


def pushed_topics(tf, address: str) -> list[str]:
    """Topics whose push subscription delivers to this function's URL: a route of its own, or
    the job topics' dead letters (the `dead_report` subscriptions)."""
    url = f"${{google_cloudfunctions2_function.{address}.service_config[0].uri}}"
    topics = [topic for topic, route in tf.locals["routes"].items() if route["endpoint"] == url]
    dead_report = tf.resource("google_pubsub_subscription", "dead_report")
    if one(dead_report["push_config"])["push_endpoint"] == url:
        reported = re.findall(r'"([a-z-]+)"', tf.locals["failure_reported"])
        topics += [f"{topic}-dead" for topic in reported]
    return sorted(topics)


def test_every_entry_point_has_a_function(tf):
    deployed = functions_by_entry_point(tf)
    missing = set(entry_points()) - set(deployed)
    assert not missing, f"entry points in functions/main.py without a {FUNCTION}: {sorted(missing)}"
    assert set(deployed) <= set(entry_points()), "a function whose entry point main.py lacks"


def test_every_entry_point_has_the_right_trigger(tf):
    deployed = functions_by_entry_point(tf)
    for entry_point, signature in entry_points().items():
        name, body = deployed[entry_point]
        topics = pushed_topics(tf, name)
        events = [one(t)["event_type"] for t in body.get("event_trigger", [])]
        if signature == "http":
            assert not topics and not events, f"{entry_point} is an HTTP function"
            continue
        assert bool(topics) != bool(events), f"{entry_point} needs one kind of trigger, has {topics + events}"
        if entry_point in EXPECTED_TOPICS:
            assert topics == EXPECTED_TOPICS[entry_point], entry_point
        if events:
            trigger = one(body["event_trigger"])
            assert trigger["event_type"] == STORAGE_FINALIZED
            assert one(trigger["event_filters"]) == {
                "attribute": "bucket",
                "value": "${google_storage_bucket.images.name}",
            }


def test_retry_on_failure_for_the_idempotent_event_function(tf):
    deliver = one(functions_by_entry_point(tf)["deliver_image"][1]["event_trigger"])
    assert deliver["retry_policy"] == "RETRY_POLICY_RETRY"


def test_the_webhook_runs_as_many_threads_as_its_concurrency(tf):
    service = one(functions_by_entry_point(tf)["telegram_webhook"][1]["service_config"])
    assert service["max_instance_request_concurrency"] == "${var.webhook_concurrency}"
    assert "THREADS = tostring(var.webhook_concurrency)" in service["environment_variables"]


def test_every_function_gets_every_setting_and_only_the_secret_it_reads(tf):
    config = ROOT / "functions" / "imagebot" / "config.py"
    secrets = {value["env"] for value in tf.locals["secrets"].values()}
    wanted = env_names_read(config) - LOCAL_ONLY
    provided = set(tf.locals["function_env"]) | secrets
    assert not wanted - provided, (
        f"settings config.py reads that terraform never sets: {sorted(wanted - provided)}"
    )
    assert secret_env_names(config) <= secrets, "a secret the code reads has no Secret Manager secret"
    # The webhook checks the secret and sends nothing; every other function sends with the token.
    expected = {entry: ["bot_token"] for entry in entry_points()} | {"telegram_webhook": ["webhook_secret"]}
    assert tf.locals["function_secrets"] == expected
    main = (ROOT / "functions" / "main.py").read_text()
    webhook_entry = main[main.index("def telegram_webhook") : main.index("def validate_prompt")]
    assert "rt.bot" not in webhook_entry and "rt.settings" in webhook_entry
    accounts = {entry: account for entry, (account, _) in function_accounts(tf).items()}
    for entry, body in functions(tf).items():
        service = one(body.body["service_config"])
        assert service["environment_variables"].startswith("${merge(local.function_env"), entry
        mounted = one(service["dynamic"])["secret_environment_variables"]
        key = "each.key" if entry in tf.locals["pushed_functions"] else f'"{entry}"'
        assert mounted["for_each"] == (
            f"${{{{for key in local.function_secrets[{key}] : key => local.secrets[key]}}}}"
        ), entry
        assert one(mounted["content"])["version"] == "latest", entry
        for secret in tf.locals["function_secrets"][entry]:  # its account may read what it mounts
            assert accounts[entry] in tf.locals["secret_readers"][secret], (entry, secret)
        assert "THREADS" in service["environment_variables"], entry


def function_accounts(tf) -> dict[str, tuple[str, str]]:
    """entry point → (its account key, the function's address)."""
    found = {}
    for entry, function in functions(tf).items():
        email = one(function.body["service_config"])["service_account_email"]
        account = re.search(r'sa_email\["(\w+)"\]', email)
        found[entry] = (
            account.group(1) if account else tf.locals["pushed_functions"][entry]["account"],
            function.address,
        )
    return found


def test_every_push_subscription_is_authenticated_retried_and_dead_lettered(tf):
    pushing = {
        name: sub for name, sub in tf.of_type("google_pubsub_subscription").items() if "push_config" in sub
    }
    assert {"push", "dead_report"} <= set(pushing)
    for name, subscription in pushing.items():
        push = one(subscription["push_config"])
        assert one(push["oidc_token"])["service_account_email"] == '${local.sa_email["push"]}', name
        assert one(push["oidc_token"])["audience"] == push["push_endpoint"], name
        assert one(subscription["dead_letter_policy"])["dead_letter_topic"].startswith(
            "${google_pubsub_topic."
        ), name
        assert one(subscription["retry_policy"])["maximum_backoff"] == "600s", name
    assert tf.resource("google_pubsub_subscription", "push")["for_each"] == "${local.routes}"
    assert one(tf.resource("google_pubsub_subscription", "push")["dead_letter_policy"])[
        "dead_letter_topic"
    ] == ("${google_pubsub_topic.dead[each.key].id}")
    assert tf.resource("google_pubsub_topic", "dead")["name"] == "${each.key}-dead"


def test_topics_and_ack_deadlines(tf):
    routes = tf.locals["routes"]
    assert {"prompts", "validated", "generation-jobs", "billing-alerts"} <= set(routes)
    assert routes["generation-jobs"]["ack_deadline"] == 600
    assert routes["generation-jobs"]["endpoint"] == "${google_cloud_run_v2_service.gpu.uri}"


def test_the_pubsub_service_agent_may_dead_letter(tf):
    publish = tf.resource("google_pubsub_topic_iam_member", "agent_publishes_dead_letters")
    ack = tf.resource("google_pubsub_subscription_iam_member", "agent_acks_sources")
    assert (
        publish["topic"] == "${google_pubsub_topic.dead[each.key].name}"
        and publish["role"] == "roles/pubsub.publisher"
    )
    assert (
        ack["subscription"] == "${google_pubsub_subscription.push[each.key].name}"
        and ack["role"] == "roles/pubsub.subscriber"
    )
    assert publish["member"] == ack["member"] == "${local.pubsub_agent}"
    final = tf.resource("google_pubsub_topic_iam_member", "agent_publishes_unreportable")
    acks_reports = tf.resource("google_pubsub_subscription_iam_member", "agent_acks_dead_reports")
    assert final["member"] == acks_reports["member"] == "${local.pubsub_agent}"
    assert tf.locals["pubsub_agent"] == '${local.agent_member["pubsub"]}'


def test_service_agents_exist_before_any_grant_names_them(tf):
    # An agent is created lazily on first use, so a grant naming it on an empty project fails;
    # google_project_service_identity creates it first, and grants it its usual role, which an
    # agent created on request does not get by itself.
    agents = tf.locals["service_agents"]
    assert {agent["service"] for agent in agents.values()} == {
        "pubsub.googleapis.com",
        "aiplatform.googleapis.com",
        "cloudscheduler.googleapis.com",
        "eventarc.googleapis.com",
    }
    identity = tf.resource("google_project_service_identity", "agents")
    assert identity["for_each"] == "${local.service_agents}" and identity["provider"] == "google-beta"
    assert tf.resource("google_project_iam_member", "agent_roles")["role"] == "${each.value.role}"
    written = "".join(path.read_text() for path in TERRAFORM.glob("*.tf"))
    assert "@gcp-sa-" not in written, "an agent named by its email: use local.agent_member"


def test_on_an_empty_project_the_functions_wait_for_the_grants_they_build_and_run_with(tf):
    wait = tf.resource("time_sleep", "grants_propagate")
    waited = set(wait["depends_on"])
    for grant in (
        "google_service_account_iam_member.deployer_acts_as",
        "google_artifact_registry_repository_iam_member.deployer_pushes",
        "google_storage_bucket_iam_member.deployer_sources",
        "google_project_iam_member.roles",
        "google_project_iam_member.agent_roles",
        "google_project_iam_member.gcs_agent_publishes",
        "google_secret_manager_secret_iam_member.readers",
    ):
        assert f"${{{grant}}}" in waited, grant
    for entry, function in functions(tf).items():
        assert "${time_sleep.grants_propagate}" in function.body["depends_on"], entry
    alert = tf.resource("google_monitoring_alert_policy", "error_rate")
    assert alert["depends_on"] == ["${time_sleep.errors_metric_known}"]
    assert tf.resource("time_sleep", "errors_metric_known")["depends_on"] == [
        "${google_logging_metric.errors}"
    ]


def test_a_rollback_survives_the_next_apply(tf):
    # rollout.py pins a function's traffic to its previous revision; with
    # all_traffic_on_latest_revision managed, the next apply would move it back to the latest.
    for entry, function in functions(tf).items():
        ignored = one(function.body["lifecycle"])["ignore_changes"]
        assert "${service_config[0].all_traffic_on_latest_revision}" in ignored, entry


def test_prod_deploys_wait_for_an_approval(tf):
    prod = tf.resource("google_cloudbuild_trigger", "prod_tag")
    assert one(prod["approval_config"]) == {"approval_required": True}


def test_the_deployer_touches_only_the_smoke_tests_objects_in_the_images_bucket(tf):
    grant = tf.resource("google_storage_bucket_iam_member", "deployer_smoke_outputs")
    expression = one(grant["condition"])["expression"]
    assert expression == (
        'resource.name.startsWith("projects/_/buckets/${google_storage_bucket.images.name}/objects/outputs/smoke-")'
    )
    smoke = (ROOT / "deploy" / "smoke.py").read_text()
    assert "/o?prefix=" not in smoke  # a list is authorised on the bucket, where the condition fails


def test_local_variables_and_state_are_never_committed():
    paths = [
        "terraform/environments/dev.local.tfvars",
        "terraform/prod.local.tfvars",
        "terraform/.terraform/providers/registry.terraform.io/x",
        "terraform/terraform.tfstate",
        "terraform/terraform.tfstate.backup",
        "terraform/.build/functions.zip",
    ]
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.stdout.split() == paths, f"not ignored: {sorted(set(paths) - set(done.stdout.split()))}"


def test_only_the_webhook_publishes_prompts(tf):
    assert tf.locals["routes"]["prompts"]["publishers"] == ['${local.sa_member["webhook"]}']
    # Publishing is granted per topic; the one project-wide publisher is the Cloud Storage agent,
    # which Eventarc's Storage triggers require.
    project_wide = {
        name for name, grant in tf.of_type("google_project_iam_member").items() if "pubsub" in str(grant)
    }
    assert project_wide == {"gcs_agent_publishes"}


def test_no_bucket_is_public_and_each_has_uniform_access(tf):
    buckets = tf.of_type("google_storage_bucket")
    assert {"images", "models"} <= set(buckets)
    for name, bucket in buckets.items():
        assert bucket["uniform_bucket_level_access"] is True, name
        assert bucket["public_access_prevention"] == "enforced", name
    for kind in (
        "google_storage_bucket_iam_member",
        "google_storage_bucket_iam_binding",
        "google_storage_bucket_acl",
    ):
        for name, grant in tf.of_type(kind).items():
            assert not re.search(r"allUsers|allAuthenticatedUsers", str(grant)), f"{kind}.{name} is public"


def test_outputs_and_inputs_are_deleted_after_their_retention(tf):
    rules = tf.resource("google_storage_bucket", "images")["lifecycle_rule"]
    assert all(one(rule["action"])["type"] == "Delete" for rule in rules)
    assert [one(rule["condition"]) for rule in rules] == [
        {"age": "${var.outputs_retention_days}", "matches_prefix": ["outputs/"]},
        {"age": "${var.inputs_retention_days}", "matches_prefix": ["inputs/"]},
    ]
    assert tf.variables["inputs_retention_days"]["default"] == 3


def test_only_validation_writes_inputs_and_only_there(tf):
    grants = tf.of_type("google_storage_bucket_iam_member")
    writers = {
        name: grant
        for name, grant in grants.items()
        if grant["role"]
        in ("roles/storage.objectCreator", "roles/storage.objectUser", "roles/storage.objectAdmin")
    }
    inputs = writers["validate_writes_inputs"]
    assert inputs["member"] == '${local.sa_member["validate"]}'
    assert one(inputs["condition"])["expression"].endswith('/objects/inputs/")')


def test_the_gpu_service_is_private_and_shaped_for_the_gpu(tf):
    gpu = tf.resource("google_cloud_run_v2_service", "gpu")
    for kind in ("google_cloud_run_v2_service_iam_member", "google_cloud_run_v2_service_iam_binding"):
        for name, grant in tf.of_type(kind).items():
            if "gpu" in str(grant.get("name", "")):
                assert "allUsers" not in str(grant) and "allAuthenticatedUsers" not in str(grant), name
    template = one(gpu["template"])
    container = one(template["containers"])
    assert one(template["node_selector"])["accelerator"] == "nvidia-l4"
    assert one(container["resources"])["cpu_idle"] is False
    assert one(container["resources"])["limits"]["nvidia.com/gpu"] == "1"
    assert template["max_instance_request_concurrency"] == "${var.gpu_concurrency}"
    validation = one(tf.variables["gpu_concurrency"]["validation"])["condition"]
    assert "var.gpu_concurrency <= 8" in validation
    assert one(one(container["startup_probe"])["http_get"])["path"] == "/readyz"
    assert one(one(container["liveness_probe"])["http_get"])["path"] == "/healthz"
    scaling = one(template["scaling"])
    assert scaling == {
        "min_instance_count": "${var.gpu_min_instances}",
        "max_instance_count": "${var.gpu_max_instances}",
    }
    mount = one(container["volume_mounts"])
    volume = one(template["volumes"])
    assert mount["name"] == volume["name"] and one(volume["gcs"])["read_only"] is True
    assert one(volume["gcs"])["bucket"] == "${google_storage_bucket.models.name}"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MODEL_DIR"] == mount["mount_path"] == "${local.models_mount_dir}"
    # Every setting gpu_service/config.py reads, but PORT (Cloud Run sets it), HOST (its
    # default, every interface, is what Cloud Run needs) and Vertex AI's AIP_* (set by Vertex
    # on a deployed model; on Cloud Run they stay unset).
    vertex_only = {"AIP_HTTP_PORT", "AIP_HEALTH_ROUTE", "AIP_PREDICT_ROUTE"}
    # TINY_FLAG_WORD only reaches the tiny random pipeline, which never runs in the cloud.
    local_only = {"PORT", "HOST", "TINY_FLAG_WORD"}
    wanted = env_names_read(ROOT / "gpu_service" / "config.py") - local_only - vertex_only
    assert not vertex_only & set(env), "Cloud Run must not set Vertex AI's variables"
    assert wanted <= set(env), f"GPU settings terraform never sets: {sorted(wanted - set(env))}"


def test_the_gpu_service_ignores_what_cloud_build_and_the_budget_guard_change(tf):
    ignored = one(tf.resource("google_cloud_run_v2_service", "gpu")["lifecycle"])["ignore_changes"]
    for field in ("scaling", "traffic", "template[0].containers[0].image"):
        assert f"${{{field}}}" in ignored or field in ignored, field


def test_firestore_ttl_policies(tf):
    ttl = tf.resource("google_firestore_field", "ttl")
    # Every collection whose documents store.py gives an `expire_at` has its TTL policy.
    assert (
        ttl["for_each"]
        == '${toset(["updates", "jobs", "cache", "pacing", "translations", "sets", "albums"])}'
        and ttl["field"] == "expire_at"
    )
    assert "ttl_config" in ttl


def test_the_budget_publishes_every_threshold_to_billing_alerts(tf):
    budget = tf.resource("google_billing_budget", "monthly")
    rule = one(budget["all_updates_rule"])
    assert rule["pubsub_topic"] == '${google_pubsub_topic.topic["billing-alerts"].id}'
    assert rule["schema_version"] == "1.0"
    assert one(budget["dynamic"])["threshold_rules"]["for_each"] == "${var.budget_thresholds}"


def test_the_workflow_gets_every_setting_it_reads(tf):
    workflow = tf.resource("google_workflows_workflow", "budget_guard")
    source = (ROOT / "workflows" / "budget_guard.yaml").read_text()
    read = set(re.findall(r'sys\.get_env\("([A-Z_]+)"\)', source))
    # The built-in project id, and the API endpoints (defaults are Google's; tests override).
    needed = {name for name in read if name != "GOOGLE_CLOUD_PROJECT_ID" and not name.endswith("_API")}
    assert needed <= set(workflow["user_env_vars"]), sorted(needed - set(workflow["user_env_vars"]))
    assert "budget_guard.yaml" in workflow["source_contents"]
    assert workflow["call_log_level"] == "LOG_ERRORS_ONLY"  # the token is in the Bot API URL


def test_the_edge_admits_only_telegram_and_throttles_it_never_bans_it(tf):
    policy = tf.resource("google_compute_security_policy", "webhook")
    rules = sorted(policy["rule"], key=lambda rule: int(rule["priority"]))
    first, default = rules[0], rules[-1]
    # A ban would lock Telegram out for ban_duration_sec after one burst of updates.
    assert first["action"] == "throttle" and "ban_duration_sec" not in one(first["rate_limit_options"])
    assert one(first["rate_limit_options"])["exceed_action"] == "deny(429)"
    assert not [rule for rule in rules if rule["action"] == "rate_based_ban"]
    assert one(one(first["match"])["config"])["src_ip_ranges"] == "${var.telegram_source_ranges}"
    assert default["action"].startswith("deny") and one(one(default["match"])["config"])["src_ip_ranges"] == [
        "*"
    ]
    assert tf.variables["telegram_source_ranges"]["default"] == ["149.154.160.0/20", "91.108.4.0/22"]
    assert tf.resource("google_compute_backend_service", "webhook")["security_policy"].startswith(
        "${google_compute_security_policy"
    )
    assert tf.locals["edge"] == "${var.edge_enabled ? 1 : 0}"


def test_environments_differ_where_they_should():
    dev = load_tfvars(TERRAFORM / "environments" / "dev.tfvars")
    prod = load_tfvars(TERRAFORM / "environments" / "prod.tfvars")
    assert (dev["environment"], prod["environment"]) == ("dev", "prod")
    assert dev["edge_enabled"] is False and prod["edge_enabled"] is True and prod["webhook_domain"]
    assert dev["gpu_min_instances"] == 0 and prod["gpu_min_instances"] >= 1


def test_deploy_triggers(tf):
    triggers = tf.of_type("google_cloudbuild_trigger")
    dev, prod, models = triggers["dev_push"], triggers["prod_tag"], triggers["models"]
    assert one(one(dev["github"])["push"])["branch"] == "^main$"
    assert one(one(prod["github"])["push"])["tag"] == "^v.*$"
    assert '_DEPLOY = "gpu"' in models["substitutions"]  # a new model redeploys the GPU service only
    assert (
        '_MODEL_NAME == \\"RELEASE\\"' in models["filter"] or '_MODEL_NAME == "RELEASE"' in models["filter"]
    )
    assert one(models["pubsub_config"])["topic"] == "${google_pubsub_topic.model_updates.id}"
    notification = tf.resource("google_storage_notification", "models")
    assert notification["bucket"] == "${google_storage_bucket.models.name}" and notification[
        "event_types"
    ] == ["OBJECT_FINALIZE"]


def test_alerts_cover_dead_letters_errors_and_the_gpu_queue(tf):
    filters = " ".join(
        str(policy["conditions"]) for policy in tf.of_type("google_monitoring_alert_policy").values()
    )
    assert "topic/send_message_operation_count" in filters and "-dead" in filters
    assert "subscription/oldest_unacked_message_age" in filters
    assert "logging.googleapis.com/user/" in filters
    assert tf.of_type("google_monitoring_dashboard")


def test_analytics_sink_and_views(tf):
    sink = tf.resource("google_logging_project_sink", "job_events")
    assert "jsonPayload.stage:*" in sink["filter"]
    views = tf.resource("google_bigquery_table", "views")
    for query in ("daily_users", "images_per_style", "refusals_by_reason", "latency_per_stage", "revenue"):
        assert (TERRAFORM / "queries" / f"{query}.sql").read_text().count("${events}") >= 1, query
    assert "templatefile" in one(views["view"])["query"]


def test_every_variable_is_described_and_the_risky_ones_validated(tf):
    for name, variable in tf.variables.items():
        assert "type" in variable, name
    validated = {name for name, variable in tf.variables.items() if "validation" in variable}
    assert {
        "project_id",
        "environment",
        "region",
        "gpu_concurrency",
        "gpu_max_instances",
        "budget_thresholds",
    } <= validated


def test_the_overflow_query_is_indexed_and_dispatch_outlives_a_prediction(tf):
    # Store.oldest_queued_since filters state and gpu_route and orders by times.queued: Firestore
    # refuses that query in the cloud without this composite index (the emulator needs none).
    index = tf.resource("google_firestore_index", "jobs_waiting_by_route")
    assert index["collection"] == "jobs"
    assert [f["field_path"] for f in index["fields"]] == ["state", "gpu_route", "times.queued"]
    store = (ROOT / "functions" / "imagebot" / "edges" / "store.py").read_text()
    start = store.index("def oldest_queued_since")
    query = store[start : store.index("\n    def ", start)]  # to the method after it
    assert re.findall(r'FieldFilter\("([\w.]+)"', query) + re.findall(r'order_by\("([\w.]+)"\)', query) == [
        "state",
        "gpu_route",
        "times.queued",
    ]
    # One predict call is held for up to vertex_predict_timeout_seconds (at most 500): the
    # function's timeout and the subscription's ack deadline must both be longer.
    timeout = tf.locals["pushed_functions"]["dispatch_vertex"]["timeout"]
    condition = one(tf.variables["vertex_predict_timeout_seconds"]["validation"])["condition"]
    assert "var.vertex_predict_timeout_seconds <= 500" in condition and timeout > 500
    assert tf.locals["routes"]["vertex-jobs"]["ack_deadline"] >= timeout


def test_the_local_stack_wires_pub_sub_as_the_cloud_does(tf):
    # Every topic of the cloud runs locally (sweep from the local scheduler, as from Cloud
    # Scheduler) but billing-alerts (Cloud Billing, which the local stack has not), with the
    # same ack deadline, and the same topics' dead letters fail their job.
    local = {route.topic: route for route in stack_routes(defaultdict(lambda: "http://127.0.0.1:9"))}
    routes = tf.locals["routes"]
    assert set(local) == set(routes) - {"billing-alerts"}
    assert {topic: route.ack_deadline_seconds for topic, route in local.items()} == {
        topic: routes[topic]["ack_deadline"] for topic in local
    }
    reported = set(re.findall(r'"([a-z-]+)"', tf.locals["failure_reported"]))
    assert {topic for topic, route in local.items() if route.dead_letters_fail_the_job} == reported
