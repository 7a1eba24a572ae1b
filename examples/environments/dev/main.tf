# The event bus in dev: the same module and topics as every environment, sized for dev.
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
  namespace = "events-dev"
}

module "platform" {
  source = "../../modules/kafka-platform"

  name                    = "events"
  namespace               = "events-dev"
  zookeeper_replicas      = 1
  zookeeper_preset        = "nano"
  kafka_replicas          = 1
  kafka_preset            = "small"
  kafka_storage_size      = "5Gi"
  default_retention_hours = 24
  topic_prefix            = "dev-"
  deletion_protection     = false
  kafka_bootstrap_servers = var.kafka_bootstrap_servers

  topics = {
    orders        = { partitions = 12, retention_hours = 24 }
    payments      = { partitions = 6, retention_hours = 96 }
    notifications = { partitions = 3, retention_hours = 24, compacted = true }
  }
}

output "topics" {
  value = module.platform.topics
}
