"""Scripts cloudbuild.yaml runs: standard library only (they run in the Cloud SDK image)."""
