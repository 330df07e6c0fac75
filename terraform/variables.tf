# --- where ------------------------------------------------------------------------------------

variable "project_id" {
  description = "The Google Cloud project of this environment (one project per environment)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id (6-30 lowercase letters, digits, hyphens)."
  }
}

variable "environment" {
  description = "dev or prod: sizes, deletion protection, the edge and which Cloud Build trigger exists."
  type        = string
  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be dev or prod."
  }
}

variable "region" {
  description = "Region of the functions, the GPU service, the buckets and the workflow. It must offer Cloud Run GPUs (nvidia-l4)."
  type        = string
  default     = "europe-west4"
  validation {
    # Regions with Cloud Run L4 GPUs at the time of writing (Cloud Run GPU documentation).
    condition     = contains(["us-central1", "us-east4", "europe-west1", "europe-west4", "asia-southeast1", "asia-south1"], var.region)
    error_message = "region must be one where Cloud Run offers nvidia-l4 GPUs."
  }
}

variable "firestore_location" {
  description = "Firestore location (a region or a multi-region such as eur3); cannot change after creation."
  type        = string
  default     = "europe-west4"
}

# --- source and delivery ------------------------------------------------------------------------

variable "github_owner" {
  description = "GitHub owner of the repository Cloud Build builds (connected once in the console)."
  type        = string
}

variable "github_repo" {
  description = "GitHub repository name."
  type        = string
}

variable "model_redeploy_ref" {
  description = "Git ref the models-bucket trigger builds the GPU service from (prod: a release tag or branch)."
  type        = string
  default     = "refs/heads/main"
  validation {
    condition     = startswith(var.model_redeploy_ref, "refs/")
    error_message = "model_redeploy_ref must be a full git ref, e.g. refs/heads/main or refs/tags/v1.2.0."
  }
}

variable "gpu_bootstrap_image" {
  description = "Image the GPU service is created with before the first build deploys the real one (answers 200 on every path, so the probes pass)."
  type        = string
  default     = "us-docker.pkg.dev/cloudrun/container/hello"
}

# --- the bot ---------------------------------------------------------------------------------

variable "bot_username" {
  description = "The bot's username without @ (lets it see commands addressed to it in groups)."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^[A-Za-z0-9_]{0,32}$", var.bot_username))
    error_message = "bot_username is a Telegram username without the @."
  }
}

variable "operator_ids" {
  description = "Telegram user ids allowed to use the operator commands (/stats, /pause, /resume)."
  type        = list(number)
  default     = []
}

variable "ops_chat_id" {
  description = "Telegram chat the budget guard and its workflow report to (a group id is negative). Empty: reports only in the logs."
  type        = string
  default     = ""
  validation {
    condition     = can(regex("^(-?[0-9]+)?$", var.ops_chat_id))
    error_message = "ops_chat_id must be a Telegram chat id (digits, optionally negative) or empty."
  }
}

variable "support_contact" {
  description = "How buyers reach the operators, shown by /paysupport (Telegram requires it of bots that sell): an @username, a link or an address. Empty: /paysupport names none."
  type        = string
  default     = ""
  validation {
    condition     = length(var.support_contact) <= 100
    error_message = "support_contact must be at most 100 characters."
  }
}

variable "prompt_min_chars" {
  type    = number
  default = 2
}

variable "prompt_max_chars" {
  type    = number
  default = 500
  validation {
    condition     = var.prompt_max_chars >= 10 && var.prompt_max_chars <= 4096
    error_message = "prompt_max_chars must be between 10 and 4096 (a Telegram message)."
  }
}

variable "rate_burst" {
  description = "Per-user token bucket: jobs back to back."
  type        = number
  default     = 3
  validation {
    condition     = var.rate_burst >= 1
    error_message = "rate_burst must be at least 1."
  }
}

