# Secret Manager entries the pods mount (deploy/k8s/overlays/gcp/secretproviderclass.yaml).
# The webhook secret's value is set by the operator (docs/deploy-gcp.md), never here.
locals {
  secrets = ["store-pgsql-password", "alert-webhook-secret"]
}

resource "google_secret_manager_secret" "modax" {
  for_each  = toset(local.secrets)
  secret_id = "modax-${each.value}"
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "store_pgsql_password" {
  secret      = google_secret_manager_secret.modax["store-pgsql-password"].id
  secret_data = random_password.pg.result
}
