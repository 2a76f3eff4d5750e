# Providers of the GCP deployment and the guide's tags. Google labels allow only lower
# case keys, so the five tags are the labels project, environment, cost_center, owner and
# tenant; default_labels puts them on every resource that takes labels.
terraform {
  required_version = ">= 1.5"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

provider "google" {
  project        = var.project_id
  region         = var.region
  default_labels = local.labels
}

locals {
  name = "modax-${var.environment}"
  labels = {
    project     = var.project
    environment = var.environment
    cost_center = var.cost_center
    owner       = var.owner
    tenant      = var.tenant
  }
}
