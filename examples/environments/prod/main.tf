# The event bus in prod: the same module and topics as every environment, sized for prod.
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
  namespace = "events-prod"
}

module "platform" {
  source = "../../modules/kafka-platform"

  name                    = "events"
  namespace               = "events-prod"
  zookeeper_replicas      = 3
  zookeeper_preset        = "medium"
  kafka_replicas          = 5
  kafka_preset            = "large"
  kafka_storage_size      = "100Gi"
  default_retention_hours = 168
  topic_prefix            = "prod-"
  deletion_protection     = true
  kafka_bootstrap_servers = var.kafka_bootstrap_servers

  topics = {
    orders        = { partitions = 12, retention_hours = 168 }
    payments      = { partitions = 6, retention_hours = 672 }
    notifications = { partitions = 3, retention_hours = 168, compacted = true }
  }
}

output "topics" {
  value = module.platform.topics
}