variable "rate_refill_seconds" {
  description = "Per-user token bucket: seconds per new token."
  type        = number
  default     = 20
  validation {
    condition     = var.rate_refill_seconds > 0
    error_message = "rate_refill_seconds must be positive."
  }
}

variable "daily_quota" {
  description = "Jobs per user per UTC day."
  type        = number
  default     = 50
  validation {
    condition     = var.daily_quota >= 1
    error_message = "daily_quota must be at least 1."
  }
}

variable "job_deadline_seconds" {
  description = "An admitted job not drawn by then is failed and reported by the sweep (every sweep_schedule)."
  type        = number
  default     = 900
  validation {
    condition     = var.job_deadline_seconds >= 600
    error_message = "job_deadline_seconds must be at least 600 (the GPU ack deadline)."
  }
}

variable "sweep_schedule" {
  description = "Cron schedule (UTC) of the stuck-job sweep."
  type        = string
  default     = "*/5 * * * *"
}

variable "telegram_timeout_seconds" {
  type    = number
  default = 15
}

# --- prompt translation (functions/imagebot/edges/translation.py) ------------------------------

variable "translate_model" {
  description = "Gemini model on Vertex AI that translates non-English prompts (and enhances them on /enhance). Empty: prompts are drawn as written."
  type        = string
  default     = "gemini-2.5-flash"
}

variable "vertex_region" {
  description = "Vertex AI region of the translation model. Empty: var.region."
  type        = string
  default     = ""
}

variable "translate_timeout_seconds" {
  description = "How long validation waits for a translation before drawing the original prompt."
  type        = number
  default     = 3
  validation {
    condition     = var.translate_timeout_seconds > 0 && var.translate_timeout_seconds <= 30
    error_message = "translate_timeout_seconds must be more than 0 and at most 30: the user is waiting."
  }
}

variable "gpu_route" {
  description = "Which GPU home draws jobs: cloudrun (the Cloud Run L4 service), vertex (the Vertex AI endpoint), or auto (Cloud Run, overflowing to the endpoint)."
  type        = string
  default     = "cloudrun"
  validation {
    condition     = contains(["cloudrun", "vertex", "auto"], var.gpu_route)
    error_message = "gpu_route must be cloudrun, vertex or auto."
  }
}

variable "vertex_gpu_region" {
  description = "Region of the Vertex AI GPU endpoint (one with NVIDIA T4s). Empty: var.region."
  type        = string
  default     = ""
}

variable "vertex_endpoint_id" {
  description = "The Vertex AI endpoint's numeric id (chosen here, so that the functions know it before the first deploy)."
  type        = string
  default     = "1001"
  validation {
    condition     = can(regex("^[1-9][0-9]{0,9}$", var.vertex_endpoint_id))
    error_message = "vertex_endpoint_id must be a number of at most 10 digits without a leading zero."
  }
}

variable "overflow_queue_age_seconds" {
  description = "gpu_route = auto: overflow to the endpoint once the oldest job has waited this long for the Cloud Run service."
  type        = number
  default     = 60
  validation {
    condition     = var.overflow_queue_age_seconds >= 5 && var.overflow_queue_age_seconds <= 3600
    error_message = "overflow_queue_age_seconds must be between 5 and 3600."
  }
}

variable "vertex_predict_timeout_seconds" {
  description = "How long dispatch_vertex waits for one prediction before handing the job back to Cloud Run."
  type        = number
  default     = 300
  validation {
    condition     = var.vertex_predict_timeout_seconds >= 30 && var.vertex_predict_timeout_seconds <= 500
    error_message = "vertex_predict_timeout_seconds must be between 30 and 500 (dispatch_vertex's timeout is 540)."
  }
}

variable "vertex_machine_type" {
  description = "Machine of each endpoint replica (Cloud Build's deploy step)."
  type        = string
  default     = "n1-standard-8"
}

variable "vertex_accelerator" {
  description = "GPU of each endpoint replica (Cloud Build's deploy step)."
  type        = string
  default     = "NVIDIA_TESLA_T4"
}

