# The quickstart: an event bus on Hikube-style managed Kafka. A ZooKeeper ensemble, a Kafka
# cluster coordinated by it (SCRAM on every listener, deny-by-default ACLs), the topics of the
# bus, with compaction and retention where they fit, and the application user that may use them.
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

variable "storage_class" {
  description = "Storage class of the volumes; the cluster's default when null."
  type        = string
  default     = null
}

variable "zookeeper_resources" {
  description = "CPU and memory of each ZooKeeper member instead of the preset, for a small machine."
  type        = object({ cpu = string, memory = string })
  default     = null
}

variable "broker_resources" {
  description = "CPU and memory of each broker instead of the preset, for a small machine."
  type        = object({ cpu = string, memory = string })
  default     = null
}

variable "app_password" {
  description = "Password of the bus's application user: sent to the brokers, kept in no plan and no state."
  type        = string
  sensitive   = true
  ephemeral   = true
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
  name          = "bus"
  replicas      = 3
  storage_class = var.storage_class
  resources     = var.zookeeper_resources
}

resource "hikube_kafka_cluster" "bus" {
  name             = "bus"
  replicas         = 3
  zookeeper        = hikube_zookeeper_ensemble.bus.connect_string
  resources_preset = "medium"
  resources        = var.broker_resources
  storage_size     = "10Gi"
  storage_class    = var.storage_class
  config = {
    "log.retention.hours" = "168"
  }
  # A quickstart is meant to be thrown away; keep protection on for real data.
  deletion_protection = false
}

locals {
  # The cluster's own brokers, reached through the Kubernetes API server: their in-cluster names
  # need not resolve where Terraform runs, a laptop or a CI runner with kube credentials will do.
  # The provider signs in as the cluster's admin, whose password it reads from the Secret it made.
  bus = {
    bootstrap_servers = hikube_kafka_cluster.bus.bootstrap_servers
    sasl              = { credentials_secret = hikube_kafka_cluster.bus.admin_secret }
    tunnel            = { namespace = hikube_kafka_cluster.bus.namespace }
  }
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
  kafka = local.bus
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
  kafka = local.bus
}

# The latest notification preference per customer: compacted, not expired.
resource "hikube_kafka_topic" "notifications" {
  name               = "${var.topic_prefix}notifications"
  partitions         = 3
  replication_factor = 3
  config = {
    "cleanup.policy" = "compact"
  }
  kafka = local.bus
}

# The application: it signs in as "bus-app", writes and reads the bus's topics, and commits its
# consumer offsets in the groups named after it. Nothing else is allowed to it.
resource "hikube_kafka_user" "app" {
  name                = "bus-app"
  password_wo         = var.app_password
  password_wo_version = 1
  kafka               = local.bus
}

resource "hikube_kafka_acl" "app_topics" {
  for_each = toset(["Write", "Read", "Describe"])

  resource_type                = "Topic"
  resource_name                = var.topic_prefix == "" ? "*" : var.topic_prefix
  resource_pattern_type_filter = var.topic_prefix == "" ? "Literal" : "Prefixed"
  acl_principal                = "User:${hikube_kafka_user.app.name}"
  acl_operation                = each.key
  acl_permission_type          = "Allow"
  kafka                        = local.bus
}

resource "hikube_kafka_acl" "app_groups" {
  resource_type                = "Group"
  resource_name                = "bus-app"
  resource_pattern_type_filter = "Prefixed"
  acl_principal                = "User:${hikube_kafka_user.app.name}"
  acl_operation                = "Read"
  acl_permission_type          = "Allow"
  kafka                        = local.bus
}

output "zookeeper_connect" {
  value = hikube_zookeeper_ensemble.bus.connect_string
}

output "bootstrap_servers" {
  value = hikube_kafka_cluster.bus.bootstrap_servers
}

output "admin_secret" {
  description = "The Secret with the cluster admin's credentials."
  value       = hikube_kafka_cluster.bus.admin_secret
}

output "topics" {
  value = [hikube_kafka_topic.orders.name, hikube_kafka_topic.payments.name, hikube_kafka_topic.notifications.name]
}
