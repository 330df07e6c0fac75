# One Cloud Functions (gen2) function per entry point in functions/main.py. Terraform creates
# them from the source at apply time and owns their configuration (triggers, environment,
# secrets, sizes, identities); Cloud Build redeploys only the code (`gcloud functions deploy
# NAME --source=functions`, which keeps everything else), hence ignore_changes on the source.

data "archive_file" "functions" {
  type        = "zip"
  source_dir  = "${path.module}/../functions"
  output_path = "${path.module}/.build/functions.zip"
  excludes    = ["__pycache__", "imagebot/__pycache__", ".pytest_cache"]
}

resource "google_storage_bucket_object" "functions_source" {
  name   = "functions-${data.archive_file.functions.output_md5}.zip"
  bucket = google_storage_bucket.sources.name
  source = data.archive_file.functions.output_path
}

locals {
  # Every setting functions/imagebot/config.py reads (tests/infra checks the list is complete).
  function_env = {
    GOOGLE_CLOUD_PROJECT      = var.project_id
    IMAGES_BUCKET             = google_storage_bucket.images.name
    TELEGRAM_API_BASE         = local.telegram_api
    PROMPTS_TOPIC             = "prompts"
    VALIDATED_TOPIC           = "validated"
    GENERATION_TOPIC          = "generation-jobs"
    PROGRESS_TOPIC            = "job-progress"
    PROMPT_MIN_CHARS          = tostring(var.prompt_min_chars)
    PROMPT_MAX_CHARS          = tostring(var.prompt_max_chars)
    RATE_BURST                = tostring(var.rate_burst)
    RATE_REFILL_SECONDS       = tostring(var.rate_refill_seconds)
    DAILY_QUOTA               = tostring(var.daily_quota)
    TELEGRAM_TIMEOUT_SECONDS  = tostring(var.telegram_timeout_seconds)
    JOB_DEADLINE_SECONDS      = tostring(var.job_deadline_seconds)
    BOT_USERNAME              = var.bot_username
    OPERATOR_IDS              = join(",", [for id in var.operator_ids : tostring(id)])
    OPS_CHAT_ID               = var.ops_chat_id
    REGION                    = var.region
    BUDGET_WORKFLOW           = google_workflows_workflow.budget_guard.name
    BUDGET_ECONOMY_AT         = tostring(var.budget_economy_at)
    BUDGET_STOP_AT            = tostring(var.budget_stop_at)
    TRANSLATE_MODEL           = var.translate_model
    VERTEX_REGION             = coalesce(var.vertex_region, var.region)
    TRANSLATE_TIMEOUT_SECONDS = tostring(var.translate_timeout_seconds)
    LOG_EXECUTION_ID          = "true"
  }
  function_source = {
    bucket = google_storage_bucket.sources.name
    object = google_storage_bucket_object.functions_source.name
  }
  deployer_id = google_service_account.sa["deployer"].id
}

resource "google_cloudfunctions2_function" "telegram_webhook" {
  #checkov:skip=CKV_GCP_124:Telegram must reach the webhook from the internet; in prod (edge_enabled) ingress is internal-and-load-balancer only, behind Cloud Armor.
  name     = "telegram-webhook"
  location = var.region
  labels   = local.labels

  build_config {
    runtime         = "python311"
    entry_point     = "telegram_webhook"
    service_account = local.deployer_id
    # The built image goes to our repository, where the deployer may write (not gcf-artifacts).
    docker_repository = google_artifact_registry_repository.images.id
    source {
      storage_source {
        bucket = local.function_source.bucket
        object = local.function_source.object
      }
    }
  }

  service_config {
    service_account_email = local.sa_email["webhook"]
    available_memory      = "512Mi"
    available_cpu         = "1"
    # Telegram opens up to 100 connections; functions-framework's default of 4 threads per
    # core would queue them, so THREADS matches the concurrency (Google's advice for Python).
    max_instance_request_concurrency = var.webhook_concurrency
    min_instance_count               = var.environment == "prod" ? 1 : 0
    max_instance_count               = var.webhook_max_instances
    timeout_seconds                  = 30
    # Behind the load balancer in prod: nothing may reach the function around Cloud Armor.
    ingress_settings               = var.edge_enabled ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    environment_variables          = merge(local.function_env, { THREADS = tostring(var.webhook_concurrency) })

    dynamic "secret_environment_variables" {
      for_each = local.secrets
      content {
        key        = secret_environment_variables.value.env
        project_id = var.project_id
        secret     = google_secret_manager_secret.telegram[secret_environment_variables.key].secret_id
        version    = "latest"
      }
    }
  }

  lifecycle {
    ignore_changes = [build_config[0].source]
  }
  depends_on = [google_secret_manager_secret_iam_member.readers]
}

