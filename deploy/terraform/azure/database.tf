# Azure Database for PostgreSQL flexible server 15, zone-redundant high availability,
# 30 days of geo-redundant backups.
# The administrator password is generated here and kept in Key Vault: Terraform's state
# holds it too, so keep the state in an encrypted, access-controlled backend.
resource "random_password" "pg" {
  length  = 32
  special = false
}

resource "azurerm_postgresql_flexible_server" "modax" {
  name                          = "${local.name}-pg"
  location                      = azurerm_resource_group.modax.location
  resource_group_name           = azurerm_resource_group.modax.name
  version                       = "15"
  sku_name                      = "GP_Standard_D2ds_v5"
  storage_mb                    = 131072
  backup_retention_days         = 30
  geo_redundant_backup_enabled  = true
  administrator_login           = "modax"
  administrator_password        = random_password.pg.result
  zone                          = "1"
  public_network_access_enabled = true

  high_availability {
    mode                      = "ZoneRedundant"
    standby_availability_zone = "2"
  }

  tags = local.tags
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
