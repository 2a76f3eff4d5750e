# Secrets Manager entries the pods mount (deploy/k8s/overlays/aws/secretproviderclass.yaml).
# The PostgreSQL password is the one RDS manages (database.tf). The archiver has no key of
# its own: it signs with the pod's role (IRSA, identity.tf; archive.store.credentials =
# aws-web-identity), whose short-lived keys it fetches from STS and renews. The webhook
# secret's value is set by the operator (docs/deploy-aws.md), never by Terraform.
resource "aws_secretsmanager_secret" "alert_webhook_secret" {
  name        = "modax/${var.environment}/alert-webhook-secret"
  description = "alert.webhook.secret: HMAC key of the alert webhook"
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
