# One Cloud Functions (gen2) function per entry point in functions/main.py. Terraform creates
# them from the source at apply time and owns their configuration (triggers, environment,
# secrets, sizes, identities); Cloud Build redeploys only the code (`gcloud functions deploy
# NAME --source=functions`, which keeps everything else), hence ignore_changes on the source.
# A rollback (deploy/rollout.py) pins a function's traffic to the revision that served before;
# the next build's deploy sends it to the new revision again. Terraform ignores
# all_traffic_on_latest_revision after creation, so an apply in between keeps the rollback.

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
    GOOGLE_CLOUD_PROJECT     = var.project_id
    IMAGES_BUCKET            = google_storage_bucket.images.name
    TELEGRAM_API_BASE        = local.telegram_api
    PROMPTS_TOPIC            = "prompts"
    VALIDATED_TOPIC          = "validated"
    GENERATION_TOPIC         = "generation-jobs"
    PROGRESS_TOPIC           = "job-progress"
    PROMPT_MIN_CHARS         = tostring(var.prompt_min_chars)
    PROMPT_MAX_CHARS         = tostring(var.prompt_max_chars)
    RATE_BURST               = tostring(var.rate_burst)
    RATE_REFILL_SECONDS      = tostring(var.rate_refill_seconds)
    DAILY_QUOTA              = tostring(var.daily_quota)
    TELEGRAM_TIMEOUT_SECONDS = tostring(var.telegram_timeout_seconds)
    JOB_DEADLINE_SECONDS     = tostring(var.job_deadline_seconds)
    # A 429 whose retry_after is longer than this is not slept on: the photo is deferred and
    # sent by the sweep (docs/OPERATIONS.md); the backoff of a deferred photo doubles between these.
    TELEGRAM_MAX_WAIT_SECONDS      = "30"
    DELIVERY_RETRY_INITIAL_SECONDS = "10"
    DELIVERY_RETRY_MAX_SECONDS     = "300"
    BOT_USERNAME                   = var.bot_username
    OPERATOR_IDS                   = join(",", [for id in var.operator_ids : tostring(id)])
    OPS_CHAT_ID                    = var.ops_chat_id
    SUPPORT_CONTACT                = var.support_contact
    REGION                         = var.region
    BUDGET_WORKFLOW                = google_workflows_workflow.budget_guard.name
    BUDGET_TOPIC                   = google_pubsub_topic.topic["billing-alerts"].name
    BUDGET_ECONOMY_AT              = tostring(var.budget_economy_at)
    BUDGET_STOP_AT                 = tostring(var.budget_stop_at)
    TRANSLATE_MODEL                = var.translate_model
    VERTEX_REGION                  = coalesce(var.vertex_region, var.region)
    TRANSLATE_TIMEOUT_SECONDS      = tostring(var.translate_timeout_seconds)
    GPU_ROUTE                      = var.gpu_route
    VERTEX_ENDPOINT                = local.vertex_endpoint
    VERTEX_JOBS_TOPIC              = "vertex-jobs"
    OVERFLOW_QUEUE_AGE_SECONDS     = tostring(var.overflow_queue_age_seconds)
    VERTEX_PREDICT_TIMEOUT_SECONDS = tostring(var.vertex_predict_timeout_seconds)
    LOG_EXECUTION_ID               = "true"
    # A user's photo (functions/imagebot/core/photos.py says why each): getFile's 20 MB, 24 MP
    # read from the header before decoding, 256 px on the short side, 2.5:1 at most.
    PHOTO_MAX_BYTES  = "20971520"
    PHOTO_MAX_PIXELS = "24000000"
    PHOTO_MIN_SIDE   = "256"
    PHOTO_MAX_ASPECT = "2.5"
    # An album's first photos drawn, one job each; the user is told once about the rest.
    ALBUM_MAX_PHOTOS = "4"
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
      for_each = { for key in local.function_secrets["telegram_webhook"] : key => local.secrets[key] }
      content {
        key        = secret_environment_variables.value.env
        project_id = var.project_id
        secret     = google_secret_manager_secret.telegram[secret_environment_variables.key].secret_id
        version    = "latest"
      }
    }
  }

  lifecycle {
    # The source is Cloud Build's; the traffic split is rollout.py's after a rollback (above).
    ignore_changes = [build_config[0].source, service_config[0].all_traffic_on_latest_revision]
  }
  depends_on = [time_sleep.grants_propagate]
}

# The functions fed by a push subscription of our own (pubsub.tf), one resource for all: they
# differ only in identity and size. Keyed by entry point; the function is named with dashes.
locals {
  pushed_functions = {
    # A user's photo is decoded here (core/photos.py): a 24 MP WebP, the costliest file let
    # through, peaks near 400 MB (RGB PNG 200, JPEG 40), so 1 GiB holds two at once.
    validate_prompt = { account = "validate", memory = "1Gi", concurrency = 8, max_instances = 10, timeout = 60 }
    rate_limit      = { account = "admit", memory = "512Mi", concurrency = 8, max_instances = 10, timeout = 60 }
    # One predict call per job holds its request until the picture is drawn (a cold endpoint
    # replica loads three styles first): the timeout covers VERTEX_PREDICT_TIMEOUT_SECONDS.
    dispatch_vertex  = { account = "dispatch", memory = "512Mi", concurrency = 16, max_instances = 20, timeout = 540 }
    report_progress  = { account = "progress", memory = "512Mi", concurrency = 8, max_instances = 10, timeout = 60 }
    report_failure   = { account = "failures", memory = "512Mi", concurrency = 8, max_instances = 10, timeout = 60 }
    sweep_stuck_jobs = { account = "failures", memory = "512Mi", concurrency = 8, max_instances = 10, timeout = 60 }
    # One notification at a time keeps the read-decide-write of the ops document simple.
    budget_guard = { account = "budget", memory = "512Mi", concurrency = 1, max_instances = 1, timeout = 120 }
  }
}

