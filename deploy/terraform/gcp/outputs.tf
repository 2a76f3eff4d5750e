# modax_config: named exactly by the app's config keys (`modax config --markdown`);
# `node deploy/terraform/modax-env.mjs` turns it into the overlay's terraform.env.
# The other outputs fill the overlay's identity, secret and image references.
output "modax_config" {
  description = "MODAX configuration of this deployment, by config key"
  value = {
    "store.backend"            = "postgresql"
    "store.pgsql.url"          = "host=${google_sql_database_instance.modax.private_ip_address} port=5432 dbname=modax user=modax"
    "store.pgsql.sslmode"      = "require"
    "archive.store.kind"       = "s3"
    "archive.store.endpoint"   = "https://storage.googleapis.com"
    "archive.store.bucket"     = google_storage_bucket.archive.name
    "archive.store.region"     = "auto"
    "archive.store.path_style" = "true"
    "archive.store.credentials" = "gcp"
    "archive.after_days"       = tostring(var.archive_after_days)
    "archive.expire_days"      = tostring(var.archive_expire_days)
    "pubsub.project"           = var.project_id
    "pubsub.subscription"      = google_pubsub_subscription.ingest.name
  }
}

output "cluster_name" {
  value = google_container_cluster.modax.name
}

output "workload_service_account" {
  value = google_service_account.workload.email
}

output "secret_names" {
  value = { for k, s in google_secret_manager_secret.modax : k => s.name }
}

output "artifact_registry" {
  value = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.modax.repository_id}"
}

output "pubsub" {
  value = {
    topic        = google_pubsub_topic.telemetry.name
    subscription = google_pubsub_subscription.ingest.name
  }
}
