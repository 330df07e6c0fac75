resource "google_firestore_database" "main" {
  name                              = "(default)"
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  point_in_time_recovery_enablement = var.environment == "prod" ? "POINT_IN_TIME_RECOVERY_ENABLED" : "POINT_IN_TIME_RECOVERY_DISABLED"
  delete_protection_state           = var.environment == "prod" ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy                   = var.environment == "prod" ? "ABANDON" : "DELETE"
  depends_on                        = [google_project_service.enabled]
}

# TTL policies: Firestore deletes a document some time (usually within a day) after its
# `expire_at`. updates/ are the webhook's dedupe records; jobs/ (30 days), cache/ (the prompt
# cache, 30 days), translations/ (translated prompts, 30 days), sets/ (all three styles' charge
# and album claim, 30 days, as their jobs), pacing/ (outbound pacing slots, a day) and albums/
# (which photos of an album are drawn, 7 days) carry their own expiry.
# The TTL field is excluded from indexing: an index on a monotonically rising timestamp is a
# write hotspot and no query uses it.
resource "google_firestore_field" "ttl" {
  for_each   = toset(["updates", "jobs", "cache", "pacing", "translations", "sets", "albums"])
  database   = google_firestore_database.main.name
  collection = each.value
  field      = "expire_at"

  ttl_config {}
  index_config {}
}
