resource "hikube_zookeeper_ensemble" "events" {
  name      = "events"
  namespace = "kafka"
}

# Three brokers coordinated by the ensemble above, with TLS and one LoadBalancer per broker that
# only the office and the CI runners reach. Every listener authenticates with SCRAM-SHA-512
# (the default) and the authorizer denies what no ACL allows.
resource "hikube_kafka_cluster" "events" {
  name             = "events"
  namespace        = "kafka"
  replicas         = 3
  zookeeper        = hikube_zookeeper_ensemble.events.connect_string
  resources_preset = "large"
  storage_size     = "100Gi"
  storage_class    = "fast-ssd"

  config = {
    "log.retention.hours" = "168"
    "num.partitions"      = "6"
    "message.max.bytes"   = "2097152"
  }

  external                    = true
  external_domain             = "kafka.example.com"
  load_balancer_source_ranges = ["203.0.113.0/24", "198.51.100.0/24"]
  tls_secret_name             = "events-kafka-tls"

  # A change of replicas moves partitions: onto brokers that join, off brokers that leave
  # (before they go), at most 100 MiB/s per broker.
  rebalance_on_scale = true
  rebalance_throttle = 104857600

  # Keep the data if the cluster is destroyed (the default), and refuse to destroy it at all
  # until deletion_protection is set to false.
  deletion_protection = true
  delete_volumes      = false
}

variable "events_ca_pem" {
  description = "PEM of the CA that issued the events-kafka-tls certificate."
  type        = string
}

# Topics reach the brokers through the cluster's outputs.
resource "hikube_kafka_topic" "orders" {
  name       = "orders"
  partitions = 12
  kafka = {
    bootstrap_servers = hikube_kafka_cluster.events.external_bootstrap_servers
    tls = {
      ca_cert = var.events_ca_pem
    }
    sasl = { credentials_secret = hikube_kafka_cluster.events.admin_secret }
  }
}
