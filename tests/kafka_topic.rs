//! `hikube_kafka_topic` through the real terraform CLI against the stack's real brokers, each
//! step checked with Kafka's own tools.

mod support;

use std::collections::BTreeMap;

use support::terraform::{Workspace, plaintext_provider};
use support::{Stack, check, unique};

/// A topic as Kafka's own `kafka-topics --describe` reports it.
#[derive(Debug, PartialEq)]
struct Described {
    partitions: usize,
    replication_factor: usize,
    configs: BTreeMap<String, String>,
}

fn describe_on_broker(stack: &Stack, topic: &str) -> Option<Described> {
    let output = stack.kafka_tool(
        "org.apache.kafka.tools.TopicCommand",
        &["--bootstrap-server", &stack.plain_bootstrap, "--describe", "--topic", topic],
    );
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let header = text.lines().find(|l| l.contains("PartitionCount:"))?;
    let field = |name: &str| header.split('\t').find_map(|f| f.trim().strip_prefix(name)).map(|v| v.trim().to_string());
    // The tool joins `key=value` pairs with commas, and list values contain commas too.
    let mut configs: BTreeMap<String, String> = BTreeMap::new();
    let mut last_key = None;
    for part in field("Configs:").unwrap_or_default().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((k, v)) => {
                configs.insert(k.to_string(), v.to_string());
                last_key = Some(k.to_string());
            }
            None => {
                let key = last_key.clone().expect("a value continues a key");
                configs.get_mut(&key).unwrap().push_str(&format!(",{part}"));
            }
        }
    }
    Some(Described {
        partitions: field("PartitionCount:")?.parse().ok()?,
        replication_factor: field("ReplicationFactor:")?.parse().ok()?,
        configs,
    })
}

fn alter_on_broker(stack: &Stack, topic: &str, args: &[&str]) {
    let mut all = vec![
        "--bootstrap-server",
        stack.plain_bootstrap.as_str(),
        "--alter",
        "--entity-type",
        "topics",
        "--entity-name",
        topic,
    ];
    all.extend_from_slice(args);
    check(stack.kafka_tool("kafka.admin.ConfigCommand", &all), "kafka-configs --alter");
}

fn delete_on_broker(stack: &Stack, topic: &str) {
    check(
        stack.kafka_tool(
            "org.apache.kafka.tools.TopicCommand",
            &["--bootstrap-server", &stack.plain_bootstrap, "--delete", "--topic", topic],
        ),
        "delete topic out of band",
    );
}

/// The plan output once it contains `expected`, or the last one after five seconds: a deletion
/// takes the controller a moment to show in metadata.
fn plan_showing(ws: &Workspace, expected: &str) -> String {
    let mut plan = ws.plan().1;
    for _ in 0..20 {
        if plan.contains(expected) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        plan = ws.plan().1;
    }
    plan
}

fn sasl_provider(stack: &Stack) -> String {
    let servers: Vec<String> = stack.sasl_bootstrap.split(',').map(|s| format!("{s:?}")).collect();
    format!(
        "terraform {{\n  required_providers {{\n    hikube = {{ source = \"hikube/hikube\" }}\n  }}\n}}\n\n\
         variable \"kafka_password\" {{\n  type      = string\n  sensitive = true\n}}\n\n\
         provider \"hikube\" {{\n  kafka = {{\n    bootstrap_servers = [{}]\n    tls = {{ ca_cert = file({:?}) }}\n    \
         sasl = {{\n      mechanism = \"SCRAM-SHA-512\"\n      username  = {:?}\n      password  = var.kafka_password\n    }}\n  }}\n}}\n",
        servers.join(", "),
        stack.kafka_ca.display().to_string(),
        stack.sasl_username
    )
}

fn topic(name: &str, partitions: u32, replication_factor: Option<u32>, config: &[(&str, &str)]) -> String {
    let rf = replication_factor.map(|rf| format!("  replication_factor = {rf}\n")).unwrap_or_default();
    let config = if config.is_empty() {
        String::new()
    } else {
        let entries: Vec<String> = config.iter().map(|(k, v)| format!("    {k:?} = {v:?}")).collect();
        format!("  config = {{\n{}\n  }}\n", entries.join("\n"))
    };
    format!(
        "\nresource \"hikube_kafka_topic\" \"t\" {{\n  name       = {name:?}\n  partitions = {partitions}\n{rf}{config}}}\n"
    )
}

