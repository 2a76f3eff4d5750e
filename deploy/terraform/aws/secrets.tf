# Secrets Manager entries the pods mount (deploy/k8s/overlays/aws/secretproviderclass.yaml).
# The PostgreSQL password is the one RDS manages (database.tf). The archive's S3 key
# belongs to a user that may only use the archive bucket: the archiver signs with static
# keys until it can use the pod's role (issue 13, item 5); Terraform's state then holds
# that key, so keep the state in an encrypted, access-controlled backend. The webhook
# secret's value is set by the operator (docs/deploy-aws.md), never by Terraform.
resource "aws_secretsmanager_secret" "archive_store_secret_key" {
  name        = "modax/${var.environment}/archive-store-secret-key"
  description = "archive.store.secret_key: S3 secret access key of the archiver"
}

resource "aws_secretsmanager_secret" "alert_webhook_secret" {
  name        = "modax/${var.environment}/alert-webhook-secret"
  description = "alert.webhook.secret: HMAC key of the alert webhook"
}

resource "aws_iam_user" "archiver" {
  name = "${local.name}-archiver"
}

resource "aws_iam_user_policy" "archiver" {
  name   = "archive-bucket"
  user   = aws_iam_user.archiver.name
  policy = data.aws_iam_policy_document.archive_bucket.json
}

resource "aws_iam_access_key" "archiver" {
  user = aws_iam_user.archiver.name
}

resource "aws_secretsmanager_secret_version" "archive_store_secret_key" {
  secret_id     = aws_secretsmanager_secret.archive_store_secret_key.id
  secret_string = aws_iam_access_key.archiver.secret
}

data "aws_iam_policy_document" "archive_bucket" {
  statement {
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.archive.arn]
  }
  statement {
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.archive.arn}/*"]
  }
}
