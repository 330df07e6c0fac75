provider "google" {
  project = var.project_id
  region  = var.region
  # The budget API is called on the billing account; bill the call to this project's quota.
  billing_project       = var.project_id
  user_project_override = true
}

provider "google-beta" {
  project               = var.project_id
  region                = var.region
  billing_project       = var.project_id
  user_project_override = true
}

data "google_project" "this" {}

locals {
  name             = "imagebot"
  project_number   = data.google_project.this.number
  registry         = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
  pubsub_agent     = local.agent_member["pubsub"]
  labels           = { app = "imagebot", environment = var.environment }
  telegram_api     = "https://api.telegram.org"
  models_mount_dir = "/models"
}
