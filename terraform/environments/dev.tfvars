# dev: scales to zero, no edge, a small budget. Replace the placeholders (docs/DEPLOY.md).
project_id      = "imagebot-dev-000000"
environment     = "dev"
region          = "europe-west4"
github_owner    = "your-github-user"
github_repo     = "imagebot"
billing_account = "000000-000000-000000"
budget_amount   = 50
budget_currency = "EUR"
alert_email     = "ops@example.com"
ops_chat_id     = ""

gpu_min_instances      = 0
gpu_max_instances      = 1
gpu_concurrency        = 8
outputs_retention_days = 3
edge_enabled           = false
analytics_views        = false
