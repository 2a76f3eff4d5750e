# Providers of the Azure deployment and the guide's tags. azurerm has no default tags:
# every resource that takes tags says `tags = local.tags` (tests/deploy/terraform.mjs
# fails on one that does not). A Bicep user maps each azurerm_* resource here to the
# Microsoft.* resource of the same name in Bicep, with the same properties and tags.
terraform {
  required_version = ">= 1.5"
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.0"
    }
  }
}

provider "azurerm" {
  features {}
  subscription_id = var.subscription_id
}

data "azurerm_client_config" "current" {}

locals {
  name = "modax-${var.environment}"
  # Storage account, Key Vault and registry names: letters and digits only, globally unique.
  compact = substr(replace("modax${var.environment}${var.name_suffix}", "-", ""), 0, 20)
  tags = {
    Project     = var.project
    Environment = var.environment
    CostCenter  = var.cost_center
    Owner       = var.owner
    Tenant      = var.tenant
  }
}
