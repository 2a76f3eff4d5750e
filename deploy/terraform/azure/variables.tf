# Inputs of the Azure deployment. One instantiation per region (the guide's westeurope).
variable "subscription_id" {
  description = "Azure subscription to deploy into"
  type        = string
}

variable "location" {
  description = "Azure region of this deployment"
  type        = string
  default     = "westeurope"
}

variable "name_suffix" {
  description = "Short suffix making the global names (storage, Key Vault, registry) unique"
  type        = string
  default     = "01"
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

# The app's archive defaults (archive.after_days, archive.expire_days).
variable "archive_after_days" {
  description = "Days after which archive blobs move to the Archive tier (archive.after_days)"
  type        = number
  default     = 90
}

variable "archive_expire_days" {
  description = "Days after which archive blobs are deleted (archive.expire_days)"
  type        = number
  default     = 365
}

variable "event_hub_partitions" {
  description = "Partitions of the telemetry event hub = the ingest's largest replica count"
  type        = number
  default     = 8
}

variable "kubernetes_version" {
  description = "AKS Kubernetes version"
  type        = string
  default     = "1.30"
}

# The Entra administrator of PostgreSQL: the principal running Terraform (its object id is
# taken from the azurerm login), by the name PostgreSQL knows it.
variable "pg_entra_admin" {
  description = "User principal name (or service principal name) of whoever runs Terraform: PostgreSQL's Entra administrator"
  type        = string
}

variable "pg_entra_admin_type" {
  description = "User, Group or ServicePrincipal: what pg_entra_admin is"
  type        = string
  default     = "User"
}
