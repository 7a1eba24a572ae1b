# The orders service reads every topic whose name begins with "orders.".
resource "hikube_kafka_acl" "orders_read" {
  resource_type                = "Topic"
  resource_name                = "orders."
  resource_pattern_type_filter = "Prefixed"
  acl_principal                = "User:orders-service"
  acl_operation                = "Read"
  acl_permission_type          = "Allow"
}

# Consumers commit their offsets in their group.
resource "hikube_kafka_acl" "orders_group" {
  resource_type       = "Group"
  resource_name       = "orders-service"
  acl_principal       = "User:orders-service"
  acl_operation       = "Read"
  acl_permission_type = "Allow"
}