variable "vertex_replicas" {
  description = "Minimum and maximum replicas of the deployed model (Vertex AI bills the minimum around the clock)."
  type        = object({ min = number, max = number })
  default     = { min = 1, max = 2 }
  validation {
    condition     = var.vertex_replicas.min >= 1 && var.vertex_replicas.max >= var.vertex_replicas.min
    error_message = "vertex_replicas needs 1 <= min <= max."
  }
}

# --- sizes -----------------------------------------------------------------------------------

variable "webhook_concurrency" {
  description = "Requests one webhook instance serves at once (Telegram opens up to 100 connections). telegram_webhook is an ASGI function: one event loop serves them all, and the THREADS set from this applies to the Flask path only."
  type        = number
  default     = 32
  validation {
    condition     = var.webhook_concurrency >= 1 && var.webhook_concurrency <= 1000
    error_message = "webhook_concurrency must be between 1 and 1000."
  }
}

variable "webhook_max_instances" {
  type    = number
  default = 10
}

variable "gpu_min_instances" {
  description = "GPU instances kept warm (each is billed all the time: CPU is always allocated)."
  type        = number
  default     = 0
  validation {
    condition     = var.gpu_min_instances >= 0
    error_message = "gpu_min_instances cannot be negative."
  }
}

variable "gpu_max_instances" {
  description = "Upper bound of GPU instances: the cost ceiling, and your nvidia-l4 quota."
  type        = number
  default     = 1
  validation {
    condition     = var.gpu_max_instances >= 1 && var.gpu_max_instances >= var.gpu_min_instances
    error_message = "gpu_max_instances must be at least 1 and at least gpu_min_instances."
  }
}

variable "gpu_concurrency" {
  description = "Requests one GPU instance takes at once: at most the service's 8 server threads. Above gpu_batch_max_size so the next batch forms while one draws (docs/CAPACITY.md)."
  type        = number
  default     = 8
  validation {
    condition     = var.gpu_concurrency >= 1 && var.gpu_concurrency <= 8
    error_message = "gpu_concurrency must be between 1 and 8 (gpu_service runs 8 threads)."
  }
}

variable "gpu_style_paths" {
  description = "STYLE_PATHS of the GPU service: per-style path overrides, e.g. \"realistic=quality\" (empty: each style's own)."
  type        = string
  default     = ""
}

variable "gpu_batch_max_size" {
  description = "Pictures one pipeline call may draw together (micro-batching). An L4 is GPU-bound from 2 on, so 4 draws as fast as 8 with less memory (docs/CAPACITY.md)."
  type        = number
  default     = 4
  validation {
    condition     = var.gpu_batch_max_size >= 1 && var.gpu_batch_max_size <= 64
    error_message = "gpu_batch_max_size must be between 1 and 64."
  }
}

variable "gpu_batch_window_ms" {
  description = "How long the GPU service waits for jobs to batch with the first."
  type        = number
  default     = 75
}

variable "gpu_torch_compile" {
  description = "torch.compile the UNets: faster steps after minutes of compiling at start-up."
  type        = bool
  default     = false
}

variable "gpu_timeout_seconds" {
  description = "Cloud Run request timeout of the GPU service; the push ack deadline (600 s) covers it."
  type        = number
  default     = 300
  validation {
    condition     = var.gpu_timeout_seconds >= 60 && var.gpu_timeout_seconds <= 600
    error_message = "gpu_timeout_seconds must be between 60 and 600 (the ack deadline)."
  }
}

variable "outputs_retention_days" {
  description = "Days a generated picture is kept in the images bucket (Telegram keeps its own copy)."
  type        = number
  default     = 7
  validation {
    condition     = var.outputs_retention_days >= 1 && var.outputs_retention_days <= 365
    error_message = "outputs_retention_days must be between 1 and 365."
  }
}

