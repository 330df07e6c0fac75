# The Cloud Run GPU service. Terraform owns its shape; Cloud Build owns its image and traffic
# (a new revision with --no-traffic and a tag, smoke-tested, then promoted), and the budget
# workflow owns its service-level scaling while it stops spending: all three are ignored below.

resource "google_cloud_run_v2_service" "gpu" {
  name                = "${local.name}-gpu"
  location            = var.region
  labels              = local.labels
  deletion_protection = var.environment == "prod"
  # Reached by Pub/Sub push (OIDC) and by the deploy's smoke test against the tagged revision,
  # which runs outside the project's network; unauthenticated requests are refused by IAM: no
  # allUsers invoker exists.
  ingress = "INGRESS_TRAFFIC_ALL"

  scaling {
    scaling_mode = "AUTOMATIC"
  }

  template {
    service_account                  = local.sa_email["gpu"]
    timeout                          = "${var.gpu_timeout_seconds}s"
    max_instance_request_concurrency = var.gpu_concurrency
    # One zone's worth of GPU capacity: cheaper, and what the default L4 quota allows.
    gpu_zonal_redundancy_disabled = true
    labels                        = local.labels

    scaling {
      min_instance_count = var.gpu_min_instances
      max_instance_count = var.gpu_max_instances
    }

    node_selector {
      accelerator = "nvidia-l4"
    }

    containers {
      image = var.gpu_bootstrap_image

      resources {
        limits = {
          cpu              = "4"
          memory           = "16Gi"
          "nvidia.com/gpu" = "1"
        }
        # CPU always allocated (instance-based billing, required with GPUs): the engine warms
        # up and micro-batches outside requests.
        cpu_idle          = false
        startup_cpu_boost = true
      }

      env {
        name  = "GOOGLE_CLOUD_PROJECT"
        value = var.project_id
      }
      env {
        name  = "IMAGES_BUCKET"
        value = google_storage_bucket.images.name
      }
      env {
        name  = "MODEL_DIR"
        value = local.models_mount_dir
      }
      env {
        name  = "TORCH_DEVICE"
        value = "cuda"
      }
      env {
        # The models are copied from the FUSE mount to local (in-memory) disk at start-up.
        name  = "MODEL_CACHE_DIR"
        value = "/tmp/models"
      }
      env {
        name  = "STYLE_PATHS"
        value = var.gpu_style_paths
      }
      env {
        name  = "BATCH_MAX_SIZE"
        value = tostring(var.gpu_batch_max_size)
      }
      env {
        name  = "BATCH_WINDOW_MS"
        value = tostring(var.gpu_batch_window_ms)
      }
      env {
        name  = "TORCH_COMPILE"
        value = tostring(var.gpu_torch_compile)
      }
      # Every served shape is drawn once before /readyz says ready, so no user's first job pays
      # for it; the per-step progress bar is for a person watching `make demo`, not Cloud Logging.
      env {
        name  = "WARM_UP"
        value = "true"
      }
      env {
        name  = "STEP_PROGRESS"
        value = "false"
      }
      env {
        name  = "PROGRESS_TOPIC"
        value = google_pubsub_topic.topic["job-progress"].name
      }

      # /readyz turns 200 once the pipelines are loaded and one picture was drawn: up to
      # 10 minutes for real weights read through Cloud Storage FUSE.
      startup_probe {
        http_get {
          path = "/readyz"
        }
        initial_delay_seconds = 0
        period_seconds        = 10
        timeout_seconds       = 5
        failure_threshold     = 60
      }
      liveness_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds    = 30
        timeout_seconds   = 5
        failure_threshold = 3
      }

      volume_mounts {
        name       = "models"
        mount_path = local.models_mount_dir
      }
    }

    # The models bucket, mounted read-only with Cloud Storage FUSE at MODEL_DIR.
    volumes {
      name = "models"
      gcs {
        bucket    = google_storage_bucket.models.name
        read_only = true
      }
    }
  }

  lifecycle {
    ignore_changes = [
      scaling,
      traffic,
      client,
      client_version,
      template[0].containers[0].image,
      template[0].revision,
    ]
  }
  depends_on = [google_project_service.enabled, google_storage_bucket_iam_member.gpu_reads_models]
}

# Who may call it: the push subscription's identity, and the deploy's smoke test. Nobody else.
resource "google_cloud_run_v2_service_iam_member" "gpu_invokers" {
  for_each = toset(["push", "deployer"])
  location = google_cloud_run_v2_service.gpu.location
  name     = google_cloud_run_v2_service.gpu.name
  role     = "roles/run.invoker"
  member   = local.sa_member[each.value]
}

# The budget workflow changes the service's scaling (run.services.update on this one service).
resource "google_cloud_run_v2_service_iam_member" "workflow_scales_gpu" {
  location = google_cloud_run_v2_service.gpu.location
  name     = google_cloud_run_v2_service.gpu.name
  role     = "roles/run.developer"
  member   = local.sa_member["workflow"]
}

# Cloud Build pushes the GPU image.
resource "google_artifact_registry_repository_iam_member" "deployer_pushes" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = local.sa_member["deployer"]
}
