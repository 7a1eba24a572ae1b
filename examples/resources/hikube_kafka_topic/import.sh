# A topic is imported by its name, through the provider's Kafka connection.
terraform import hikube_kafka_topic.orders orders
