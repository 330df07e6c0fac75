# Telegram Stars: the ledger payments/<telegram_payment_charge_id> (edges/store.PaymentStore).
# Its documents are the money's record and are kept: no TTL policy, unlike the collections in
# firestore.tf. Firestore refuses these queries in the cloud without their composite indexes
# (the emulator needs none); the others (a user's payment by its short id, the refunds left
# REFUNDING) are equality filters that single-field indexes serve.

# PaymentStore.payments_of: a user's payments, newest first (/refund, /stats).
resource "google_firestore_index" "payments_of_user" {
  database   = google_firestore_database.main.name
  collection = "payments"
  fields {
    field_path = "user_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "paid_at"
    order      = "DESCENDING"
  }
}

# PaymentStore.jobs_owed_credits: paid jobs that ended without a picture and whose credits
# have not gone back (the sweep). Equality fields first (an `in` counts as one), the range last.
resource "google_firestore_index" "jobs_owed_credits" {
  database   = google_firestore_database.main.name
  collection = "jobs"
  fields {
    field_path = "credits_returned"
    order      = "ASCENDING"
  }
  fields {
    field_path = "state"
    order      = "ASCENDING"
  }
  fields {
    field_path = "paid_credits"
    order      = "ASCENDING"
  }
}