fn configs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The lifecycle of the issue: create, raise partitions, change config, remove a key, raise the
/// replication factor, import and verify, drift detected and corrected, destroy.
fn lifecycle(stack: &Stack, ws: &Workspace, provider: &str, name: &str) {
    ws.write(&format!("{provider}{}", topic(name, 2, Some(1), &[("cleanup.policy", "compact")])));
    ws.apply();
    assert_eq!(
        describe_on_broker(stack, name),
        Some(Described { partitions: 2, replication_factor: 1, configs: configs(&[("cleanup.policy", "compact")]) })
    );
    ws.assert_no_changes();

    ws.write(&format!(
        "{provider}{}",
        topic(name, 4, Some(1), &[("cleanup.policy", "compact, delete"), ("retention.ms", "86400000")])
    ));
    let (code, plan) = ws.plan();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.contains("update in-place") && !plan.contains("must be replaced"), "{plan}");
    ws.apply();
    let described = describe_on_broker(stack, name).unwrap();
    assert_eq!(described.partitions, 4);
    assert_eq!(described.configs, configs(&[("cleanup.policy", "compact,delete"), ("retention.ms", "86400000")]));
    ws.assert_no_changes();

    ws.write(&format!("{provider}{}", topic(name, 4, Some(1), &[("retention.ms", "86400000")])));
    ws.apply();
    assert_eq!(
        describe_on_broker(stack, name).unwrap().configs,
        configs(&[("retention.ms", "86400000")]),
        "removed key is no longer overridden"
    );
    ws.assert_no_changes();

    ws.write(&format!("{provider}{}", topic(name, 4, Some(3), &[("retention.ms", "86400000")])));
    ws.apply();
    assert_eq!(describe_on_broker(stack, name).unwrap().replication_factor, 3);
    ws.assert_no_changes();

    alter_on_broker(stack, name, &["--add-config", "retention.ms=1000"]);
    let (code, plan) = ws.plan();
    assert_eq!(code, 2, "out-of-band change must show:\n{plan}");
    assert!(plan.contains("\"retention.ms\"") && plan.contains("\"1000\" -> \"86400000\""), "{plan}");
    ws.apply();
    assert_eq!(describe_on_broker(stack, name).unwrap().configs, configs(&[("retention.ms", "86400000")]));
    ws.assert_no_changes();

    ws.destroy();
    assert_eq!(describe_on_broker(stack, name), None, "destroy removes the topic from the brokers");
}

#[test]
fn lifecycle_over_plaintext() {
    let Some(stack) = Stack::from_env() else { return };
    let ws = Workspace::new(&stack);
    let name = unique("tf-plain");
    let _topics = stack.topic_cleanup(&[&name]);
    lifecycle(&stack, &ws, &plaintext_provider(&stack), &name);
}

#[test]
fn lifecycle_over_sasl_ssl() {
    let Some(stack) = Stack::from_env() else { return };
    let ws = Workspace::new(&stack).env("TF_VAR_kafka_password", &stack.sasl_password());
    let name = unique("tf-sasl");
    let _topics = stack.topic_cleanup(&[&name]);
    lifecycle(&stack, &ws, &sasl_provider(&stack), &name);
    let state = std::fs::read_to_string(ws.path().join("terraform.tfstate")).unwrap_or_default();
    assert!(!state.contains(&stack.sasl_password()), "the SASL password never reaches the state");
}

