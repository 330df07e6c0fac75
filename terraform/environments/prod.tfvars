# prod: one warm GPU, the HTTPS edge with Cloud Armor, a release tag deploys. Replace the
# placeholders (docs/DEPLOY.md).
project_id         = "imagebot-prod-000000"
environment        = "prod"
region             = "europe-west4"
firestore_location = "eur3"
github_owner       = "your-github-user"
github_repo        = "imagebot"
billing_account    = "000000-000000-000000"
budget_amount      = 2300 # a month of 1,000-user evenings: about $76 a day (docs/CAPACITY.md)
budget_currency    = "EUR"
alert_email        = "ops@example.com"
ops_chat_id        = ""
operator_ids       = []

# From bench/capacity.py (docs/CAPACITY.md): 1,000 users at a prompt a minute need about 5 L4s
# busy (SD 1.5 at 512 px); 8 keep the evening's p99 near 2 s. SDXL at 1024 px would need ~24.
gpu_min_instances      = 1
gpu_max_instances      = 8
gpu_concurrency        = 8
gpu_batch_max_size     = 4
webhook_max_instances  = 20
outputs_retention_days = 7
edge_enabled           = true
webhook_domain         = "bot.example.com"
model_redeploy_ref     = "refs/heads/main"
analytics_views        = false
