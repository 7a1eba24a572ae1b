# A quota is imported by its entity: `type|name` pairs, `<default>` for a type's default entity.
terraform import hikube_kafka_quota.orders_service 'user|orders-service'
terraform import hikube_kafka_quota.default_client 'client-id|<default>'