resource "google_cloudfunctions2_function" "pushed" {
  for_each = local.pushed_functions
  name     = replace(each.key, "_", "-")
  location = var.region
  labels   = local.labels

  build_config {
    runtime         = "python311"
    entry_point     = each.key
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
    service_account_email            = local.sa_email[each.value.account]
    available_memory                 = each.value.memory
    available_cpu                    = "1"
    max_instance_request_concurrency = each.value.concurrency
    max_instance_count               = each.value.max_instances
    timeout_seconds                  = each.value.timeout
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    environment_variables            = merge(local.function_env, { THREADS = tostring(each.value.concurrency) })

    dynamic "secret_environment_variables" {
      for_each = { for key in local.function_secrets[each.key] : key => local.secrets[key] }
      content {
        key        = secret_environment_variables.value.env
        project_id = var.project_id
        secret     = google_secret_manager_secret.telegram[secret_environment_variables.key].secret_id
        version    = "latest"
      }
    }
  }

  lifecycle {
    # The source is Cloud Build's; the traffic split is rollout.py's after a rollback (above).
    ignore_changes = [build_config[0].source, service_config[0].all_traffic_on_latest_revision]
  }
  depends_on = [time_sleep.grants_propagate]
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
      for_each = { for key in local.function_secrets["deliver_image"] : key => local.secrets[key] }
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
    # The source is Cloud Build's; the traffic split is rollout.py's after a rollback (above).
    ignore_changes = [build_config[0].source, service_config[0].all_traffic_on_latest_revision]
  }
  # The Eventarc trigger is refused until its agents and grants are seen (time_sleep below).
  depends_on = [time_sleep.grants_propagate]
}

# A function's first build runs as the deployer and its revision reads its secrets; its Eventarc
# trigger needs the Eventarc and Cloud Storage agents' grants. Grants take effect after a delay
# (typically under two minutes, sometimes seven or more:
# https://cloud.google.com/iam/docs/access-change-propagation) and a new Eventarc agent is
# provisioned lazily (https://cloud.google.com/eventarc/docs/issues), so on an empty project the
# functions wait for every grant they depend on, and then a little longer.
resource "time_sleep" "grants_propagate" {
  create_duration = "120s"
  depends_on = [
    google_project_iam_member.roles,
    google_project_iam_member.agent_roles,
    google_project_iam_member.log_writer,
    google_project_iam_member.deployer_reads_function_sources,
    google_project_iam_member.gcs_agent_publishes,
    google_service_account_iam_member.deployer_acts_as,
    google_artifact_registry_repository_iam_member.deployer_pushes,
    google_storage_bucket_iam_member.deployer_sources,
    google_secret_manager_secret_iam_member.readers,
  ]
}

# --- who may invoke which function (gen2: run.invoker on the underlying Cloud Run service) ----

locals {
  function_invokers = merge(
    {
      # Telegram cannot authenticate: the webhook is public, and checks the secret-token header
      # (and, in prod, sits behind Cloud Armor, which admits only Telegram's ranges).
      "webhook-public" = [google_cloudfunctions2_function.telegram_webhook.name, "allUsers"]
      "deliver-events" = [google_cloudfunctions2_function.deliver_image.name, local.sa_member["eventarc"]]
    },
    { for key, function in google_cloudfunctions2_function.pushed : "${key}-push" => [function.name, local.sa_member["push"]] },
  )
}

resource "google_cloud_run_v2_service_iam_member" "function_invokers" {
  for_each = local.function_invokers
  location = var.region
  name     = each.value[0]
  role     = "roles/run.invoker"
  member   = each.value[1]
}

# These functions had a resource each before `pushed`: moved, not destroyed and recreated. (Their
# invoker grants are re-keyed and recreated instead: a push refused meanwhile is redelivered.)
moved {
  from = google_cloudfunctions2_function.validate_prompt
  to   = google_cloudfunctions2_function.pushed["validate_prompt"]
}

moved {
  from = google_cloudfunctions2_function.rate_limit
  to   = google_cloudfunctions2_function.pushed["rate_limit"]
}

moved {
  from = google_cloudfunctions2_function.report_progress
  to   = google_cloudfunctions2_function.pushed["report_progress"]
}

moved {
  from = google_cloudfunctions2_function.report_failure
  to   = google_cloudfunctions2_function.pushed["report_failure"]
}

moved {
  from = google_cloudfunctions2_function.sweep_stuck_jobs
  to   = google_cloudfunctions2_function.pushed["sweep_stuck_jobs"]
}

moved {
  from = google_cloudfunctions2_function.budget_guard
  to   = google_cloudfunctions2_function.pushed["budget_guard"]
}