resource "google_cloudfunctions2_function" "validate_prompt" {
  # Consumes `prompts` through its push subscription (pubsub.tf).
  name     = "validate-prompt"
  location = var.region
  labels   = local.labels

  build_config {
    runtime         = "python311"
    entry_point     = "validate_prompt"
    service_account = local.deployer_id
    # The built image goes to our repository, where the deployer may write (not gcf-artifacts).
    docker_repository = google_artifact_registry_repository.images.id
    source {
      storage_source {
        bucket = local.function_source.bucket
        object = local.function_source.object
      }
    }
  }

  service_config {
    service_account_email            = local.sa_email["validate"]
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    max_instance_request_concurrency = 8
    max_instance_count               = 10
    timeout_seconds                  = 60
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    environment_variables            = merge(local.function_env, { THREADS = "8" })

    dynamic "secret_environment_variables" {
      for_each = local.secrets
      content {
        key        = secret_environment_variables.value.env
        project_id = var.project_id
        secret     = google_secret_manager_secret.telegram[secret_environment_variables.key].secret_id
        version    = "latest"
      }
    }
  }

  lifecycle {
    ignore_changes = [build_config[0].source]
  }
  depends_on = [google_secret_manager_secret_iam_member.readers]
}

resource "google_cloudfunctions2_function" "rate_limit" {
  # Consumes `validated` through its push subscription (pubsub.tf).
  name     = "rate-limit"
  location = var.region
  labels   = local.labels

  build_config {
    runtime         = "python311"
    entry_point     = "rate_limit"
    service_account = local.deployer_id
    # The built image goes to our repository, where the deployer may write (not gcf-artifacts).
    docker_repository = google_artifact_registry_repository.images.id
    source {
      storage_source {
        bucket = local.function_source.bucket
        object = local.function_source.object
      }
    }
  }

  service_config {
    service_account_email            = local.sa_email["admit"]
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    max_instance_request_concurrency = 8
    max_instance_count               = 10
    timeout_seconds                  = 60
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    environment_variables            = merge(local.function_env, { THREADS = "8" })

    dynamic "secret_environment_variables" {
      for_each = local.secrets
      content {
        key        = secret_environment_variables.value.env
        project_id = var.project_id
        secret     = google_secret_manager_secret.telegram[secret_environment_variables.key].secret_id
        version    = "latest"
      }
    }
  }

  lifecycle {
    ignore_changes = [build_config[0].source]
  }
  depends_on = [google_secret_manager_secret_iam_member.readers]
}

