# A cluster the platform team runs, reached by the topics of an application's configuration.
data "hikube_kafka_cluster" "shared" {
  name      = "events"
  namespace = "kafka"
}

resource "hikube_kafka_topic" "clicks" {
  name       = "clicks"
  partitions = 6
  kafka = {
    bootstrap_servers = data.hikube_kafka_cluster.shared.bootstrap_servers
    # The admin's password is read from its Secret when the provider connects.
    sasl = { credentials_secret = data.hikube_kafka_cluster.shared.admin_secret }
    # Through the Kubernetes API server: the brokers need not be reachable from here.
    tunnel = { namespace = data.hikube_kafka_cluster.shared.namespace }
  }
}
