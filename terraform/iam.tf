# One service account per component, each granted only what its code does. Grants are made on
# the resource (a topic, a bucket, a secret, a service) wherever the API allows it.
#
# Firestore is the exception: its IAM has no per-collection (or per-document) grants, so the
# components that read or write documents get roles/datastore.user (or .viewer) on the whole
# project. What each one touches is fixed by its code instead: the functions use updates/,
# users/, jobs/, stats/ and config/; the GPU service moves jobs/ only; the workflow writes
# config/ops only. Firestore security rules do not apply to server client libraries, so they
# cannot narrow this further.

locals {
  accounts = {
    webhook  = "Telegram webhook: publishes prompts, reads users' language"
    validate = "validate_prompt: jobs and users in Firestore, publishes validated"
    admit    = "rate_limit: quotas and jobs in Firestore, publishes generation jobs"
    progress = "report_progress: reads jobs, edits the user's status message"
    failures = "report_failure and sweep_stuck_jobs: fail jobs, tell users"
    deliver  = "deliver_image: reads outputs, sends photos, closes jobs"
    dispatch = "dispatch_vertex: sends jobs to the Vertex AI endpoint, hands them back to Cloud Run"
    budget   = "budget_guard: ops mode in Firestore, starts the budget workflow"
    gpu      = "GPU service: reads models, writes outputs, moves jobs"
    workflow = "budget workflow: pauses admissions, scales the GPU service"
    push     = "Pub/Sub push identity (OIDC) towards the functions and the GPU service"
    eventarc = "Eventarc identity delivering Cloud Storage events to deliver_image"
    deployer = "Cloud Build: builds, deploys, registers the webhook, smoke-tests"
  }
}

resource "google_service_account" "sa" {
  for_each     = local.accounts
  account_id   = "${local.name}-${each.key}"
  display_name = each.value
}

locals {
  sa_email  = { for key, account in google_service_account.sa : key => account.email }
  sa_member = { for key, account in google_service_account.sa : key => "serviceAccount:${account.email}" }
}

# --- project-level roles (no narrower resource exists) -------------------------------------

locals {
  project_roles = {
    # Firestore (see above). The webhook only reads.
    "webhook-datastore"  = ["webhook", "roles/datastore.viewer"]
    "validate-datastore" = ["validate", "roles/datastore.user"]
    "admit-datastore"    = ["admit", "roles/datastore.user"]
    "progress-datastore" = ["progress", "roles/datastore.user"]
    "failures-datastore" = ["failures", "roles/datastore.user"]
    "deliver-datastore"  = ["deliver", "roles/datastore.user"]
    "dispatch-datastore" = ["dispatch", "roles/datastore.user"]
    "budget-datastore"   = ["budget", "roles/datastore.user"]
    "gpu-datastore"      = ["gpu", "roles/datastore.user"]
    "workflow-datastore" = ["workflow", "roles/datastore.user"]
    # Vertex AI: validation calls Gemini (a Google publisher model: no resource of ours to grant
    # on) with a custom role that can predict and nothing else; roles/aiplatform.user could also
    # create endpoints and deploy models, which is GPU spend. The GPU endpoint's grants are on the
    # endpoint itself (vertex.tf).
    "validate-predict" = ["validate", google_project_iam_custom_role.vertex["predictor"].name]
    # Cloud Build uploads the GPU image as a Vertex AI model (models are created in a location,
    # not in an endpoint); deploying it is granted on the endpoint only (vertex.tf).
    "deployer-models" = ["deployer", google_project_iam_custom_role.vertex["model_uploader"].name]
    # Workflows roles are granted on the project at the lowest (cloud.google.com/iam/docs/
    # roles-permissions/workflows), so one account alone may start the budget workflow: the
    # budget guard's. An operator's /resume reaches it through `billing-alerts` (pubsub.tf).
    "budget-workflows" = ["budget", "roles/workflows.invoker"]
    # Eventarc: the trigger's identity must be allowed to receive events.
    "eventarc-receiver" = ["eventarc", "roles/eventarc.eventReceiver"]
    # Cloud Build: deploy functions (gen2 functions are Cloud Run services underneath, hence
    # run.developer for traffic and tags), write its logs.
    "deployer-functions" = ["deployer", "roles/cloudfunctions.developer"]
    "deployer-run"       = ["deployer", "roles/run.developer"]
    "deployer-logs"      = ["deployer", "roles/logging.logWriter"]
  }
}

