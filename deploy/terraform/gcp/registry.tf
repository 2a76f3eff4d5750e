# Artifact Registry (Docker) repository of the MODAX image.
resource "google_artifact_registry_repository" "modax" {
  repository_id = "modax"
  location      = var.region
  format        = "DOCKER"
  description   = "MODAX Cloud images"
}
