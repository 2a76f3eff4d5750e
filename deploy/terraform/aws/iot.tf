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

# The ingest's own identity at IoT Core: a certificate with the service policy, its PEM
# and private key in Secrets Manager for the pods (mqtt.tls_cert_file / tls_key_file).
# Terraform's state holds the key: keep the state in an encrypted, access-controlled backend.
resource "aws_iot_certificate" "ingest" {
  active = true
}

resource "aws_iot_policy_attachment" "ingest" {
  policy = aws_iot_policy.modax["service"].name
  target = aws_iot_certificate.ingest.arn
}

resource "aws_secretsmanager_secret" "mqtt_client_cert" {
  name        = "modax/${var.environment}/mqtt-client-cert"
  description = "mqtt.tls_cert_file: the ingest's IoT Core certificate (PEM)"
}

resource "aws_secretsmanager_secret_version" "mqtt_client_cert" {
  secret_id     = aws_secretsmanager_secret.mqtt_client_cert.id
  secret_string = aws_iot_certificate.ingest.certificate_pem
}

resource "aws_secretsmanager_secret" "mqtt_client_key" {
  name        = "modax/${var.environment}/mqtt-client-key"
  description = "mqtt.tls_key_file: the private key of the ingest's IoT Core certificate"
}

resource "aws_secretsmanager_secret_version" "mqtt_client_key" {
  secret_id     = aws_secretsmanager_secret.mqtt_client_key.id
  secret_string = aws_iot_certificate.ingest.private_key
}