#[test]
fn import_with_the_cli_and_with_an_import_block_then_no_diff() {
    let Some(stack) = Stack::from_env() else { return };
    let provider = plaintext_provider(&stack);
    let name = unique("tf-import");
    let _topics = stack.topic_cleanup(&[&name]);
    let creator = Workspace::new(&stack);
    creator.write(&format!(
        "{provider}{}",
        topic(&name, 3, Some(2), &[("cleanup.policy", "compact"), ("segment.ms", "3600000")])
    ));
    creator.apply();

    let cli = Workspace::new(&stack);
    cli.write(&format!(
        "{provider}{}",
        topic(&name, 3, Some(2), &[("cleanup.policy", "compact"), ("segment.ms", "3600000")])
    ));
    check(cli.terraform(&["import", "-no-color", "hikube_kafka_topic.t", &name]), "terraform import");
    let imported = cli.resource("hikube_kafka_topic.t");
    assert_eq!(imported["partitions"], 3);
    assert_eq!(imported["replication_factor"], 2);
    assert_eq!(imported["config"]["segment.ms"], "3600000");
    cli.assert_no_changes();

    let block = Workspace::new(&stack);
    block.write(&format!(
        "{provider}{}\nimport {{\n  to = hikube_kafka_topic.t\n  id = {name:?}\n}}\n",
        topic(&name, 3, Some(2), &[("cleanup.policy", "compact"), ("segment.ms", "3600000")])
    ));
    let (_, plan) = block.plan();
    assert!(plan.contains("1 to import, 0 to add, 0 to change, 0 to destroy"), "{plan}");
    creator.destroy();
}

#[test]
fn topic_deleted_out_of_band_is_recreated() {
    let Some(stack) = Stack::from_env() else { return };
    let ws = Workspace::new(&stack);
    let name = unique("tf-recreate");
    let _topics = stack.topic_cleanup(&[&name]);
    ws.write(&format!("{}{}", plaintext_provider(&stack), topic(&name, 1, Some(1), &[])));
    ws.apply();
    delete_on_broker(&stack, &name);
    let plan = plan_showing(&ws, "1 to add");
    assert!(plan.contains("will be created") && plan.contains("1 to add"), "{plan}");
    ws.apply();
    assert!(describe_on_broker(&stack, &name).is_some());
    ws.destroy();
}

#[test]
fn partition_decrease_is_refused_unless_replacement_is_opted_into() {
    let Some(stack) = Stack::from_env() else { return };
    let provider = plaintext_provider(&stack);
    let ws = Workspace::new(&stack);
    let name = unique("tf-decrease");
    let _topics = stack.topic_cleanup(&[&name]);
    ws.write(&format!("{provider}{}", topic(&name, 4, Some(1), &[])));
    ws.apply();
    ws.write(&format!("{provider}{}", topic(&name, 2, Some(1), &[])));
    let refused = ws.expect_failure(&["plan", "-no-color"]);
    assert!(
        refused.contains("Kafka cannot remove partitions") && refused.contains("replace_on_partition_decrease"),
        "{refused}"
    );
    assert!(refused.contains("partitions"), "{refused}");
    assert_eq!(describe_on_broker(&stack, &name).unwrap().partitions, 4, "nothing changed on the cluster");
    let opted_in = format!("{provider}{}", topic(&name, 2, Some(1), &[]))
        .replace("partitions = 2\n", "partitions = 2\n  replace_on_partition_decrease = true\n");
    ws.write(&opted_in);
    let (code, plan) = ws.plan();
    assert_eq!(code, 2);
    assert!(plan.contains("must be replaced") && plan.contains("forces replacement"), "{plan}");
    ws.apply();
    assert_eq!(describe_on_broker(&stack, &name).unwrap().partitions, 2);
    ws.destroy();
}

#[test]
fn refusals_name_the_attribute_and_leave_the_cluster_alone() {
    let Some(stack) = Stack::from_env() else { return };
    let provider = plaintext_provider(&stack);
    let ws = Workspace::new(&stack);
    let cases: Vec<(String, &str, &str)> = vec![
        (topic(&unique("tf-rf"), 1, Some(5), &[]), "Replication factor above the broker count", "replication_factor"),
        (topic("bad name!", 1, None, &[]), "Invalid topic name", "name"),
        (topic(&unique("tf-key"), 1, None, &[("retention.msec", "1")]), "Did you mean \\\"retention.ms\\\"", "config"),
        (
            topic(&unique("tf-value"), 1, None, &[("retention.ms", "a week")]),
            "retention.ms must be an integer",
            "config",
        ),
        (topic(&unique("tf-zero"), 0, None, &[]), "Invalid partition count", "partitions"),
    ];
    for (resource, message, attribute) in cases {
        ws.write(&format!("{provider}{resource}"));
        let text = ws.expect_failure(&["plan", "-no-color"]);
        assert!(text.replace('\n', " ").contains(&message.replace("\\\"", "\"")), "expected {message:?}:\n{text}");
        assert!(
            text.contains(&"with hikube_kafka_topic.t,".to_string()) && text.contains(attribute),
            "attribute {attribute}:\n{text}"
        );
    }
    let listed = check(
        stack.kafka_tool(
            "org.apache.kafka.tools.TopicCommand",
            &["--bootstrap-server", &stack.plain_bootstrap, "--list"],
        ),
        "list topics",
    );
    assert!(
        !listed.lines().any(|l| l.starts_with("tf-rf-") || l.starts_with("tf-key-") || l.starts_with("tf-value-")),
        "{listed}"
    );
}

