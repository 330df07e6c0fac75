# Alerts (what to do for each: docs/OPERATIONS.md) and one dashboard.

resource "google_monitoring_notification_channel" "email" {
  display_name = "${local.name} operators"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }
  depends_on = [google_project_service.enabled]
}

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "${local.name}: messages dead-lettered"
  combiner              = "OR"
  notification_channels = [google_monitoring_notification_channel.email.id]
  documentation {
    content   = "A message failed 5 deliveries and went to a `<topic>-dead` topic. See docs/OPERATIONS.md#dead-letters."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "a message published to a dead-letter topic"
    condition_threshold {
      filter          = "resource.type = \"pubsub_topic\" AND metric.type = \"pubsub.googleapis.com/topic/send_message_operation_count\" AND resource.label.topic_id = monitoring.regex.full_match(\".*-dead\")"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.topic_id"]
      }
    }
  }
}

# ERROR lines of the functions and the GPU service (both run on Cloud Run), counted.
resource "google_logging_metric" "errors" {
  name   = "${local.name}-errors"
  filter = "resource.type=\"cloud_run_revision\" AND severity>=ERROR"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    labels {
      key        = "service"
      value_type = "STRING"
    }
  }
  label_extractors = {
    service = "EXTRACT(resource.labels.service_name)"
  }
}

# An alert policy on a log-based metric created in the same apply is refused until Monitoring
# knows the new metric type (it appears some time after the metric is created), hence the wait.
resource "time_sleep" "errors_metric_known" {
  create_duration = "60s"
  depends_on      = [google_logging_metric.errors]
}

resource "google_monitoring_alert_policy" "error_rate" {
  display_name          = "${local.name}: error rate"
  combiner              = "OR"
  notification_channels = [google_monitoring_notification_channel.email.id]
  documentation {
    content   = "More than ${var.error_alert_per_5min} ERROR log lines in 5 minutes. See docs/OPERATIONS.md#error-rate."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "ERROR lines per 5 minutes"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.errors.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.error_alert_per_5min
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.service"]
      }
    }
  }
  depends_on = [time_sleep.errors_metric_known]
}

resource "google_monitoring_alert_policy" "gpu_queue_age" {
  display_name          = "${local.name}: GPU queue is old"
  combiner              = "OR"
  notification_channels = [google_monitoring_notification_channel.email.id]
  documentation {
    content   = "The oldest generation job waiting for the GPU is older than ${var.gpu_queue_age_alert_seconds} s. See docs/OPERATIONS.md#gpu-queue-age."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "oldest unacked message age on generation-jobs-push"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.label.subscription_id = \"${google_pubsub_subscription.push["generation-jobs"].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.gpu_queue_age_alert_seconds
      duration        = "120s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "budget_workflow_failed" {
  display_name          = "${local.name}: budget workflow failed"
  combiner              = "OR"
  notification_channels = [google_monitoring_notification_channel.email.id]
  documentation {
    content   = "The budget guard workflow failed: the GPU may still be running past the budget. See docs/OPERATIONS.md#budget-stop."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "failed executions of budget-guard"
    condition_threshold {
      filter          = "resource.type = \"workflows.googleapis.com/Workflow\" AND metric.type = \"workflows.googleapis.com/finished_execution_count\" AND metric.label.status = \"FAILED\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }
}

resource "google_monitoring_dashboard" "bot" {
  dashboard_json = jsonencode({
    displayName = "imagebot (${var.environment})"
    gridLayout = {
      columns = 2
      widgets = [
        for tile in [
          ["GPU queue: oldest job waiting (s)", "resource.type=\"pubsub_subscription\" metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\"", "ALIGN_MAX"],
          ["Jobs waiting per subscription", "resource.type=\"pubsub_subscription\" metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\"", "ALIGN_MAX"],
          ["Dead letters per topic", "resource.type=\"pubsub_topic\" metric.type=\"pubsub.googleapis.com/topic/send_message_operation_count\" resource.label.topic_id=monitoring.regex.full_match(\".*-dead\")", "ALIGN_SUM"],
          ["Requests per service", "resource.type=\"cloud_run_revision\" metric.type=\"run.googleapis.com/request_count\"", "ALIGN_RATE"],
          ["ERROR lines per service", "metric.type=\"logging.googleapis.com/user/${google_logging_metric.errors.name}\" resource.type=\"cloud_run_revision\"", "ALIGN_SUM"],
          ["GPU service instances", "resource.type=\"cloud_run_revision\" metric.type=\"run.googleapis.com/container/instance_count\" resource.label.service_name=\"${google_cloud_run_v2_service.gpu.name}\"", "ALIGN_MAX"],
          ["Request latency p95 (ms)", "resource.type=\"cloud_run_revision\" metric.type=\"run.googleapis.com/request_latencies\"", "ALIGN_PERCENTILE_95"],
          ["GPU utilisation", "resource.type=\"cloud_run_revision\" metric.type=\"run.googleapis.com/container/gpu/utilizations\"", "ALIGN_MEAN"],
          ] : {
          title = tile[0]
          xyChart = {
            dataSets = [{
              plotType = "LINE"
              timeSeriesQuery = {
                timeSeriesFilter = {
                  filter      = tile[1]
                  aggregation = { alignmentPeriod = "60s", perSeriesAligner = tile[2] }
                }
              }
            }]
          }
        }
      ]
    }
  })
}
