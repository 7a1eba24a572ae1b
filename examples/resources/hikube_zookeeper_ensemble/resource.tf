# Three ZooKeeper members, Hikube's "small" size, 5Gi volumes.
resource "hikube_zookeeper_ensemble" "events" {
  name             = "events"
  namespace        = "kafka"
  replicas         = 3
  resources_preset = "small"
  storage_size     = "5Gi"
}
