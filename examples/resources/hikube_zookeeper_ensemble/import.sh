# An ensemble is imported by namespace/name (its Helm release is <name>-zookeeper).
terraform import hikube_zookeeper_ensemble.events kafka/events