/// A replication-factor change that outlasts the timeout: the apply says so and records the
/// real replication factor; the next apply waits for the same reassignment instead of
/// starting another, and no message is lost.
#[test]
fn a_slow_reassignment_is_awaited_by_the_next_apply() {
    let Some(stack) = Stack::from_env() else { return };
    let provider = plaintext_provider(&stack);
    let name = unique("tf-slow-rf");
    let _topics = stack.topic_cleanup(&[&name]);
    let ws = Workspace::new(&stack);
    ws.write(&format!("{provider}{}", topic(&name, 1, Some(1), &[])));
    ws.apply();
    let records = "20000";
    check(
        stack.kafka_tool(
            "org.apache.kafka.tools.ProducerPerformance",
            &[
                "--topic",
                &name,
                "--num-records",
                records,
                "--record-size",
                "1000",
                "--throughput",
                "-1",
                "--producer-props",
                &format!("bootstrap.servers={}", stack.plain_bootstrap),
                "acks=all",
            ],
        ),
        "produce 20 MB",
    );
    // Throttle this topic's replication to 1 MB/s so that copying 20 MB takes a while.
    check(
        stack.kafka_tool(
            "kafka.admin.ConfigCommand",
            &[
                "--bootstrap-server",
                &stack.plain_bootstrap,
                "--alter",
                "--entity-type",
                "brokers",
                "--entity-default",
                "--add-config",
                "leader.replication.throttled.rate=1000000,follower.replication.throttled.rate=1000000",
            ],
        ),
        "broker throttle",
    );
    alter_on_broker(
        &stack,
        &name,
        &["--add-config", "leader.replication.throttled.replicas=*,follower.replication.throttled.replicas=*"],
    );

    ws.write(
        &format!("{provider}{}", topic(&name, 1, Some(3), &[]))
            .replace("partitions = 1\n", "partitions = 1\n  timeout = \"3s\"\n"),
    );
    let text = ws.expect_failure(&["apply", "-auto-approve", "-no-color"]);
    assert!(text.contains("still running") && text.contains("apply"), "{text}");
    assert_eq!(
        ws.resource("hikube_kafka_topic.t")["replication_factor"],
        1,
        "state records the real replication factor"
    );
    let (code, plan) = ws.plan();
    assert_eq!(code, 2, "the change is still pending:\n{plan}");

    ws.write(&format!("{provider}{}", topic(&name, 1, Some(3), &[])));
    let resumed = ws.clone_with_env("TF_LOG_PROVIDER", "INFO").apply_logged();
    assert!(resumed.contains("waiting for a reassignment already under way"), "the next apply resumed:\n{resumed}");
    assert!(!resumed.contains("starting partition reassignment"), "no second reassignment:\n{resumed}");
    assert_eq!(describe_on_broker(&stack, &name).unwrap().replication_factor, 3);
    ws.assert_no_changes();
    check(
        stack.kafka_tool(
            "kafka.admin.ConfigCommand",
            &[
                "--bootstrap-server",
                &stack.plain_bootstrap,
                "--alter",
                "--entity-type",
                "brokers",
                "--entity-default",
                "--delete-config",
                "leader.replication.throttled.rate,follower.replication.throttled.rate",
            ],
        ),
        "remove broker throttle",
    );
    let consumed = check(
        stack.kafka_tool(
            "org.apache.kafka.tools.GetOffsetShell",
            &["--bootstrap-server", &stack.plain_bootstrap, "--topic", &name],
        ),
        "offsets",
    );
    assert_eq!(consumed.trim(), format!("{name}:0:{records}"), "every record is still there");
    ws.destroy();
}