resource "google_cloudfunctions2_function" "report_progress" {
  # Consumes `job-progress` (published by the GPU service) through its push subscription.
  name     = "report-progress"
  location = var.region
  labels   = local.labels

  build_config {
    runtime         = "python311"
    entry_point     = "report_progress"
    service_account = local.deployer_id
    # The built image goes to our repository, where the deployer may write (not gcf-artifacts).
    docker_repository = google_artifact_registry_repository.images.id
    source {
      storage_source {
        bucket = local.function_source.bucket
        object = local.function_source.object
      }
    }
  }

  service_config {
    service_account_email            = local.sa_email["progress"]
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    max_instance_request_concurrency = 8
    max_instance_count               = 10
    timeout_seconds                  = 60
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    environment_variables            = merge(local.function_env, { THREADS = "8" })

    dynamic "secret_environment_variables" {
      for_each = local.secrets
      content {
        key        = secret_environment_variables.value.env
        project_id = var.project_id
        secret     = google_secret_manager_secret.telegram[secret_environment_variables.key].secret_id
        version    = "latest"
      }
    }
  }

  lifecycle {
    ignore_changes = [build_config[0].source]
  }
  depends_on = [google_secret_manager_secret_iam_member.readers]
}

resource "google_cloudfunctions2_function" "report_failure" {
  # Consumes the job topics' dead letters (`<topic>-dead-report` subscriptions, pubsub.tf):
  # the job fails, the user is told and offered a retry.
  name     = "report-failure"
  location = var.region
  labels   = local.labels

  build_config {
    runtime         = "python311"
    entry_point     = "report_failure"
    service_account = local.deployer_id
    # The built image goes to our repository, where the deployer may write (not gcf-artifacts).
    docker_repository = google_artifact_registry_repository.images.id
    source {
      storage_source {
        bucket = local.function_source.bucket
        object = local.function_source.object
      }
    }
  }

  service_config {
    service_account_email            = local.sa_email["failures"]
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    max_instance_request_concurrency = 8
    max_instance_count               = 10
    timeout_seconds                  = 60
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    environment_variables            = merge(local.function_env, { THREADS = "8" })

    dynamic "secret_environment_variables" {
      for_each = local.secrets
      content {
        key        = secret_environment_variables.value.env
        project_id = var.project_id
        secret     = google_secret_manager_secret.telegram[secret_environment_variables.key].secret_id
        version    = "latest"
      }
    }
  }

  lifecycle {
    ignore_changes = [build_config[0].source]
  }
  depends_on = [google_secret_manager_secret_iam_member.readers]
}

resource "google_cloudfunctions2_function" "sweep_stuck_jobs" {
  # Consumes `sweep`, which Cloud Scheduler publishes to every few minutes (pubsub.tf).
  name     = "sweep-stuck-jobs"
  location = var.region
  labels   = local.labels

  build_config {
    runtime         = "python311"
    entry_point     = "sweep_stuck_jobs"
    service_account = local.deployer_id
    # The built image goes to our repository, where the deployer may write (not gcf-artifacts).
    docker_repository = google_artifact_registry_repository.images.id
    source {
      storage_source {
        bucket = local.function_source.bucket
        object = local.function_source.object
      }
    }
  }

  service_config {
    service_account_email            = local.sa_email["failures"]
    available_memory                 = "512Mi"
    available_cpu                    = "1"
    max_instance_request_concurrency = 8
    max_instance_count               = 10
    timeout_seconds                  = 60
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    environment_variables            = merge(local.function_env, { THREADS = "8" })

    dynamic "secret_environment_variables" {
      for_each = local.secrets
      content {
        key        = secret_environment_variables.value.env
        project_id = var.project_id
        secret     = google_secret_manager_secret.telegram[secret_environment_variables.key].secret_id
        version    = "latest"
      }
    }
  }

  lifecycle {
    ignore_changes = [build_config[0].source]
  }
  depends_on = [google_secret_manager_secret_iam_member.readers]
}

