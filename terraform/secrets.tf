# The two secrets the functions read. Terraform creates the secrets, never their values (a value
# in terraform would sit in its state): the operator adds versions, docs/DEPLOY.md step 3.
locals {
  secrets = {
    bot_token      = { id = "telegram-bot-token", env = "TELEGRAM_BOT_TOKEN" }
    webhook_secret = { id = "telegram-webhook-secret", env = "TELEGRAM_WEBHOOK_SECRET" }
  }
}

resource "google_secret_manager_secret" "telegram" {
  for_each  = local.secrets
  secret_id = each.value.id
  labels    = local.labels

  replication {
    auto {}
  }
  depends_on = [google_project_service.enabled]
}

# Every function reads both (config.py requires both to start); the workflow reads the token to
# report; the deployer reads both to register the webhook.
resource "google_secret_manager_secret_iam_member" "readers" {
  for_each = {
    for pair in setproduct(keys(local.secrets), ["webhook", "validate", "admit", "dispatch", "progress", "failures", "deliver", "budget", "deployer"]) :
    "${pair[0]}-${pair[1]}" => { secret = pair[0], account = pair[1] }
  }
  secret_id = google_secret_manager_secret.telegram[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.sa_member[each.value.account]
}

resource "google_secret_manager_secret_iam_member" "workflow_reads_token" {
  secret_id = google_secret_manager_secret.telegram["bot_token"].id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.sa_member["workflow"]
}
