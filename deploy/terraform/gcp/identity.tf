# GKE Workload Identity: the Google service account the pods' Kubernetes service account
# (modax/modax) acts as. It reads the MODAX secrets, uses the archive bucket and
# consumes the ingest subscription.
resource "google_service_account" "workload" {
  account_id   = "${local.name}-workload"
  display_name = "MODAX pods (${var.environment})"
}

resource "google_service_account_iam_member" "workload_identity" {
  service_account_id = google_service_account.workload.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[modax/modax]"
}

resource "google_secret_manager_secret_iam_member" "workload" {
  for_each  = google_secret_manager_secret.modax
  secret_id = each.value.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.workload.email}"
}

resource "google_storage_bucket_iam_member" "workload" {
  bucket = google_storage_bucket.archive.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.workload.email}"
}

resource "google_pubsub_subscription_iam_member" "workload" {
  subscription = google_pubsub_subscription.ingest.name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${google_service_account.workload.email}"
}
