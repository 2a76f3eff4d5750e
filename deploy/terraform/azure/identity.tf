# Azure Workload Identity: a user-assigned managed identity federated with the pods'
# service account (modax/modax) through the AKS OIDC issuer. It reads the Key Vault
# secrets (the CSI driver fetches them as the pod) and may use the archive container
# and the Event Hubs namespace. In PostgreSQL it is the role of the same name
# (pgaadauth_create_principal, docs/deploy-azure.md), which logs in with its tokens.
resource "azurerm_user_assigned_identity" "workload" {
  name                = "${local.name}-workload"
  location            = azurerm_resource_group.modax.location
  resource_group_name = azurerm_resource_group.modax.name
  tags                = local.tags
}

resource "azurerm_federated_identity_credential" "workload" {
  name                = "modax-serviceaccount"
  resource_group_name = azurerm_resource_group.modax.name
  parent_id           = azurerm_user_assigned_identity.workload.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = azurerm_kubernetes_cluster.modax.oidc_issuer_url
  subject             = "system:serviceaccount:modax:modax"
}

resource "azurerm_role_assignment" "workload_kv" {
  scope                = azurerm_key_vault.modax.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.workload.principal_id
}

resource "azurerm_role_assignment" "workload_blob" {
  scope                = azurerm_storage_account.archive.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.workload.principal_id
}

resource "azurerm_role_assignment" "workload_eventhubs" {
  scope                = azurerm_eventhub_namespace.modax.id
  role_definition_name = "Azure Event Hubs Data Receiver"
  principal_id         = azurerm_user_assigned_identity.workload.principal_id
}
