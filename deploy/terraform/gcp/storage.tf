# The archive bucket, versioned, uniform access, with lifecycle rules: the archiver
# uploads to STANDARD; objects move to COLDLINE (online, still readable) at
# archive.after_days and are deleted at archive.expire_days, the app's own defaults
# (variables.tf). The archiver reaches it through the S3-compatible XML API with OAuth
# tokens of the workload's service account (GKE Workload Identity, archive.store.credentials
# = gcp): no HMAC key to keep or rotate.
resource "google_storage_bucket" "archive" {
  name                        = "${var.project_id}-${local.name}-archive"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = var.archive_after_days
    }
    action {
      type          = "SetStorageClass"
      storage_class = "COLDLINE"
    }
  }

  lifecycle_rule {
    condition {
      age = var.archive_expire_days
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }
}
