# A topic another team manages, read to size this service's consumers.
data "hikube_kafka_topic" "orders" {
  name = "orders"
}

output "orders_partitions" {
  value = data.hikube_kafka_topic.orders.partitions
}
