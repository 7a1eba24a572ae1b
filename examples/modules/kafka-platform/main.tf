# An event-bus platform: a ZooKeeper ensemble, a Kafka cluster, and a set of topics, sized per
# environment. The same module is promoted from dev to staging to prod.
terraform {
  required_providers {
    hikube = {
      source = "hikube/hikube"
    }
  }
}

resource "hikube_zookeeper_ensemble" "this" {
  name             = var.name
  namespace        = var.namespace
  replicas         = var.zookeeper_replicas
  resources_preset = var.zookeeper_preset
}

resource "hikube_kafka_cluster" "this" {
  name                = var.name
  namespace           = var.namespace
  replicas            = var.kafka_replicas
  zookeeper           = hikube_zookeeper_ensemble.this.connect_string
  resources_preset    = var.kafka_preset
  storage_size        = var.kafka_storage_size
  deletion_protection = var.deletion_protection
  config = {
    "log.retention.hours" = tostring(var.default_retention_hours)
  }
}

locals {
  # Where Terraform reaches the brokers: the cluster's own address unless the caller knows
  # better (an external listener, or the local stack's brokers).
  own_brokers       = length(var.kafka_bootstrap_servers) == 0
  bootstrap_servers = local.own_brokers ? hikube_kafka_cluster.this.bootstrap_servers : var.kafka_bootstrap_servers
  replication       = min(var.kafka_replicas, 3)
}

resource "hikube_kafka_topic" "this" {
  for_each = var.topics

  name               = "${var.topic_prefix}${each.key}"
  partitions         = each.value.partitions
  replication_factor = local.replication
  config = merge(
    { "retention.ms" = tostring(each.value.retention_hours * 3600000) },
    local.replication >= 3 ? { "min.insync.replicas" = "2" } : {},
    each.value.compacted ? { "cleanup.policy" = "compact" } : {},
  )
  kafka = {
    bootstrap_servers = local.bootstrap_servers
    # The cluster's own brokers take the admin's credentials, read from its Secret when the
    # provider connects; brokers the caller names are reached as the provider's `kafka` says.
    sasl = local.own_brokers && hikube_kafka_cluster.this.admin_secret != null ? {
      credentials_secret = hikube_kafka_cluster.this.admin_secret
    } : null
    # The cluster's own brokers are reached through the Kubernetes API server, so that Terraform
    # needs nothing but kube credentials, wherever it runs.
    tunnel = local.own_brokers ? { namespace = hikube_kafka_cluster.this.namespace } : null
  }

  depends_on = [hikube_kafka_cluster.this]
}
