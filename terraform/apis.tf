# Every API the bot uses, enabled by the first apply. disable_on_destroy = false: destroying this
# configuration must not switch off APIs that other things in the project may use.
locals {
  services = [
    "aiplatform.googleapis.com",
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "billingbudgets.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "eventarc.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
    "workflowexecutions.googleapis.com",
    "workflows.googleapis.com",
  ]
}

resource "google_project_service" "enabled" {
  for_each           = toset(local.services)
  service            = each.value
  disable_on_destroy = false
}

# The service agents IAM names below (Pub/Sub, Vertex AI, Cloud Scheduler, Eventarc) exist only
# once their service is first used, so on an empty project a grant naming one fails ("service
# account does not exist"). Created here, before any grant. An agent created on request is not
# given its usual role (https://cloud.google.com/iam/docs/create-service-agents): granted below.
locals {
  service_agents = {
    pubsub    = { service = "pubsub.googleapis.com", role = "roles/pubsub.serviceAgent" }
    vertex    = { service = "aiplatform.googleapis.com", role = "roles/aiplatform.serviceAgent" }
    scheduler = { service = "cloudscheduler.googleapis.com", role = "roles/cloudscheduler.serviceAgent" }
    eventarc  = { service = "eventarc.googleapis.com", role = "roles/eventarc.serviceAgent" }
  }
}

resource "google_project_service_identity" "agents" {
  provider   = google-beta
  for_each   = local.service_agents
  project    = var.project_id
  service    = each.value.service
  depends_on = [google_project_service.enabled]
}

locals {
  agent_member = { for key, agent in google_project_service_identity.agents : key => "serviceAccount:${agent.email}" }
}

resource "google_project_iam_member" "agent_roles" {
  #checkov:skip=CKV_GCP_49:Each is the service agent's own documented role (cloud.google.com/iam/docs/service-agents), which Google grants itself to an agent it creates lazily; an agent created on request gets it only from us.
  for_each = local.service_agents
  project  = var.project_id
  role     = each.value.role
  member   = local.agent_member[each.key]
}

resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:Google-managed encryption; the image holds public code and no data, a customer key adds a KMS dependency for nothing.
  repository_id = local.name
  location      = var.region
  format        = "DOCKER"
  description   = "The GPU service image (and the functions' build images)."
  labels        = local.labels

  # Keep the last images for rollback; older ones only cost storage.
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.enabled]
}
