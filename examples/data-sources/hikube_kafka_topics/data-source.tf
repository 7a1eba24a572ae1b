# Every topic of the payments domain, to grant a reader access to each.
data "hikube_kafka_topics" "payments" {
  prefix = "payments."
}

resource "hikube_kafka_acl" "auditor" {
  for_each            = toset(data.hikube_kafka_topics.payments.names)
  resource_type       = "Topic"
  resource_name       = each.value
  acl_principal       = "User:auditor"
  acl_operation       = "Read"
  acl_permission_type = "Allow"
}
