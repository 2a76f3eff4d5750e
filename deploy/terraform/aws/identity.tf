# IRSA: the IAM role the pods' service account (modax/modax) assumes. It may read the
# MODAX secrets (the Secrets Store CSI driver fetches them with the pod's identity) and
# use the archive bucket: the archiver signs with this role's keys (aws-web-identity).
resource "aws_iam_role" "workload" {
  name = "${local.name}-workload"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRoleWithWebIdentity"
      Principal = { Federated = module.eks.oidc_provider_arn }
      Condition = {
        StringEquals = {
          "${module.eks.oidc_provider}:sub" = "system:serviceaccount:modax:modax"
          "${module.eks.oidc_provider}:aud" = "sts.amazonaws.com"
        }
      }
    }]
  })
}

data "aws_iam_policy_document" "workload" {
  statement {
    actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [
      aws_secretsmanager_secret.alert_webhook_secret.arn,
      aws_secretsmanager_secret.mqtt_client_cert.arn,
      aws_secretsmanager_secret.mqtt_client_key.arn,
      aws_db_instance.modax.master_user_secret[0].secret_arn,
    ]
  }
  source_policy_documents = [data.aws_iam_policy_document.archive_bucket.json]
}

resource "aws_iam_role_policy" "workload" {
  name   = "modax"
  role   = aws_iam_role.workload.id
  policy = data.aws_iam_policy_document.workload.json
}