resource "google_project_iam_member" "roles" {
  for_each = local.project_roles
  project  = var.project_id
  role     = each.value[1]
  member   = local.sa_member[each.value[0]]
}

# Custom roles for Vertex AI: each holds only the permissions of the calls its holders make
# (https://cloud.google.com/vertex-ai/docs/general/iam-permissions; an operation is polled with
# the get permission of what it changes).
locals {
  vertex_roles = {
    predictor      = { id = "imagebotVertexPredictor", title = "imagebot: online predictions", permissions = ["aiplatform.endpoints.predict"] }
    model_uploader = { id = "imagebotVertexModelUploader", title = "imagebot: upload the GPU image as a model", permissions = ["aiplatform.models.upload", "aiplatform.models.get"] }
    releaser       = { id = "imagebotVertexEndpointReleaser", title = "imagebot: deploy and undeploy the GPU endpoint's models", permissions = ["aiplatform.endpoints.get", "aiplatform.endpoints.deploy", "aiplatform.endpoints.undeploy"] }
    stopper        = { id = "imagebotVertexEndpointStopper", title = "imagebot: undeploy the GPU endpoint's models (budget stop)", permissions = ["aiplatform.endpoints.get", "aiplatform.endpoints.undeploy"] }
  }
}

resource "google_project_iam_custom_role" "vertex" {
  for_each    = local.vertex_roles
  role_id     = each.value.id
  title       = each.value.title
  permissions = each.value.permissions
}

# Building a function reads its uploaded source from the bucket Cloud Functions manages
# (gcf-v2-sources-*, created on the first `gcloud functions deploy`) or from ours: read access to
# those buckets only, by condition, since the managed one does not exist before that deploy.
resource "google_project_iam_member" "deployer_reads_function_sources" {
  project = var.project_id
  role    = "roles/storage.objectViewer"
  member  = local.sa_member["deployer"]
  condition {
    title      = "function-sources-only"
    expression = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-\") || resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.sources.name}\")"
  }
}

# Every runtime writes its logs and metrics (granted explicitly: no default compute account).
resource "google_project_iam_member" "log_writer" {
  for_each = toset(["webhook", "validate", "admit", "dispatch", "progress", "failures", "deliver", "budget", "gpu", "workflow"])
  project  = var.project_id
  role     = "roles/logging.logWriter"
  member   = local.sa_member[each.value]
}

# The deployer deploys each runtime as its service account, and nothing else.
resource "google_service_account_iam_member" "deployer_acts_as" {
  for_each           = toset(["webhook", "validate", "admit", "dispatch", "progress", "failures", "deliver", "budget", "gpu", "deployer"])
  service_account_id = google_service_account.sa[each.value].name
  role               = "roles/iam.serviceAccountUser"
  member             = local.sa_member["deployer"]
}

# Updating the GPU service (its scaling) requires acting as its runtime account.
resource "google_service_account_iam_member" "workflow_acts_as_gpu" {
  service_account_id = google_service_account.sa["gpu"].name
  role               = "roles/iam.serviceAccountUser"
  member             = local.sa_member["workflow"]
}

# Pub/Sub mints the OIDC tokens of push subscriptions as the push account (needed for projects
# created before April 2021; harmless after).
resource "google_service_account_iam_member" "pubsub_mints_push_tokens" {
  service_account_id = google_service_account.sa["push"].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

# Eventarc's Cloud Storage triggers need the Cloud Storage service agent to publish.
data "google_storage_project_service_account" "gcs" {}

resource "google_project_iam_member" "gcs_agent_publishes" {
  project = var.project_id
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}
