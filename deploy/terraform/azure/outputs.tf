# modax_config: named exactly by the app's config keys (`modax config --markdown`);
# `node deploy/terraform/modax-env.mjs` turns it into the overlay's terraform.env.
# The other outputs fill the overlay's identity, secret and image references.
output "modax_config" {
  description = "MODAX configuration of this deployment, by config key"
  value = {
    "store.backend"            = "postgresql"
    "store.pgsql.url"          = "host=${azurerm_postgresql_flexible_server.modax.fqdn} port=5432 dbname=modax user=${azurerm_user_assigned_identity.workload.name}"
    "store.pgsql.credentials"  = "azure-workload-identity"
    "store.pgsql.sslmode"      = "require"
    "archive.store.kind"       = "azure"
    "archive.store.endpoint"   = trimsuffix(azurerm_storage_account.archive.primary_blob_endpoint, "/")
    "archive.store.bucket"     = azurerm_storage_container.archive.name
    "archive.store.access_key" = azurerm_storage_account.archive.name
    "archive.store.credentials" = "azure-workload-identity"
    "archive.after_days"       = tostring(var.archive_after_days)
    "archive.expire_days"      = tostring(var.archive_expire_days)
    "kafka.brokers"            = "${azurerm_eventhub_namespace.modax.name}.servicebus.windows.net:9093"
    "kafka.topics"             = azurerm_eventhub.telemetry.name
    "kafka.group"              = azurerm_eventhub_consumer_group.ingest.name
  }
}

output "cluster_name" {
  value = azurerm_kubernetes_cluster.modax.name
}

output "resource_group" {
  value = azurerm_resource_group.modax.name
}

output "workload_client_id" {
  value = azurerm_user_assigned_identity.workload.client_id
}

output "tenant_id" {
  value = data.azurerm_client_config.current.tenant_id
}

output "key_vault_name" {
  value = azurerm_key_vault.modax.name
}

output "acr_login_server" {
  value = azurerm_container_registry.modax.login_server
}

output "iothub_name" {
  value = azurerm_iothub.modax.name
}

output "event_hub" {
  value = {
    namespace      = azurerm_eventhub_namespace.modax.name
    name           = azurerm_eventhub.telemetry.name
    consumer_group = azurerm_eventhub_consumer_group.ingest.name
    partitions     = azurerm_eventhub.telemetry.partition_count
  }
}

output "pg_fqdn" {
  value = azurerm_postgresql_flexible_server.modax.fqdn
}
