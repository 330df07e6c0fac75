# The billing guard: a budget whose every notification goes to `billing-alerts` (pubsub.tf),
# consumed by the budget_guard function, which tells the operators, switches to economy mode,
# and at the stop threshold starts the workflow below.

resource "google_billing_budget" "monthly" {
  billing_account = var.billing_account
  display_name    = "${local.name}-${var.environment}"

  budget_filter {
    projects        = ["projects/${local.project_number}"]
    calendar_period = "MONTH"
  }

  amount {
    specified_amount {
      currency_code = var.budget_currency
      units         = tostring(floor(var.budget_amount))
    }
  }

  dynamic "threshold_rules" {
    for_each = var.budget_thresholds
    content {
      threshold_percent = threshold_rules.value
      spend_basis       = "CURRENT_SPEND"
    }
  }

  all_updates_rule {
    pubsub_topic                     = google_pubsub_topic.topic["billing-alerts"].id
    schema_version                   = "1.0"
    monitoring_notification_channels = [google_monitoring_notification_channel.email.id]
    # Billing admins keep getting the budget emails as well.
    disable_default_iam_recipients = false
  }

  depends_on = [google_project_service.enabled, google_pubsub_topic_iam_member.publishers]
}

resource "google_workflows_workflow" "budget_guard" {
  name            = "budget-guard"
  region          = var.region
  description     = "Pause admissions, scale the GPU service to zero (or back), verify, report."
  service_account = google_service_account.sa["workflow"].id
  source_contents = file("${path.module}/../workflows/budget_guard.yaml")
  # Errors only: a logged call would show the Bot API URL, which holds the token.
  call_log_level = "LOG_ERRORS_ONLY"
  labels         = local.labels

  # Read by the workflow with sys.get_env; set here, never by whoever starts an execution.
  user_env_vars = {
    REGION           = var.region
    GPU_SERVICE      = google_cloud_run_v2_service.gpu.name
    OPS_CHAT_ID      = var.ops_chat_id
    BOT_TOKEN_SECRET = google_secret_manager_secret.telegram["bot_token"].secret_id
    POLL_SECONDS     = "10"
    MAX_CHECKS       = "60"
    # The stop undeploys the Vertex AI GPU endpoint's models too (empty: no endpoint).
    VERTEX_ENDPOINT = local.vertex_endpoint
    VERTEX_API      = "https://${local.vertex_gpu_region}-aiplatform.googleapis.com"
  }

  depends_on = [google_project_service.enabled]
}
