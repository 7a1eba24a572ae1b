# An ACL is imported by principal|host|operation|permission|resource_type|resource_name|pattern_type,
# the ID of Mongey's kafka_acl, through the provider's Kafka connection.
terraform import hikube_kafka_acl.orders_read 'User:orders-service|*|Read|Allow|Topic|orders.|Prefixed'
