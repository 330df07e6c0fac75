# prod: one warm GPU, the HTTPS edge with Cloud Armor, a release tag deploys. Replace the
# placeholders (docs/DEPLOY.md).
project_id         = "imagebot-prod-000000"
environment        = "prod"
region             = "europe-west4"
firestore_location = "eur3"
github_owner       = "your-github-user"
github_repo        = "imagebot"
billing_account    = "000000-000000-000000"
budget_amount      = 1500
budget_currency    = "EUR"
alert_email        = "ops@example.com"
ops_chat_id        = ""
operator_ids       = []

gpu_min_instances      = 1
gpu_max_instances      = 3
gpu_concurrency        = 8
webhook_max_instances  = 20
outputs_retention_days = 7
edge_enabled           = true
webhook_domain         = "bot.example.com"
model_redeploy_ref     = "refs/heads/main"
analytics_views        = false
