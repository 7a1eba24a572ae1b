# The orders service may produce 5 MB/s and consume 10 MB/s on each broker.
resource "hikube_kafka_quota" "orders_service" {
  entity_type = "user"
  entity_name = "orders-service"
  config = {
    "producer_byte_rate" = "5242880"
    "consumer_byte_rate" = "10485760"
  }
}

# Any client ID without a quota of its own gets half of one I/O thread's time.
resource "hikube_kafka_quota" "default_client" {
  entity_type = "client-id"
  config = {
    "request_percentage" = "50"
  }
}
