# Event-triggered deploys, all running cloudbuild.yaml as the deployer account:
#   dev:  a push to main deploys everything;
#   prod: a version tag (v*) deploys everything;
#   both: a new model release in the models bucket redeploys the GPU service only (weights are
#         read at start-up, so a new revision is what loads them).
# The repository is connected to Cloud Build once, by hand (docs/DEPLOY.md step 2).

locals {
  build_substitutions = {
    _ENV           = var.environment
    _REGION        = var.region
    _REPO          = google_artifact_registry_repository.images.repository_id
    _GPU_SERVICE   = google_cloud_run_v2_service.gpu.name
    _IMAGES_BUCKET = google_storage_bucket.images.name
    _WEBHOOK_URL   = local.webhook_url
    # The webhook as the build can reach it: its own URL in dev; none behind the edge in prod.
    _WEBHOOK_PROBE_URL = var.edge_enabled ? "" : google_cloudfunctions2_function.telegram_webhook.service_config[0].uri
    _FUNCTIONS         = "telegram-webhook,validate-prompt,rate-limit,dispatch-vertex,report-progress,report-failure,sweep-stuck-jobs,deliver-image,budget-guard"
    # The Vertex AI endpoint (vertex.tf): empty when gpu_route is cloudrun, and the deploy skips it.
    _VERTEX_ENDPOINT     = local.vertex_endpoint
    _VERTEX_MACHINE      = var.vertex_machine_type
    _VERTEX_ACCELERATOR  = var.vertex_accelerator
    _VERTEX_REPLICAS     = "${var.vertex_replicas.min}-${var.vertex_replicas.max}"
    _VERTEX_ENV          = jsonencode(local.vertex_container_env)
    _GPU_SERVICE_ACCOUNT = local.sa_email["gpu"]
  }
}

resource "google_cloudbuild_trigger" "dev_push" {
  count           = var.environment == "dev" ? 1 : 0
  name            = "${local.name}-dev-main"
  description     = "A push to main deploys dev."
  location        = var.region
  service_account = google_service_account.sa["deployer"].id
  filename        = "cloudbuild.yaml"

  github {
    owner = var.github_owner
    name  = var.github_repo
    push {
      branch = "^main$"
    }
  }
  substitutions = merge(local.build_substitutions, { _DEPLOY = "all" })
}

resource "google_cloudbuild_trigger" "prod_tag" {
  count           = var.environment == "prod" ? 1 : 0
  name            = "${local.name}-prod-release"
  description     = "A version tag (v*) deploys prod."
  location        = var.region
  service_account = google_service_account.sa["deployer"].id
  filename        = "cloudbuild.yaml"

  github {
    owner = var.github_owner
    name  = var.github_repo
    push {
      tag = "^v.*$"
    }
  }
  # A tag starts a pending build that someone with roles/cloudbuild.builds.approver approves
  # before it runs: pushing a tag alone never deploys prod
  # (https://cloud.google.com/build/docs/securing-builds/gate-builds-on-approval).
  approval_config {
    approval_required = true
  }
  substitutions = merge(local.build_substitutions, { _DEPLOY = "all" })
}

# A new model: the models bucket notifies a topic, which triggers a GPU-only build.
resource "google_pubsub_topic" "model_updates" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; the messages are object names.
  name   = "model-updates"
  labels = local.labels
}

resource "google_pubsub_topic_iam_member" "gcs_notifies_models" {
  topic  = google_pubsub_topic.model_updates.name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

resource "google_storage_notification" "models" {
  bucket         = google_storage_bucket.models.name
  topic          = google_pubsub_topic.model_updates.id
  payload_format = "JSON_API_V1"
  event_types    = ["OBJECT_FINALIZE"]
  depends_on     = [google_pubsub_topic_iam_member.gcs_notifies_models]
}

resource "google_cloudbuild_trigger" "models" {
  name            = "${local.name}-${var.environment}-models"
  description     = "A new object in the models bucket redeploys the GPU service."
  location        = var.region
  service_account = google_service_account.sa["deployer"].id

  pubsub_config {
    topic = google_pubsub_topic.model_updates.id
  }
  source_to_build {
    uri       = "https://github.com/${var.github_owner}/${var.github_repo}"
    ref       = var.model_redeploy_ref
    repo_type = "GITHUB"
  }
  git_file_source {
    path      = "cloudbuild.yaml"
    uri       = "https://github.com/${var.github_owner}/${var.github_repo}"
    revision  = var.model_redeploy_ref
    repo_type = "GITHUB"
  }
  substitutions = merge(local.build_substitutions, {
    _DEPLOY      = "gpu"
    _MODEL_EVENT = "$(body.message.attributes.eventType)"
    _MODEL_NAME  = "$(body.message.attributes.objectId)"
  })
  # A model is many files uploaded in any order, so only the object the operator writes last,
  # RELEASE at the bucket's root, starts a build (docs/DEPLOY.md, "a new model").
  filter = "_MODEL_EVENT == \"OBJECT_FINALIZE\" && _MODEL_NAME == \"RELEASE\""
}