variable "inputs_retention_days" {
  description = "Days a user's prepared photo (inputs/) is kept: long enough to redraw it in another style, no longer."
  type        = number
  default     = 3
  validation {
    condition     = var.inputs_retention_days >= 1 && var.inputs_retention_days <= 30
    error_message = "inputs_retention_days must be between 1 and 30."
  }
}

# --- money -----------------------------------------------------------------------------------

variable "billing_account" {
  description = "Billing account id (XXXXXX-XXXXXX-XXXXXX) the budget is created on."
  type        = string
  validation {
    condition     = can(regex("^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$", var.billing_account))
    error_message = "billing_account must look like 012345-6789AB-CDEF01."
  }
}

variable "budget_amount" {
  description = "Monthly budget of this project, in budget_currency (whole units)."
  type        = number
  validation {
    condition     = var.budget_amount > 0
    error_message = "budget_amount must be positive."
  }
}

variable "budget_currency" {
  description = "The billing account's currency (a budget must use it)."
  type        = string
  default     = "EUR"
  validation {
    condition     = can(regex("^[A-Z]{3}$", var.budget_currency))
    error_message = "budget_currency is an ISO 4217 code such as EUR or USD."
  }
}

variable "budget_thresholds" {
  description = "Fractions of the budget at which Cloud Billing notifies: the first tells the operators, budget_economy_at switches to economy, budget_stop_at stops the GPU."
  type        = list(number)
  default     = [0.5, 0.9, 1.0]
  validation {
    condition     = length(var.budget_thresholds) > 0 && alltrue([for t in var.budget_thresholds : t > 0 && t <= 2])
    error_message = "budget_thresholds are fractions in (0, 2]."
  }
}

variable "budget_economy_at" {
  type    = number
  default = 0.9
}

variable "budget_stop_at" {
  type    = number
  default = 1.0
  validation {
    condition     = var.budget_stop_at >= var.budget_economy_at && var.budget_economy_at > 0
    error_message = "budget_stop_at must be at least budget_economy_at, and both positive."
  }
}

# --- operations ------------------------------------------------------------------------------

variable "alert_email" {
  description = "Where Cloud Monitoring sends alerts (and budget emails)."
  type        = string
  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an email address."
  }
}

variable "gpu_queue_age_alert_seconds" {
  description = "Alert when the oldest undelivered generation job is older than this."
  type        = number
  default     = 600
}

variable "error_alert_per_5min" {
  description = "Alert when the functions and the GPU service log more ERROR lines than this in 5 minutes."
  type        = number
  default     = 10
}

# --- the edge (prod) -------------------------------------------------------------------------

variable "edge_enabled" {
  description = "Put an HTTPS load balancer with Cloud Armor (Telegram's ranges only, flood bans) in front of the webhook."
  type        = bool
  default     = false
}

variable "webhook_domain" {
  description = "DNS name of the webhook behind the load balancer (an A record to the output edge_ip). Required with edge_enabled."
  type        = string
  default     = ""
  validation {
    condition     = var.webhook_domain == "" || can(regex("^[a-z0-9.-]+\\.[a-z]{2,}$", var.webhook_domain))
    error_message = "webhook_domain must be a DNS name such as bot.example.com."
  }
}

variable "telegram_source_ranges" {
  description = "Telegram's published webhook source ranges (core.telegram.org/bots/webhooks)."
  type        = list(string)
  default     = ["149.154.160.0/20", "91.108.4.0/22"]
}

variable "edge_rate_limit_per_minute" {
  description = "Requests per minute one source IP may send before Cloud Armor bans it for 5 minutes."
  type        = number
  default     = 3000
}

# --- analytics -------------------------------------------------------------------------------

variable "analytics_views" {
  description = "Create the saved views. BigQuery checks a view's tables when it is created, and the log sink creates its table with the first job event: apply once with false, then true (docs/DEPLOY.md)."
  type        = bool
  default     = false
}

variable "analytics_retention_days" {
  type    = number
  default = 90
}
