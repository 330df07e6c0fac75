output "webhook_url" {
  description = "What Telegram posts to (setWebhook): the load balancer's name in prod, the function's URL otherwise."
  value       = local.webhook_url
}

output "webhook_function_url" {
  description = "The webhook function's own URL (behind the edge in prod, where only the load balancer may reach it)."
  value       = google_cloudfunctions2_function.telegram_webhook.service_config[0].uri
}

output "edge_ip" {
  description = "The load balancer's address: point webhook_domain's A record here (prod)."
  value       = var.edge_enabled ? google_compute_global_address.webhook[0].address : null
}

output "gpu_service" {
  value = google_cloud_run_v2_service.gpu.name
}

output "gpu_service_url" {
  value = google_cloud_run_v2_service.gpu.uri
}

output "images_bucket" {
  value = google_storage_bucket.images.name
}

output "models_bucket" {
  value = google_storage_bucket.models.name
}

output "artifact_registry" {
  value = local.registry
}

output "budget_workflow" {
  value = google_workflows_workflow.budget_guard.name
}

output "analytics_dataset" {
  value = google_bigquery_dataset.analytics.dataset_id
}

output "deployer_service_account" {
  value = local.sa_email["deployer"]
}
