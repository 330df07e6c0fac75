# Providers are pinned to a minor-version floor within one major version; the first
# `terraform init` writes .terraform.lock.hcl with the exact builds: commit it, so every
# apply (an operator's, or a later upgrade's) uses the same provider code.
terraform {
  required_version = ">= 1.9, < 2.0" # 1.9: validations that read other variables

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.40"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.40"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7"
    }
    # time_sleep: waits for IAM grants and new metrics to propagate on the first apply.
    time = {
      source  = "hashicorp/time"
      version = "~> 0.12"
    }
  }

  # State in a bucket you create once by hand (docs/DEPLOY.md), one prefix per environment:
  #   terraform init -backend-config="bucket=<project>-tfstate" -backend-config="prefix=<env>"
  backend "gcs" {}
}
