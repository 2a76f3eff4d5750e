# A regional GKE cluster with Workload Identity, Google Managed Prometheus, network policy enforcement (Dataplane V2) and a node pool that
# autoscales over 2..10 nodes in total. The Secrets Store CSI driver and its Google
# provider are installed with Helm (docs/deploy-gcp.md).
resource "google_container_cluster" "modax" {
  name                     = "${local.name}-gke"
  location                 = var.region
  remove_default_node_pool = true
  initial_node_count       = 1
  datapath_provider        = "ADVANCED_DATAPATH"
  deletion_protection      = true

  workload_identity_config {
    workload_pool = "${var.project_id}.svc.id.goog"
  }

  monitoring_config {
    managed_prometheus {
      enabled = true
    }
  }

  ip_allocation_policy {}
}

resource "google_container_node_pool" "default" {
  name     = "default"
  cluster  = google_container_cluster.modax.id
  location = var.region

  autoscaling {
    total_min_node_count = 2
    total_max_node_count = 10
  }

  node_config {
    machine_type = "e2-standard-4"
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    resource_labels = local.labels
  }
}
