# Analytics without a database server: the job event log lines (the functions' lines carry
# jsonPayload.stage; the GPU service's carry job_id, style and outcome) are copied by a log sink
# into BigQuery, and saved views answer the usual questions (queries/*.sql). The Stars ledger's
# steps are lines of stage "payment" (reason = the step, with stars and credits): queries/revenue.sql.

resource "google_bigquery_dataset" "analytics" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption; the dataset holds job events (ids, styles, timings), and a customer key adds a KMS dependency for no gain here.
  dataset_id                      = "imagebot_analytics"
  location                        = var.region
  description                     = "Job events from Cloud Logging, and saved views over them."
  default_partition_expiration_ms = var.analytics_retention_days * 86400000
  delete_contents_on_destroy      = var.environment != "prod"
  labels                          = local.labels
  depends_on                      = [google_project_service.enabled]
}

resource "google_logging_project_sink" "job_events" {
  name                   = "${local.name}-job-events"
  destination            = "bigquery.googleapis.com/projects/${var.project_id}/datasets/${google_bigquery_dataset.analytics.dataset_id}"
  filter                 = "resource.type=\"cloud_run_revision\" AND (jsonPayload.stage:* OR jsonPayload.job_id:*)"
  unique_writer_identity = true
  bigquery_options {
    # One table partitioned by day (run_googleapis_com_stdout), not one table per day.
    use_partitioned_tables = true
  }
}

resource "google_bigquery_dataset_iam_member" "sink_writes" {
  dataset_id = google_bigquery_dataset.analytics.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = google_logging_project_sink.job_events.writer_identity
}

locals {
  # The table the sink writes the functions' and the GPU service's stdout lines to.
  events_table = "${var.project_id}.${google_bigquery_dataset.analytics.dataset_id}.run_googleapis_com_stdout"
  views        = toset(["daily_users", "images_per_style", "refusals_by_reason", "latency_per_stage", "revenue"])
}

resource "google_bigquery_table" "views" {
  #checkov:skip=CKV_GCP_80:Views store no data, so there is nothing for a customer key to encrypt.
  #checkov:skip=CKV_GCP_121:Views hold no data; deletion protection is for tables.
  for_each            = var.analytics_views ? local.views : toset([])
  dataset_id          = google_bigquery_dataset.analytics.dataset_id
  table_id            = each.value
  deletion_protection = false
  labels              = local.labels
  view {
    query          = templatefile("${path.module}/queries/${each.value}.sql", { events = local.events_table })
    use_legacy_sql = false
  }
}