resource "google_cloudfunctions2_function" "deliver_image" {
  name     = "deliver-image"
  location = var.region
  labels   = local.labels

  build_config {
    runtime         = "python311"
    entry_point     = "deliver_image"
    service_account = local.deployer_id
    # The built image goes to our repository, where the deployer may write (not gcf-artifacts).
    docker_repository = google_artifact_registry_repository.images.id
    source {
      storage_source {
        bucket = local.function_source.bucket
        object = local.function_source.object
      }
    }
  }

  service_config {
    service_account_email            = local.sa_email["deliver"]
    available_memory                 = "1Gi"
    available_cpu                    = "1"
    max_instance_request_concurrency = 4
    max_instance_count               = 10
    timeout_seconds                  = 120
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    environment_variables            = merge(local.function_env, { THREADS = "4" })

    dynamic "secret_environment_variables" {
      for_each = local.secrets
      content {
        key        = secret_environment_variables.value.env
        project_id = var.project_id
        secret     = google_secret_manager_secret.telegram[secret_environment_variables.key].secret_id
        version    = "latest"
      }
    }
  }

  # Eventarc: a finalized object in the images bucket. Retried on failure: delivery is
  # idempotent (a transactional claim; a photo is sent once).
  event_trigger {
    trigger_region        = var.region
    event_type            = "google.cloud.storage.object.v1.finalized"
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = local.sa_email["eventarc"]
    event_filters {
      attribute = "bucket"
      value     = google_storage_bucket.images.name
    }
  }

  lifecycle {
    ignore_changes = [build_config[0].source]
  }
  depends_on = [google_secret_manager_secret_iam_member.readers, google_project_iam_member.gcs_agent_publishes]
}

resource "google_cloudfunctions2_function" "budget_guard" {
  # Consumes `billing-alerts` through its push subscription (pubsub.tf).
  name     = "budget-guard"
  location = var.region
  labels   = local.labels

  build_config {
    runtime         = "python311"
    entry_point     = "budget_guard"
    service_account = local.deployer_id
    # The built image goes to our repository, where the deployer may write (not gcf-artifacts).
    docker_repository = google_artifact_registry_repository.images.id
    source {
      storage_source {
        bucket = local.function_source.bucket
        object = local.function_source.object
      }
    }
  }

  service_config {
    service_account_email = local.sa_email["budget"]
    available_memory      = "512Mi"
    available_cpu         = "1"
    # One notification at a time keeps the read-decide-write of the ops document simple.
    max_instance_request_concurrency = 1
    max_instance_count               = 1
    timeout_seconds                  = 120
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    environment_variables            = merge(local.function_env, { THREADS = "1" })

    dynamic "secret_environment_variables" {
      for_each = local.secrets
      content {
        key        = secret_environment_variables.value.env
        project_id = var.project_id
        secret     = google_secret_manager_secret.telegram[secret_environment_variables.key].secret_id
        version    = "latest"
      }
    }
  }

  lifecycle {
    ignore_changes = [build_config[0].source]
  }
  depends_on = [google_secret_manager_secret_iam_member.readers]
}

# --- who may invoke which function (gen2: run.invoker on the underlying Cloud Run service) ----

locals {
  function_invokers = {
    # Telegram cannot authenticate: the webhook is public, and checks the secret-token header
    # (and, in prod, sits behind Cloud Armor, which admits only Telegram's ranges).
    "webhook-public"  = [google_cloudfunctions2_function.telegram_webhook.name, "allUsers"]
    "validate-push"   = [google_cloudfunctions2_function.validate_prompt.name, local.sa_member["push"]]
    "rate-limit-push" = [google_cloudfunctions2_function.rate_limit.name, local.sa_member["push"]]
    "progress-push"   = [google_cloudfunctions2_function.report_progress.name, local.sa_member["push"]]
    "failure-push"    = [google_cloudfunctions2_function.report_failure.name, local.sa_member["push"]]
    "sweep-push"      = [google_cloudfunctions2_function.sweep_stuck_jobs.name, local.sa_member["push"]]
    "budget-push"     = [google_cloudfunctions2_function.budget_guard.name, local.sa_member["push"]]
    "deliver-events"  = [google_cloudfunctions2_function.deliver_image.name, local.sa_member["eventarc"]]
  }
}

resource "google_cloud_run_v2_service_iam_member" "function_invokers" {
  for_each = local.function_invokers
  location = var.region
  name     = each.value[0]
  role     = "roles/run.invoker"
  member   = each.value[1]
}
