# The two secrets the functions read. Terraform creates the secrets, never their values (a value
# in terraform would sit in its state): the operator adds versions between the two applies of
# docs/DEPLOY.md step 3, because a function revision that mounts `latest` of a secret with no
# version does not start, so the first apply creates these secrets alone
# (`terraform apply -target=google_secret_manager_secret.telegram`).
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

# Each secret is readable by the accounts whose code reads it, and mounted only where it is read:
# the webhook checks Telegram's header and sends nothing (it answers in its HTTP response), so it
# gets the webhook secret alone; every other function sends with the token and never sees the
# webhook secret. The workflow reads the token to report; the deployer reads both to register the
# webhook and to smoke-test it (config.py reads each as optional; its user refuses to run without
# it).
locals {
  function_secrets = {
    telegram_webhook = ["webhook_secret"]
    validate_prompt  = ["bot_token"]
    rate_limit       = ["bot_token"]
    dispatch_vertex  = ["bot_token"]
    report_progress  = ["bot_token"]
    report_failure   = ["bot_token"]
    sweep_stuck_jobs = ["bot_token"]
    deliver_image    = ["bot_token"]
    budget_guard     = ["bot_token"]
  }
  secret_readers = {
    bot_token      = ["validate", "admit", "dispatch", "progress", "failures", "deliver", "budget", "workflow", "deployer"]
    webhook_secret = ["webhook", "deployer"]
  }
}

resource "google_secret_manager_secret_iam_member" "readers" {
  for_each = merge([
    for secret, accounts in local.secret_readers : { for account in accounts : "${secret}-${account}" => { secret = secret, account = account } }
  ]...)
  secret_id = google_secret_manager_secret.telegram[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.sa_member[each.value.account]
}

# The token's reader grant for the workflow was a resource of its own: moved into `readers`.
moved {
  from = google_secret_manager_secret_iam_member.workflow_reads_token
  to   = google_secret_manager_secret_iam_member.readers["bot_token-workflow"]
}
