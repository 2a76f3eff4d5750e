# Azure Database for PostgreSQL flexible server 15, zone-redundant high availability,
# 30 days of geo-redundant backups.
# Entra ID authentication only, no password anywhere: the Entra administrator is whoever
# runs Terraform (var.pg_entra_admin names that user or service principal), and the pods
# log in as the workload identity's own PostgreSQL role (created once with
# pgaadauth_create_principal, docs/deploy-azure.md step 4) with its Entra ID tokens
# (store.pgsql.credentials = azure-workload-identity).

resource "azurerm_postgresql_flexible_server" "modax" {
  name                          = "${local.name}-pg"
  location                      = azurerm_resource_group.modax.location
  resource_group_name           = azurerm_resource_group.modax.name
  version                       = "15"
  sku_name                      = "GP_Standard_D2ds_v5"
  storage_mb                    = 131072
  backup_retention_days         = 30
  geo_redundant_backup_enabled  = true
  zone                          = "1"
  public_network_access_enabled = true

  authentication {
    active_directory_auth_enabled = true
    password_auth_enabled         = false
    tenant_id                     = data.azurerm_client_config.current.tenant_id
  }

  high_availability {
    mode                      = "ZoneRedundant"
    standby_availability_zone = "2"
  }

  tags = local.tags
}

resource "azurerm_postgresql_flexible_server_active_directory_administrator" "deployer" {
  server_name         = azurerm_postgresql_flexible_server.modax.name
  resource_group_name = azurerm_resource_group.modax.name
  tenant_id           = data.azurerm_client_config.current.tenant_id
  object_id           = data.azurerm_client_config.current.object_id
  principal_name      = var.pg_entra_admin
  principal_type      = var.pg_entra_admin_type
}

resource "azurerm_postgresql_flexible_server_database" "modax" {
  name      = "modax"
  server_id = azurerm_postgresql_flexible_server.modax.id
  charset   = "UTF8"
  collation = "en_US.utf8"
}

# Connections from Azure services (the AKS egress); narrow to the cluster's outbound IPs
# or use private access (a delegated subnet) in production.
resource "azurerm_postgresql_flexible_server_firewall_rule" "azure" {
  name             = "azure-services"
  server_id        = azurerm_postgresql_flexible_server.modax.id
  start_ip_address = "0.0.0.0"
  end_ip_address   = "0.0.0.0"
}
