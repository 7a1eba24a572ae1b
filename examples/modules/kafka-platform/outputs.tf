output "zookeeper_connect" {
  description = "The ensemble's connect string."
  value       = hikube_zookeeper_ensemble.this.connect_string
}

output "bootstrap_servers" {
  description = "In-cluster bootstrap address of the brokers."
  value       = hikube_kafka_cluster.this.bootstrap_servers
}

output "topics" {
  description = "Topic names by key."
  value       = { for key, topic in hikube_kafka_topic.this : key => topic.name }
}

output "admin_secret" {
  description = "`namespace/name` of the Secret with the cluster admin's credentials."
  value       = hikube_kafka_cluster.this.admin_secret
}
