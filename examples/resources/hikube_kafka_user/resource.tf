variable "orders_service_password" {
  type      = string
  sensitive = true
}

# The orders service authenticates with SCRAM-SHA-512. Its password stays out of the plan and
# the state; raise password_wo_version to apply a new one.
resource "hikube_kafka_user" "orders_service" {
  name                = "orders-service"
  password_wo         = var.orders_service_password
  password_wo_version = 1
}
