# AWS IoT Core: the device thing type (tenant as a searchable attribute, which the
# device policy reads as ${iot:Connection.Thing.Attributes[tenant]}) and the device,
# service and operator policies. The policy documents are the ones `modax policy render
# --write cloud` generates from the broker's topic rules (cloud/aws/*.json), never
# written by hand; only their REGION and ACCOUNT placeholders are filled in here.
locals {
  iot_policy_files = {
    device   = "iot-policy.json"
    service  = "iot-policy-service.json"
    operator = "iot-policy-operator.json"
  }
}

resource "aws_iot_thing_type" "device" {
  name = "modax-device"
  properties {
    description           = "A MODAX field device or edge gateway; thing name = MODAX device id"
    searchable_attributes = ["tenant"]
  }
}

resource "aws_iot_policy" "modax" {
  for_each = local.iot_policy_files
  name     = "${local.name}-${each.key}"
  policy = replace(replace(file("${path.module}/../../../cloud/aws/${each.value}"),
  "REGION", var.region), "ACCOUNT", data.aws_caller_identity.current.account_id)
}

# The device data endpoint devices and the ingest connect to (mqtt.host).
data "aws_iot_endpoint" "data" {
  endpoint_type = "iot:Data-ATS"
}
