# ECR repository of the MODAX image (Containerfile, `make image`).
resource "aws_ecr_repository" "modax" {
  name                 = "modax"
  image_tag_mutability = "MUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
  }
}
