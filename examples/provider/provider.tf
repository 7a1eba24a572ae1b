terraform {
  required_providers {
    hikube = {
      source = "hikube/hikube"
    }
  }
}

provider "hikube" {
  # Where the ZooKeeper ensembles and Kafka clusters are installed.
  kubernetes = {
    config_path    = "~/.kube/config"
    config_context = "hikube-prod"
  }
  namespace = "kafka"

  # The default connection for topics: the cluster "events" of this namespace, reached through
  # the Kubernetes API server (Terraform needs no route to the brokers, only kube credentials),
  # signed in as its admin with the credentials of the Secret the provider made for it.
  kafka = {
    bootstrap_servers = ["events-kafka-bootstrap.kafka.svc.cluster.local:9092"]
    sasl              = { credentials_secret = "events-kafka-admin" }
    tunnel            = {}
  }
}
