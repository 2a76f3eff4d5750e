# modax_config: named exactly by the app's config keys (`modax config --markdown`);
# `node deploy/terraform/modax-env.mjs` turns it into the overlay's terraform.env.
# The other outputs fill the overlay's identity, secret and image references.
output "modax_config" {
  description = "MODAX configuration of this deployment, by config key"
  value = {
    "store.backend"            = "postgresql"
    "store.pgsql.url"          = "host=${aws_db_instance.modax.address} port=${aws_db_instance.modax.port} dbname=modax user=modax"
    "store.pgsql.sslmode"      = "require"
    "archive.store.kind"       = "s3"
    "archive.store.endpoint"   = "https://s3.${var.region}.amazonaws.com"
    "archive.store.bucket"     = aws_s3_bucket.archive.id
    "archive.store.region"     = var.region
    "archive.store.path_style" = "false"
    "archive.store.sse"        = "aws:kms"
    "archive.store.credentials" = "aws-web-identity"
    "archive.after_days"       = tostring(var.archive_after_days)
    "archive.expire_days"      = tostring(var.archive_expire_days)
    "mqtt.host"                = data.aws_iot_endpoint.data.endpoint_address
    "mqtt.port"                = "8883"
  }
}

output "cluster_name" {
  value = module.eks.cluster_name
}

output "workload_role_arn" {
  value = aws_iam_role.workload.arn
}

output "db_master_secret_arn" {
  value = aws_db_instance.modax.master_user_secret[0].secret_arn
}

output "ecr_repository_url" {
  value = aws_ecr_repository.modax.repository_url
}

output "iot_policies" {
  value = { for k, p in aws_iot_policy.modax : k => p.name }
}
