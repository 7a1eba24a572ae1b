terraform {
  required_providers {
    hikube = {
      source = "hikube/hikube"
    }
  }
}

variable "kafka_password" {
  type      = string
  sensitive = true
}

provider "hikube" {
  # Where the ZooKeeper ensembles and Kafka clusters are installed.
  kubernetes = {
    config_path    = "~/.kube/config"
    config_context = "hikube-prod"
  }
  namespace = "kafka"

  # The default connection for topics: the cluster's SASL_SSL listener.
  kafka = {
    bootstrap_servers = ["kafka-0.example.com:9094", "kafka-1.example.com:9094", "kafka-2.example.com:9094"]
    tls = {
      ca_cert = file("${path.module}/kafka-ca.pem")
    }
    sasl = {
      mechanism = "SCRAM-SHA-512"
      username  = "platform"
      password  = var.kafka_password
    }
  }
}
