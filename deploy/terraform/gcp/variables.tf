# Inputs of the GCP deployment. One instantiation per region.
variable "project_id" {
  description = "Google Cloud project to deploy into"
  type        = string
}

variable "region" {
  description = "Google Cloud region of this deployment"
  type        = string
  default     = "europe-west1"
}

variable "project" {
  description = "Label project (the guide's tag Project)"
  type        = string
  default     = "modax"
}

variable "environment" {
  description = "Label environment; also part of every resource name"
  type        = string
  default     = "production"
}

variable "cost_center" {
  description = "Label cost_center (the guide's tag CostCenter)"
  type        = string
  default     = "iot-platform"
}

variable "owner" {
  description = "Label owner"
  type        = string
  default     = "platform-team"
}

variable "tenant" {
  description = "Label tenant: 'shared' for infrastructure that serves every tenant"
  type        = string
  default     = "shared"
}

# The app's archive defaults (archive.after_days, archive.expire_days).
variable "archive_after_days" {
  description = "Days after which archive objects move to the COLDLINE class (archive.after_days)"
  type        = number
  default     = 90
}

variable "archive_expire_days" {
  description = "Days after which archive objects are deleted (archive.expire_days)"
  type        = number
  default     = 365
}
