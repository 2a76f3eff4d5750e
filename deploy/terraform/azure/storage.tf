# The archive storage account and container, with a lifecycle management policy: the
# archiver uploads to the Hot tier; blobs move to the Cold tier (online: still
# readable, unlike Archive) at archive.after_days
# and are deleted at archive.expire_days, the app's own defaults (variables.tf).
resource "azurerm_storage_account" "archive" {
  name                            = "${local.compact}arch"
  location                        = azurerm_resource_group.modax.location
  resource_group_name             = azurerm_resource_group.modax.name
  account_tier                    = "Standard"
  account_replication_type        = "ZRS"
  account_kind                    = "StorageV2"
  min_tls_version                 = "TLS1_2"
  allow_nested_items_to_be_public = false

  blob_properties {
    versioning_enabled = true
  }

  tags = local.tags
}

resource "azurerm_storage_container" "archive" {
  name                  = "archive"
  storage_account_id    = azurerm_storage_account.archive.id
  container_access_type = "private"
}

resource "azurerm_storage_management_policy" "archive" {
  storage_account_id = azurerm_storage_account.archive.id

  rule {
    name    = "modax-archive"
    enabled = true
    filters {
      blob_types   = ["blockBlob"]
      prefix_match = ["archive/"]
    }
    actions {
      base_blob {
        tier_to_cold_after_days_since_modification_greater_than = var.archive_after_days
        delete_after_days_since_modification_greater_than       = var.archive_expire_days
      }
      version {
        delete_after_days_since_creation = 30
      }
    }
  }
}
