# The resource group, Log Analytics workspace and container registry of the deployment.
resource "azurerm_resource_group" "modax" {
  name     = "${local.name}-rg"
  location = var.location
  tags     = local.tags
}

resource "azurerm_log_analytics_workspace" "modax" {
  name                = "${local.name}-logs"
  location            = azurerm_resource_group.modax.location
  resource_group_name = azurerm_resource_group.modax.name
  sku                 = "PerGB2018"
  retention_in_days   = 30
  tags                = local.tags
}

resource "azurerm_container_registry" "modax" {
  name                = "${local.compact}acr"
  location            = azurerm_resource_group.modax.location
  resource_group_name = azurerm_resource_group.modax.name
  sku                 = "Standard"
  admin_enabled       = false
  tags                = local.tags
}