#[test]
fn a_name_colliding_with_an_existing_topic_in_metrics_is_refused_at_plan() {
    let Some(stack) = Stack::from_env() else { return };
    let provider = plaintext_provider(&stack);
    let base = unique("tf.collide");
    let _topics = stack.topic_cleanup(&[&base]);
    let existing = Workspace::new(&stack);
    existing.write(&format!("{provider}{}", topic(&base, 1, Some(1), &[])));
    let applied = existing.apply();
    assert!(applied.contains("Warning: Topic name with '.' or '_'"), "{applied}");
    let clash = Workspace::new(&stack);
    clash.write(&format!("{provider}{}", topic(&base.replace('.', "_"), 1, Some(1), &[])));
    let text = clash.expect_failure(&["plan", "-no-color"]);
    assert!(text.contains("The cluster refuses this topic") && text.contains("collides"), "{text}");
    assert!(text.contains("with hikube_kafka_topic.t") && text.contains("name"), "{text}");
    existing.destroy();
}

#[test]
fn connection_problems_are_reported_at_plan() {
    let Some(stack) = Stack::from_env() else { return };
    let name = unique("tf-conn");
    let _topics = stack.topic_cleanup(&[&name]);
    let ws = Workspace::new(&stack).env("TF_VAR_kafka_password", "wrong-password");
    ws.write(&format!("{}{}", sasl_provider(&stack), topic(&name, 1, None, &[])));
    let text = ws.expect_failure(&["plan", "-no-color"]);
    assert!(text.contains("SASL authentication failed") && text.contains("password"), "{text}");

    let unreachable = plaintext_provider(&stack)
        .replace(&stack.plain_bootstrap.split(',').next().unwrap().to_string(), "127.0.0.1:1");
    let unreachable = unreachable.replace(&format!(", {:?}", stack.plain_bootstrap.split(',').nth(1).unwrap()), "");
    let unreachable = unreachable.replace(&format!(", {:?}", stack.plain_bootstrap.split(',').nth(2).unwrap()), "");
    let ws = Workspace::new(&stack);
    ws.write(&format!("{unreachable}{}", topic(&name, 1, None, &[])));
    let text = ws.expect_failure(&["plan", "-no-color"]);
    assert!(text.contains("Cannot reach Kafka") && text.contains("127.0.0.1:1"), "{text}");
}

#[test]
fn unknown_connection_plans_without_contacting_the_cluster() {
    let Some(stack) = Stack::from_env() else { return };
    let name = unique("tf-later");
    let _topics = stack.topic_cleanup(&[&name]);
    let servers: Vec<String> = stack.plain_bootstrap.split(',').map(|s| format!("{s:?}")).collect();
    let ws = Workspace::new(&stack);
    ws.write(&format!(
        "terraform {{\n  required_providers {{\n    hikube = {{ source = \"hikube/hikube\" }}\n  }}\n}}\n\n\
         resource \"terraform_data\" \"cluster\" {{\n  input = [{}]\n}}\n\n\
         resource \"hikube_kafka_topic\" \"t\" {{\n  name = {name:?}\n  partitions = 2\n  kafka = {{\n    bootstrap_servers = terraform_data.cluster.output\n  }}\n}}\n",
        servers.join(", ")
    ));
    let (code, plan) = ws.plan();
    assert_eq!(code, 2, "{plan}");
    ws.apply();
    assert_eq!(describe_on_broker(&stack, &name).unwrap().partitions, 2);
    ws.assert_no_changes();
    ws.destroy();
}

