# Cloud SQL for PostgreSQL 15, regional (high availability), 30 retained backups with
# point-in-time recovery, private IP only. The password is generated here and kept in
# Secret Manager: Terraform's state holds it too, so keep the state in an encrypted,
# access-controlled backend.
resource "google_compute_global_address" "sql_private" {
  name          = "${local.name}-sql-private"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = 20
  network       = "projects/${var.project_id}/global/networks/default"
}

resource "google_service_networking_connection" "sql_private" {
  network                 = "projects/${var.project_id}/global/networks/default"
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.sql_private.name]
}

resource "google_sql_database_instance" "modax" {
  name                = "${local.name}-pg"
  database_version    = "POSTGRES_15"
  region              = var.region
  deletion_protection = true
  depends_on          = [google_service_networking_connection.sql_private]

  settings {
    tier              = "db-custom-2-8192"
    availability_type = "REGIONAL"
    disk_autoresize   = true
    user_labels       = local.labels

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      backup_retention_settings {
        retained_backups = 30
      }
    }

    ip_configuration {
      ipv4_enabled    = false
      private_network = "projects/${var.project_id}/global/networks/default"
      ssl_mode        = "ENCRYPTED_ONLY"
    }
  }
}

resource "google_sql_database" "modax" {
  name     = "modax"
  instance = google_sql_database_instance.modax.name
}

resource "random_password" "pg" {
  length  = 32
  special = false
}

resource "google_sql_user" "modax" {
  name     = "modax"
  instance = google_sql_database_instance.modax.name
  password = random_password.pg.result
}
