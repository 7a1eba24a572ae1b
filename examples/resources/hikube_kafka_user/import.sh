# A user is imported by name and mechanism, and the password_wo_version its configuration has.
terraform import hikube_kafka_user.orders_service 'orders-service|SCRAM-SHA-512|1'
