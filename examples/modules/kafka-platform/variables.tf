variable "name" {
  description = "Name of the ensemble and the cluster."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the platform."
  type        = string
}

variable "zookeeper_replicas" {
  description = "ZooKeeper members (odd)."
  type        = number
  default     = 3
}

variable "zookeeper_preset" {
  description = "Hikube size of each ZooKeeper member."
  type        = string
  default     = "small"
}

variable "kafka_replicas" {
  description = "Kafka brokers."
  type        = number
  default     = 3
}

variable "kafka_preset" {
  description = "Hikube size of each broker."
  type        = string
  default     = "medium"
}

variable "kafka_storage_size" {
  description = "Volume of each broker."
  type        = string
  default     = "10Gi"
}

variable "default_retention_hours" {
  description = "Retention of topics that set none."
  type        = number
  default     = 168
}

variable "topic_prefix" {
  description = "Prefix of every topic name, to keep environments that share brokers apart."
  type        = string
  default     = ""
}

variable "topics" {
  description = "The topics of the bus, by name."
  type = map(object({
    partitions      = number
    retention_hours = number
    compacted       = optional(bool, false)
  }))
}

variable "kafka_bootstrap_servers" {
  description = "How Terraform reaches the brokers; the cluster's in-cluster address when empty."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Refuse to destroy the cluster."
  type        = bool
  default     = true
}
