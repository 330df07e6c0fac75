# Topics and push subscriptions: every Pub/Sub hop is a push subscription of our own, with OIDC
# authentication, a retry policy and a dead-letter topic `<topic>-dead` (the same shape
# local/wiring.py builds on the emulator). The functions on these hops are deployed without an
# Eventarc trigger because an Eventarc Pub/Sub trigger creates a subscription of its own that
# cannot be given a dead-letter topic; functions-framework turns the push body into the same
# `messagePublished` CloudEvent either way. Only deliver_image, fed by Cloud Storage, uses
# Eventarc (functions.tf).

locals {
  routes = {
    prompts = {
      endpoint     = google_cloudfunctions2_function.pushed["validate_prompt"].service_config[0].uri
      ack_deadline = 60
      publishers   = [local.sa_member["webhook"]]
    }
    validated = {
      endpoint     = google_cloudfunctions2_function.pushed["rate_limit"].service_config[0].uri
      ack_deadline = 60
      publishers   = [local.sa_member["validate"]]
    }
    job-progress = {
      # The GPU service says it started drawing a job; the user sees "drawing" at once.
      endpoint     = google_cloudfunctions2_function.pushed["report_progress"].service_config[0].uri
      ack_deadline = 60
      publishers   = [local.sa_member["gpu"]]
    }
    generation-jobs = {
      # Longer than the slowest generation (the GPU service's request timeout).
      endpoint     = google_cloud_run_v2_service.gpu.uri
      ack_deadline = 600
      # dispatch_vertex hands a job back when the Vertex AI endpoint gives no answer.
      publishers = [local.sa_member["admit"], local.sa_member["dispatch"]]
    }
    vertex-jobs = {
      # Jobs routed to the Vertex AI endpoint (GPU_ROUTE): one predict call each, held open
      # until the picture is drawn, like a push to the GPU service.
      endpoint     = google_cloudfunctions2_function.pushed["dispatch_vertex"].service_config[0].uri
      ack_deadline = 600
      publishers   = [local.sa_member["admit"]]
    }
    sweep = {
      endpoint     = google_cloudfunctions2_function.pushed["sweep_stuck_jobs"].service_config[0].uri
      ack_deadline = 120
      # Cloud Scheduler publishes as its service agent.
      publishers = [local.agent_member["scheduler"]]
    }
    billing-alerts = {
      endpoint     = google_cloudfunctions2_function.pushed["budget_guard"].service_config[0].uri
      ack_deadline = 60
      # Cloud Billing publishes budget notifications as this Google-managed account; an
      # operator's /resume (validate_prompt) asks the budget guard to resume the GPU here.
      publishers = ["serviceAccount:billing-budget-alert@system.gserviceaccount.com", local.sa_member["validate"]]
    }
  }
  # Topics whose dead letters are jobs: report_failure fails the job and tells the user. Not
  # job-progress: a "drawing…" status that could not be shown says nothing about the picture,
  # which is still drawn and delivered (its dead letters are kept, and alerted on, as all are).
  failure_reported = toset(["prompts", "validated", "generation-jobs", "vertex-jobs"])
  publisher_grants = merge([
    for topic, route in local.routes : { for member in route.publishers : "${topic} ${member}" => { topic = topic, member = member } }
  ]...)
}

resource "google_pubsub_topic" "topic" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; messages hold job ids and prompts for minutes, a customer key adds cost and an outage risk for no gain here.
  for_each                   = local.routes
  name                       = each.key
  labels                     = local.labels
  message_retention_duration = "86400s"
  depends_on                 = [google_project_service.enabled]
}

resource "google_pubsub_topic" "dead" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption, as for the source topics.
  for_each                   = local.routes
  name                       = "${each.key}-dead"
  labels                     = local.labels
  message_retention_duration = "604800s"
  depends_on                 = [google_project_service.enabled]
}

resource "google_pubsub_subscription" "push" {
  for_each             = local.routes
  name                 = "${each.key}-push"
  topic                = google_pubsub_topic.topic[each.key].id
  ack_deadline_seconds = each.value.ack_deadline
  labels               = local.labels

  push_config {
    push_endpoint = each.value.endpoint
    oidc_token {
      service_account_email = local.sa_email["push"]
      audience              = each.value.endpoint
    }
  }
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead[each.key].id
    max_delivery_attempts = 5
  }
  expiration_policy {
    ttl = "" # never expires for inactivity
  }
}

# Dead letters are kept a week for inspection and replay (docs/OPERATIONS.md).
resource "google_pubsub_subscription" "dead_keep" {
  for_each                   = local.routes
  name                       = "${each.key}-dead-keep"
  topic                      = google_pubsub_topic.dead[each.key].id
  message_retention_duration = "604800s"
  labels                     = local.labels
  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_topic_iam_member" "publishers" {
  for_each = local.publisher_grants
  topic    = google_pubsub_topic.topic[each.value.topic].name
  role     = "roles/pubsub.publisher"
  member   = each.value.member
}

# Dead-lettering is done by the Pub/Sub service agent: it must publish to the dead-letter topic
# and acknowledge (subscribe) on the source subscription.
resource "google_pubsub_topic_iam_member" "agent_publishes_dead_letters" {
  for_each = local.routes
  topic    = google_pubsub_topic.dead[each.key].name
  role     = "roles/pubsub.publisher"
  member   = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_acks_sources" {
  for_each     = local.routes
  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# Dead letters of the job topics are pushed to report_failure as well as kept. What even
# report_failure cannot handle ends in `report-failure-dead` (kept a week, alerted on).
resource "google_pubsub_topic" "unreportable" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption, as for the source topics.
  name                       = "report-failure-dead"
  labels                     = local.labels
  message_retention_duration = "604800s"
}

resource "google_pubsub_subscription" "unreportable_keep" {
  name                       = "report-failure-dead-keep"
  topic                      = google_pubsub_topic.unreportable.id
  message_retention_duration = "604800s"
  labels                     = local.labels
  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "dead_report" {
  for_each             = local.failure_reported
  name                 = "${each.key}-dead-report"
  topic                = google_pubsub_topic.dead[each.key].id
  ack_deadline_seconds = 60
  labels               = local.labels

  push_config {
    push_endpoint = google_cloudfunctions2_function.pushed["report_failure"].service_config[0].uri
    oidc_token {
      service_account_email = local.sa_email["push"]
      audience              = google_cloudfunctions2_function.pushed["report_failure"].service_config[0].uri
    }
  }
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.unreportable.id
    max_delivery_attempts = 5
  }
  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_topic_iam_member" "agent_publishes_unreportable" {
  topic  = google_pubsub_topic.unreportable.name
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_acks_dead_reports" {
  for_each     = local.failure_reported
  subscription = google_pubsub_subscription.dead_report[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# The sweep's clock: Cloud Scheduler publishes to `sweep`, pushed to sweep_stuck_jobs.
resource "google_cloud_scheduler_job" "sweep" {
  name        = "${local.name}-sweep"
  region      = var.region
  description = "Fail jobs stuck past JOB_DEADLINE_SECONDS, and tell their users."
  schedule    = var.sweep_schedule
  time_zone   = "Etc/UTC"
  pubsub_target {
    topic_name = google_pubsub_topic.topic["sweep"].id
    data       = base64encode("sweep")
  }
  depends_on = [google_project_service.enabled]
}
