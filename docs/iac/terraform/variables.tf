variable "table_name" {
  description = "Name of the table (dynamodb.table_name in patroni.yml)."
  type        = string
  default     = "patroni"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.table_name))
    error_message = "DynamoDB table names are 3-255 characters of A-Z, a-z, 0-9, '_', '-' and '.'."
  }
}

variable "point_in_time_recovery" {
  description = "Point-in-time recovery (continuous backups) of the table."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Refuse DeleteTable until this is turned off."
  type        = bool
  default     = true
}

variable "cluster_partitions" {
  description = "Partitions (cluster_name values: the Patroni scope, or namespace/scope) the node policy may touch; empty: no node policy."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for the table and the policy."
  type        = map(string)
  default     = {}
}
