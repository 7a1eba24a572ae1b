# A cluster is imported by namespace/name (its Helm release is <name>-kafka).
terraform import hikube_kafka_cluster.events kafka/events
