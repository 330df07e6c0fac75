# Buckets: uniform access, public access prevention enforced, nothing public, ever.

resource "google_storage_bucket" "images" {
  #checkov:skip=CKV_GCP_62:No access-log bucket: only the pipeline's own accounts read it, and each logs what it reads.
  #checkov:skip=CKV_GCP_78:Outputs are throwaway copies of what Telegram already stores; versioning would only keep deleted pictures longer.
  name                        = "${var.project_id}-images"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.environment != "prod"
  labels                      = local.labels

  # outputs/<job_id>.png is written once by the GPU service and read once by deliver_image.
  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      age            = var.outputs_retention_days
      matches_prefix = ["outputs/"]
    }
  }
  # inputs/<job_id>.jpg: a user's photo, prepared (no metadata) by validate_prompt and read by
  # the GPU service. Kept a few days so "Again" and the other styles can redraw it, then gone.
  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      age            = var.inputs_retention_days
      matches_prefix = ["inputs/"]
    }
  }
  depends_on = [google_project_service.enabled]
}

resource "google_storage_bucket" "models" {
  #checkov:skip=CKV_GCP_62:No access-log bucket: only the pipeline's own accounts read it, and each logs what it reads.
  # Diffusers pipelines, one folder per style (ghibli/, realistic/, pixel/), mounted read-only
  # into the GPU service at MODEL_DIR. A new object here redeploys the GPU service (cloudbuild.tf).
  name                        = "${var.project_id}-models"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  # Versioning: an overwritten model can be restored, which is the model rollback.
  versioning {
    enabled = true
  }
  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      num_newer_versions = 3
      with_state         = "ARCHIVED"
    }
  }
  depends_on = [google_project_service.enabled]
}

resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_62:No access-log bucket: only the pipeline's own accounts read it, and each logs what it reads.
  #checkov:skip=CKV_GCP_78:Function sources are rebuilt from git; old archives have no value.
  # The functions' first source archive (terraform creates the functions; Cloud Build redeploys).
  name                        = "${var.project_id}-function-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
  labels                      = local.labels

  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      age = 30
    }
  }
  depends_on = [google_project_service.enabled]
}

# --- who may touch which bucket -------------------------------------------------------------

# The GPU service checks whether an output exists (get) and writes it (create): no delete.
resource "google_storage_bucket_iam_member" "gpu_reads_outputs" {
  bucket = google_storage_bucket.images.name
  role   = "roles/storage.objectViewer"
  member = local.sa_member["gpu"]
}

resource "google_storage_bucket_iam_member" "gpu_writes_outputs" {
  bucket = google_storage_bucket.images.name
  role   = "roles/storage.objectCreator"
  member = local.sa_member["gpu"]
}

resource "google_storage_bucket_iam_member" "gpu_reads_models" {
  bucket = google_storage_bucket.models.name
  role   = "roles/storage.objectViewer"
  member = local.sa_member["gpu"]
}

resource "google_storage_bucket_iam_member" "deliver_reads_outputs" {
  bucket = google_storage_bucket.images.name
  role   = "roles/storage.objectViewer"
  member = local.sa_member["deliver"]
}

# The "Original file" button (validate_prompt) sends the delivered picture as a document.
resource "google_storage_bucket_iam_member" "validate_reads_outputs" {
  bucket = google_storage_bucket.images.name
  role   = "roles/storage.objectViewer"
  member = local.sa_member["validate"]
}

# validate_prompt stores a user's prepared photo, inputs/<job_id>.jpg: create only (no overwrite,
# no delete), and nothing outside inputs/ (an IAM condition on the object name).
resource "google_storage_bucket_iam_member" "validate_writes_inputs" {
  bucket = google_storage_bucket.images.name
  role   = "roles/storage.objectCreator"
  member = local.sa_member["validate"]
  condition {
    title      = "inputs-only"
    expression = "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.images.name}/objects/inputs/\")"
  }
}

# sweep_stuck_jobs (the failures account) sends a photo whose delivery Telegram put off.
resource "google_storage_bucket_iam_member" "failures_reads_outputs" {
  bucket = google_storage_bucket.images.name
  role   = "roles/storage.objectViewer"
  member = local.sa_member["failures"]
}

# A set of all three styles goes out as one album once its last job is drawn or closed, and the
# last may be closed by report_progress (flagged) or dispatch_vertex (failed): both then read
# the others' outputs to send the album (steps/delivery.deliver_set).
resource "google_storage_bucket_iam_member" "set_closers_read_outputs" {
  for_each = toset(["progress", "dispatch"])
  bucket   = google_storage_bucket.images.name
  role     = "roles/storage.objectViewer"
  member   = local.sa_member[each.value]
}

# The smoke test reads its synthetic output by name and removes it: its own objects only, never
# a user's picture (an IAM condition on the object name). It lists nothing: a list names the
# bucket, not an object, so a condition on object names cannot admit it.
resource "google_storage_bucket_iam_member" "deployer_smoke_outputs" {
  bucket = google_storage_bucket.images.name
  role   = "roles/storage.objectUser"
  member = local.sa_member["deployer"]
  condition {
    title      = "smoke-outputs-only"
    expression = "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.images.name}/objects/outputs/smoke-\")"
  }
}

resource "google_storage_bucket_iam_member" "deployer_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectUser"
  member = local.sa_member["deployer"]
}
