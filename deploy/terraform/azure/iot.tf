# IoT Hub S2 routes every device message to an Event Hubs (Standard, Kafka endpoint)
# event hub that the ingest consumes. Message enrichments stamp the tenant (device twin
# tag "tenant", see cloud/azure/iot-hub-device.md) and the hub on each message; the
# device id travels on every routed message as the system property
# iothub-connection-device-id (a Kafka header on the Event Hubs side).
resource "azurerm_eventhub_namespace" "modax" {
  name                = "${local.name}-ehns"
  location            = azurerm_resource_group.modax.location
  resource_group_name = azurerm_resource_group.modax.name
  sku                 = "Standard"
  capacity            = 2
  tags                = local.tags
}

resource "azurerm_eventhub" "telemetry" {
  name              = "modax-telemetry"
  namespace_id      = azurerm_eventhub_namespace.modax.id
  partition_count   = var.event_hub_partitions
  message_retention = 7
}

resource "azurerm_eventhub_consumer_group" "ingest" {
  name                = "modax-ingest"
  namespace_name      = azurerm_eventhub_namespace.modax.name
  eventhub_name       = azurerm_eventhub.telemetry.name
  resource_group_name = azurerm_resource_group.modax.name
}

resource "azurerm_eventhub_authorization_rule" "iothub_send" {
  name                = "iothub-send"
  namespace_name      = azurerm_eventhub_namespace.modax.name
  eventhub_name       = azurerm_eventhub.telemetry.name
  resource_group_name = azurerm_resource_group.modax.name
  send                = true
}

resource "azurerm_eventhub_authorization_rule" "ingest_listen" {
  name                = "modax-ingest-listen"
  namespace_name      = azurerm_eventhub_namespace.modax.name
  eventhub_name       = azurerm_eventhub.telemetry.name
  resource_group_name = azurerm_resource_group.modax.name
  listen              = true
}

resource "azurerm_iothub" "modax" {
  name                = "${local.name}-hub"
  location            = azurerm_resource_group.modax.location
  resource_group_name = azurerm_resource_group.modax.name

  sku {
    name     = "S2"
    capacity = 1
  }

  endpoint {
    type              = "AzureIotHub.EventHub"
    name              = "modax-telemetry"
    connection_string = azurerm_eventhub_authorization_rule.iothub_send.primary_connection_string
  }

  route {
    name           = "modax-telemetry"
    source         = "DeviceMessages"
    condition      = "true"
    endpoint_names = ["modax-telemetry"]
    enabled        = true
  }

  enrichment {
    key            = "modax-tenant"
    value          = "$twin.tags.tenant"
    endpoint_names = ["modax-telemetry"]
  }

  enrichment {
    key            = "modax-hub"
    value          = "$iothubname"
    endpoint_names = ["modax-telemetry"]
  }

  tags = local.tags
}
