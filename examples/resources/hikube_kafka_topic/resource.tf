# An event stream kept for a week.
resource "hikube_kafka_topic" "orders" {
  name               = "orders"
  partitions         = 12
  replication_factor = 3
  config = {
    "cleanup.policy"      = "delete"
    "retention.ms"        = "604800000"
    "min.insync.replicas" = "2"
  }
}

# A compacted topic holding the latest state per key.
resource "hikube_kafka_topic" "customer_profiles" {
  name               = "customer-profiles"
  partitions         = 6
  replication_factor = 3
  config = {
    "cleanup.policy"        = "compact"
    "min.compaction.lag.ms" = "3600000"
  }
}
