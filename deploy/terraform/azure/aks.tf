# AKS with an autoscaling system node pool of 2..10 nodes over three zones, the OIDC
# issuer and Workload Identity, the Key Vault Secrets Store CSI driver add-on (with
# rotation), Azure Monitor managed Prometheus and Container Insights to Log Analytics.
resource "azurerm_kubernetes_cluster" "modax" {
  name                      = "${local.name}-aks"
  location                  = azurerm_resource_group.modax.location
  resource_group_name       = azurerm_resource_group.modax.name
  dns_prefix                = local.name
  kubernetes_version        = var.kubernetes_version
  oidc_issuer_enabled       = true
  workload_identity_enabled = true

  default_node_pool {
    name                 = "system"
    vm_size              = "Standard_D4s_v5"
    auto_scaling_enabled = true
    min_count            = 2
    max_count            = 10
    zones                = ["1", "2", "3"]
    tags                 = local.tags
  }

  identity {
    type = "SystemAssigned"
  }

  network_profile {
    network_plugin = "azure"
    network_policy = "azure"
  }

  key_vault_secrets_provider {
    secret_rotation_enabled = true
  }

  oms_agent {
    log_analytics_workspace_id = azurerm_log_analytics_workspace.modax.id
  }

  monitor_metrics {}

  tags = local.tags
}

# The cluster's kubelets pull the image from the registry.
resource "azurerm_role_assignment" "aks_acr_pull" {
  scope                = azurerm_container_registry.modax.id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_kubernetes_cluster.modax.kubelet_identity[0].object_id
}