/// A refresh of many topics answers most reads from one description of the whole cluster (see
/// `kafka::read_ahead`); out-of-band changes and deletions must show exactly as when every topic
/// is read on its own. The read-ahead waits until the cluster has at most 8 topics per topic read,
/// so this expects the stack to hold fewer than 1200 (a benchmark's thousands would stop it).
#[test]
fn a_large_refresh_reads_ahead_and_still_sees_every_drift() {
    const COUNT: usize = 150;
    let Some(stack) = Stack::from_env() else { return };
    let ws = Workspace::new(&stack).env("TF_LOG_PROVIDER", "debug");
    let prefix = unique("tf-readahead");
    let _topics = stack.topic_cleanup(&[&prefix]);
    ws.write(&format!(
        "{}\nresource \"hikube_kafka_topic\" \"t\" {{\n  count      = {COUNT}\n  name       = format(\"{prefix}-%03d\", count.index)\n  \
         partitions = 1\n  config     = {{ \"retention.ms\" = \"86400000\" }}\n}}\n",
        plaintext_provider(&stack)
    ));
    ws.apply();
    let (code, plan) = ws.plan();
    assert_eq!(code, 0, "{plan}");
    assert!(
        plan.contains("read-ahead: described the cluster"),
        "no read-ahead in a refresh of {COUNT} topics:\n{plan}"
    );

    // Spread over the count, so that some are surely read after the snapshot was taken.
    let altered = [0, 70, 100, 130, COUNT - 1];
    for index in altered {
        alter_on_broker(&stack, &format!("{prefix}-{index:03}"), &["--add-config", "retention.ms=3600000"]);
    }
    delete_on_broker(&stack, &format!("{prefix}-110"));
    let expected = format!("1 to add, {} to change, 0 to destroy", altered.len());
    let plan = plan_showing(&ws, &expected);
    assert!(plan.contains(&expected) && plan.contains("read-ahead: described the cluster"), "{plan}");
    for index in altered {
        let address = format!("hikube_kafka_topic.t[{index}]");
        assert!(plan.contains(&format!("{address} will be updated in-place")), "{address} not updated:\n{plan}");
    }
    assert!(plan.contains("hikube_kafka_topic.t[110] will be created"), "{plan}");

    ws.apply();
    ws.assert_no_changes();
    ws.destroy();
}

#[test]
fn data_sources_read_a_topic_and_list_topics_by_prefix() {
    let Some(stack) = Stack::from_env() else { return };
    let provider = plaintext_provider(&stack);
    let prefix = unique("tf-data");
    let _topics = stack.topic_cleanup(&[&prefix]);
    let (first, second) = (format!("{prefix}.a"), format!("{prefix}.b"));
    let creator = Workspace::new(&stack);
    creator.write(&format!(
        "{provider}{}{}",
        topic(&first, 3, Some(2), &[("retention.ms", "3600000")]).replace("\"t\"", "\"a\""),
        topic(&second, 1, Some(1), &[]).replace("\"t\"", "\"b\"")
    ));
    creator.apply();
    let reader = Workspace::new(&stack);
    reader.write(&format!(
        "{provider}\ndata \"hikube_kafka_topic\" \"a\" {{\n  name = {first:?}\n}}\n\n\
         data \"hikube_kafka_topics\" \"all\" {{\n  prefix = \"{prefix}.\"\n}}\n\n\
         output \"a\" {{\n  value = data.hikube_kafka_topic.a\n}}\n\n\
         output \"names\" {{\n  value = data.hikube_kafka_topics.all.names\n}}\n"
    ));
    reader.apply();
    let a: serde_json::Value =
        serde_json::from_str(&check(reader.terraform(&["output", "-json", "a"]), "terraform output a")).unwrap();
    assert_eq!((a["partitions"].as_i64(), a["replication_factor"].as_i64()), (Some(3), Some(2)));
    assert_eq!(a["config"], serde_json::json!({"retention.ms": "3600000"}));
    let names = check(reader.terraform(&["output", "-json", "names"]), "terraform output names");
    assert_eq!(serde_json::from_str::<Vec<String>>(&names).unwrap(), vec![first.clone(), second]);
    let missing = Workspace::new(&stack);
    missing.write(&format!("{provider}\ndata \"hikube_kafka_topic\" \"x\" {{\n  name = \"{prefix}.none\"\n}}\n"));
    let refused = missing.expect_failure(&["plan", "-no-color", "-input=false"]);
    assert!(refused.contains("Topic not found"), "{refused}");
    creator.destroy();
}
