# Key Vault (RBAC) with the secrets the pods mount (deploy/k8s/overlays/azure/
# secretproviderclass.yaml): the Event Hubs connection string, and the webhook secret,
# whose value is set by the operator (docs/deploy-azure.md), never by Terraform. There is
# no PostgreSQL password and no storage account key: the pods use Entra ID tokens of
# their workload identity for both (identity.tf).
resource "azurerm_key_vault" "modax" {
  name                       = "${local.compact}kv"
  location                   = azurerm_resource_group.modax.location
  resource_group_name        = azurerm_resource_group.modax.name
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  sku_name                   = "standard"
  enable_rbac_authorization  = true
  purge_protection_enabled   = true
  soft_delete_retention_days = 30
  tags                       = local.tags
}

# Whoever runs Terraform writes the secrets.
resource "azurerm_role_assignment" "kv_deployer" {
  scope                = azurerm_key_vault.modax.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}

# The ingest reads Event Hubs' Kafka endpoint with the listen rule's connection string
# (kafka.sasl_password; the user name is the literal $ConnectionString).
resource "azurerm_key_vault_secret" "kafka_sasl_password" {
  name         = "kafka-sasl-password"
  value        = azurerm_eventhub_authorization_rule.ingest_listen.primary_connection_string
  key_vault_id = azurerm_key_vault.modax.id
  tags         = local.tags
  depends_on   = [azurerm_role_assignment.kv_deployer]
}

# The archiver has no account key: it uses the pod's workload identity (role "Storage
# Blob Data Contributor", identity.tf; archive.store.credentials = azure-workload-identity).
