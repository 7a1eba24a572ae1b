# The event bus in staging: the same module and topics as every environment, sized for staging.
terraform {
  required_providers {
    hikube = {
      source = "hikube/hikube"
    }
  }
}

variable "kafka_bootstrap_servers" {
  description = "How Terraform reaches the brokers (the local stack passes its own)."
  type        = list(string)
  default     = []
}

provider "hikube" {
  namespace = "events-staging"
}

module "platform" {
  source = "../../modules/kafka-platform"

  name                    = "events"
  namespace               = "events-staging"
  zookeeper_replicas      = 3
  zookeeper_preset        = "small"
  kafka_replicas          = 3
  kafka_preset            = "medium"
  kafka_storage_size      = "20Gi"
  default_retention_hours = 72
  topic_prefix            = "staging-"
  deletion_protection     = false
  kafka_bootstrap_servers = var.kafka_bootstrap_servers

  topics = {
    orders        = { partitions = 12, retention_hours = 72 }
    payments      = { partitions = 6, retention_hours = 288 }
    notifications = { partitions = 3, retention_hours = 72, compacted = true }
  }
}

output "topics" {
  value = module.platform.topics
}
