# Inputs of the AWS deployment. One instantiation per region: the guide's multi-region
# layout is this module applied with region = "us-east-1" and again with "eu-west-1".
variable "region" {
  description = "AWS region of this deployment"
  type        = string
  default     = "us-east-1"
}

variable "project" {
  description = "Tag Project"
  type        = string
  default     = "modax"
}

variable "environment" {
  description = "Tag Environment; also part of every resource name"
  type        = string
  default     = "production"
}

variable "cost_center" {
  description = "Tag CostCenter"
  type        = string
  default     = "iot-platform"
}

variable "owner" {
  description = "Tag Owner"
  type        = string
  default     = "platform-team"
}

variable "tenant" {
  description = "Tag Tenant: 'shared' for infrastructure that serves every tenant"
  type        = string
  default     = "shared"
}

# The app's archive defaults (`modax config --markdown`: archive.after_days,
# archive.expire_days); tests/deploy/terraform.mjs keeps them equal.
variable "archive_after_days" {
  description = "Days after which archive objects move to the cold tier (archive.after_days)"
  type        = number
  default     = 90
}

variable "archive_expire_days" {
  description = "Days after which archive objects are deleted (archive.expire_days)"
  type        = number
  default     = 365
}

variable "vpc_cidr" {
  description = "Address range of the VPC"
  type        = string
  default     = "10.40.0.0/16"
}

variable "node_instance_type" {
  description = "Instance type of the EKS managed node group"
  type        = string
  default     = "m6i.large"
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version"
  type        = string
  default     = "1.30"
}
