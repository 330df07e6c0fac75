# The second GPU home: the GPU service's container on a Vertex AI endpoint with T4s, for regions
# or quotas without Cloud Run L4s, and as the overflow of the Cloud Run service (GPU_ROUTE,
# functions/imagebot/core/routing.py). Terraform owns the endpoint and who may use it; the model
# (the container image of a build) is uploaded and deployed to it by Cloud Build
# (deploy/vertex_endpoint.py), as the Cloud Run service's image is.
#
# Cost: a deployed model is billed per replica-hour whether or not it draws (n1-standard-8 +
# one T4), so the endpoint exists only when var.gpu_route asks for it.

locals {
  vertex_enabled    = var.gpu_route != "cloudrun"
  vertex_gpu_region = coalesce(var.vertex_gpu_region, var.region)
  vertex_endpoint   = local.vertex_enabled ? google_vertex_ai_endpoint.gpu[0].id : ""
}

resource "google_vertex_ai_endpoint" "gpu" {
  #checkov:skip=CKV2_GCP_33:A public endpoint, but only two accounts may predict: dispatch_vertex by its predictor role on this endpoint, validate_prompt by the same role on the project (Gemini's publisher models take no grant of their own); a private endpoint needs VPC peering and a VPC connector for the function, which this project has no other use for.
  #checkov:skip=CKV2_GCP_24:Google-managed encryption, as for the images bucket: prompts and pictures pass through for seconds, a customer key adds a KMS dependency for no gain here.
  count        = local.vertex_enabled ? 1 : 0
  name         = var.vertex_endpoint_id
  display_name = "${local.name}-gpu"
  description  = "The GPU service's container (Vertex AI custom-container routes): jobs from dispatch_vertex."
  location     = local.vertex_gpu_region
  region       = local.vertex_gpu_region
  labels       = local.labels
  depends_on   = [google_project_service.enabled]
}

# Who may do what on the endpoint, granted on the endpoint (Vertex AI endpoints take IAM
# policies: https://cloud.google.com/vertex-ai/docs/general/endpoint-access-control):
# dispatch_vertex predicts, Cloud Build deploys and undeploys its models, the budget workflow
# undeploys them. google-beta: the endpoint IAM resources are beta-only.
locals {
  vertex_endpoint_grants = local.vertex_enabled ? {
    dispatch = "predictor"
    deployer = "releaser"
    workflow = "stopper"
  } : {}
}

resource "google_vertex_ai_endpoint_iam_member" "gpu" {
  provider = google-beta
  for_each = local.vertex_endpoint_grants
  project  = var.project_id
  location = local.vertex_gpu_region
  endpoint = google_vertex_ai_endpoint.gpu[0].name
  role     = google_project_iam_custom_role.vertex[each.value].name
  member   = local.sa_member[each.key]
}

# The overflow signal: the oldest job still queued for the Cloud Run service
# (Store.oldest_queued_since: state ==, gpu_route ==, ordered by times.queued).
resource "google_firestore_index" "jobs_waiting_by_route" {
  database   = google_firestore_database.main.name
  collection = "jobs"
  fields {
    field_path = "state"
    order      = "ASCENDING"
  }
  fields {
    field_path = "gpu_route"
    order      = "ASCENDING"
  }
  fields {
    field_path = "times.queued"
    order      = "ASCENDING"
  }
}

# What the container reads on the endpoint: the Cloud Run service's settings, except that the
# models come from their bucket (copied at start-up; Vertex AI has no Cloud Storage FUSE
# mount). Vertex AI adds AIP_HTTP_PORT, AIP_HEALTH_ROUTE and AIP_PREDICT_ROUTE itself.
locals {
  vertex_container_env = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    IMAGES_BUCKET        = google_storage_bucket.images.name
    MODEL_DIR            = "gs://${google_storage_bucket.models.name}"
    MODEL_CACHE_DIR      = "/tmp/models"
    TORCH_DEVICE         = "cuda"
    STYLE_PATHS          = var.gpu_style_paths
    BATCH_MAX_SIZE       = tostring(var.gpu_batch_max_size)
    BATCH_WINDOW_MS      = tostring(var.gpu_batch_window_ms)
    TORCH_COMPILE        = tostring(var.gpu_torch_compile)
    PROGRESS_TOPIC       = google_pubsub_topic.topic["job-progress"].name
  }
}

# Vertex AI pulls the image from our repository as its service agent.
resource "google_artifact_registry_repository_iam_member" "vertex_pulls_images" {
  count      = local.vertex_enabled ? 1 : 0
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = local.agent_member["vertex"]
}
