# The quickstart: an event bus on Hikube-style managed Kafka. A ZooKeeper ensemble, a Kafka
# cluster coordinated by it, and the topics of the bus, with compaction and retention where
# they fit.
terraform {
  required_providers {
    hikube = {
      source = "hikube/hikube"
    }
  }
}

variable "namespace" {
  description = "Namespace of the quickstart."
  type        = string
  default     = "quickstart"
}

variable "kafka_bootstrap_servers" {
  description = "How Terraform reaches the brokers: the cluster's external listener on a real cluster; scripts/quickstart passes the local stack's brokers, since its kwok pods run no Kafka."
  type        = list(string)
  default     = []
}

variable "topic_prefix" {
  description = "Prefix of the topic names, for sharing brokers with other buses."
  type        = string
  default     = ""
}

provider "hikube" {
  namespace = var.namespace
}

resource "hikube_zookeeper_ensemble" "bus" {
  name     = "bus"
  replicas = 3
}

resource "hikube_kafka_cluster" "bus" {
  name             = "bus"
  replicas         = 3
  zookeeper        = hikube_zookeeper_ensemble.bus.connect_string
  resources_preset = "medium"
  storage_size     = "10Gi"
  config = {
    "log.retention.hours" = "168"
  }
  # A quickstart is meant to be thrown away; keep protection on for real data.
  deletion_protection = false
}

locals {
  bootstrap_servers = length(var.kafka_bootstrap_servers) > 0 ? var.kafka_bootstrap_servers : hikube_kafka_cluster.bus.bootstrap_servers
}

# Every order event, kept a week.
resource "hikube_kafka_topic" "orders" {
  name               = "${var.topic_prefix}orders"
  partitions         = 6
  replication_factor = 3
  config = {
    "cleanup.policy"      = "delete"
    "retention.ms"        = "604800000"
    "min.insync.replicas" = "2"
  }
  kafka      = { bootstrap_servers = local.bootstrap_servers }
  depends_on = [hikube_kafka_cluster.bus]
}

# Payments are kept 30 days and never acknowledged before two replicas have them.
resource "hikube_kafka_topic" "payments" {
  name               = "${var.topic_prefix}payments"
  partitions         = 3
  replication_factor = 3
  config = {
    "retention.ms"        = "2592000000"
    "min.insync.replicas" = "2"
  }
  kafka      = { bootstrap_servers = local.bootstrap_servers }
  depends_on = [hikube_kafka_cluster.bus]
}

# The latest notification preference per customer: compacted, not expired.
resource "hikube_kafka_topic" "notifications" {
  name               = "${var.topic_prefix}notifications"
  partitions         = 3
  replication_factor = 3
  config = {
    "cleanup.policy" = "compact"
  }
  kafka      = { bootstrap_servers = local.bootstrap_servers }
  depends_on = [hikube_kafka_cluster.bus]
}

output "zookeeper_connect" {
  value = hikube_zookeeper_ensemble.bus.connect_string
}

output "bootstrap_servers" {
  value = hikube_kafka_cluster.bus.bootstrap_servers
}

output "topics" {
  value = [hikube_kafka_topic.orders.name, hikube_kafka_topic.payments.name, hikube_kafka_topic.notifications.name]
}
