# The module against a real cluster: sizes per environment at plan, then a dev-sized platform
# applied, checked and destroyed. The brokers Terraform reaches come from the caller (the local
# stack's, where the cluster's own pods run no Kafka).

variables {
  name      = "tftest"
  namespace = "tftest-platform"
  topics = {
    orders        = { partitions = 3, retention_hours = 24 }
    notifications = { partitions = 1, retention_hours = 24, compacted = true }
  }
  topic_prefix        = "tftest-"
  deletion_protection = false
}

run "prod_sizes_plan_three_replicas_and_min_isr_two" {
  command = plan

  variables {
    kafka_replicas = 5
    kafka_preset   = "large"
  }

  assert {
    condition     = hikube_kafka_cluster.this.replicas == 5 && hikube_kafka_cluster.this.resources_preset == "large"
    error_message = "prod sizing must reach the cluster"
  }

  assert {
    condition     = hikube_kafka_topic.this["orders"].replication_factor == 3 && hikube_kafka_topic.this["orders"].config["min.insync.replicas"] == "2"
    error_message = "with 3 or more brokers, topics get 3 replicas and min.insync.replicas 2"
  }
}

run "dev_platform_applies" {
  command = apply

  variables {
    zookeeper_replicas = 1
    kafka_replicas     = 1
    zookeeper_preset   = "nano"
    kafka_preset       = "small"
  }

  assert {
    condition     = hikube_kafka_cluster.this.status == "deployed" && hikube_zookeeper_ensemble.this.status == "deployed"
    error_message = "both releases must be deployed"
  }

  assert {
    condition     = hikube_kafka_topic.this["notifications"].config["cleanup.policy"] == "compact" && hikube_kafka_topic.this["orders"].replication_factor == 1
    error_message = "a single broker gives topics one replica; compaction where asked"
  }
}
