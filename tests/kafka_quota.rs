//! `hikube_kafka_quota` through the real terraform CLI against the stack's brokers, each step
//! checked with the admin client: set, changed out of band and restored, a key removed,
//! imported, destroyed.

mod support;

use std::collections::BTreeMap;

use support::terraform::{Workspace, plaintext_provider};
use support::{Stack, check, unique};
use terraform_provider_hikube::kafka::{Admin, ConnectionConfig, QuotaEntity};

fn quota(user: &str, config: &[(&str, &str)]) -> String {
    let entries: Vec<String> = config.iter().map(|(k, v)| format!("    {k:?} = {v:?}")).collect();
    format!(
        "\nresource \"hikube_kafka_quota\" \"q\" {{\n  entity_type = \"user\"\n  entity_name = {user:?}\n  \
         client_id   = \"app\"\n  config = {{\n{}\n  }}\n}}\n",
        entries.join("\n")
    )
}

#[test]
fn a_quota_is_set_restored_after_drift_narrowed_imported_and_removed() {
    let Some(stack) = Stack::from_env() else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let admin = Admin::new(ConnectionConfig::plaintext(stack.plain_bootstrap.split(',')));
    let user = unique("quota-user");
    let entity: QuotaEntity =
        BTreeMap::from([("user".into(), Some(user.clone())), ("client-id".into(), Some("app".into()))]);
    let live = || runtime.block_on(admin.quotas(&entity)).unwrap();
    let provider = plaintext_provider(&stack);
    let ws = Workspace::new(&stack);
    ws.write(&format!(
        "{provider}{}",
        quota(&user, &[("producer_byte_rate", "1048576"), ("request_percentage", "25")])
    ));
    ws.apply();
    assert_eq!(live(), BTreeMap::from([("producer_byte_rate".into(), 1048576.0), ("request_percentage".into(), 25.0)]));
    assert_eq!(ws.resource("hikube_kafka_quota.q")["id"], format!("user|{user}|client-id|app").as_str());
    ws.assert_no_changes();

    // Changed out of band, and a key this configuration does not manage added beside it.
    let changed = BTreeMap::from([("producer_byte_rate".to_string(), 10.0), ("consumer_byte_rate".into(), 99.0)]);
    runtime.block_on(admin.alter_quotas(&entity, &changed, &[], false)).unwrap();
    let (code, plan) = ws.plan();
    assert!(code == 2 && plan.contains("\"producer_byte_rate\" = \"10\" -> \"1048576\""), "{plan}");
    assert!(!plan.contains("consumer_byte_rate"), "an unmanaged key is none of the plan's business:\n{plan}");
    ws.apply();
    assert_eq!(live()["producer_byte_rate"], 1048576.0);
    assert_eq!(live()["consumer_byte_rate"], 99.0, "the unmanaged key is left alone");
    ws.assert_no_changes();

    // A key removed from the configuration is removed from the entity.
    ws.write(&format!("{provider}{}", quota(&user, &[("producer_byte_rate", "1048576")])));
    ws.apply();
    assert!(!live().contains_key("request_percentage"), "{:?}", live());
    ws.assert_no_changes();

    // Another configuration is refused, then imports it.
    let other = Workspace::new(&stack);
    other.write(&format!("{provider}{}", quota(&user, &[("producer_byte_rate", "1048576")])));
    let refused = other.expect_failure(&["plan", "-no-color", "-input=false"]);
    assert!(refused.contains("Quota already set") && refused.contains("terraform import"), "{refused}");
    let id = format!("user|{user}|client-id|app");
    check(other.terraform(&["import", "-no-color", "hikube_kafka_quota.q", &id]), "terraform import");
    other.write(&format!(
        "{provider}{}",
        quota(&user, &[("producer_byte_rate", "1048576"), ("consumer_byte_rate", "99")])
    ));
    other.assert_no_changes();

    ws.destroy();
    assert_eq!(live(), BTreeMap::from([("consumer_byte_rate".into(), 99.0)]), "destroy removes its keys only");
    runtime.block_on(admin.alter_quotas(&entity, &BTreeMap::new(), &["consumer_byte_rate".into()], false)).unwrap();
}

/// The rate Kafka's own producer benchmark reached, in bytes per second, sending `records` of
/// 1 kB as client `client_id`.
fn produced_rate(stack: &Stack, topic: &str, client_id: &str, records: u32) -> f64 {
    let props = format!("bootstrap.servers={} client.id={client_id} acks=1", stack.plain_bootstrap);
    let mut args = vec!["--topic", topic, "--record-size", "1000", "--throughput", "-1", "--producer-props"];
    args.extend(props.split(' '));
    let records = records.to_string();
    args.extend(["--num-records", &records]);
    let output = check(stack.kafka_tool("org.apache.kafka.tools.ProducerPerformance", &args), "producer benchmark");
    // The summary line: "N records sent, R records/sec (M MB/sec), ...".
    let summary = output.lines().rev().find(|l| l.contains("records sent")).expect("a summary line");
    let per_second: f64 = summary.split(", ").nth(1).and_then(|f| f.split(' ').next()).unwrap().parse().unwrap();
    per_second * 1000.0
}

#[test]
fn a_client_id_quota_throttles_a_real_producer() {
    let Some(stack) = Stack::from_env() else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let admin = std::sync::Arc::new(Admin::new(ConnectionConfig::plaintext(stack.plain_bootstrap.split(','))));
    let (topic, throttled) = (unique("quota-topic"), unique("throttled"));
    let _topics = stack.topic_cleanup(&[&topic]);
    let new_topic = terraform_provider_hikube::kafka::NewTopic {
        name: topic.clone(),
        partitions: 1,
        replication_factor: 1,
        configs: BTreeMap::new(),
    };
    runtime.block_on(admin.create_topic(&new_topic, false, std::time::Duration::from_secs(60))).unwrap();
    let limit = 50_000.0;
    let ws = Workspace::new(&stack);
    ws.write(&format!(
        "{}\nresource \"hikube_kafka_quota\" \"q\" {{\n  entity_type = \"client-id\"\n  entity_name = {throttled:?}\n  \
         config = {{ \"producer_byte_rate\" = \"{limit}\" }}\n}}\n",
        plaintext_provider(&stack)
    ));
    ws.apply();
    let free = produced_rate(&stack, &topic, &unique("free"), 2000);
    // Kafka measures a rate over at least ten seconds: the first 500 kB pass unthrottled, so the
    // run must be long enough for the quota to dominate (2 MB: about 1.3 times the limit).
    let limited = produced_rate(&stack, &topic, &throttled, 2000);
    eprintln!("producer: {free:.0} B/s without a quota, {limited:.0} B/s under a {limit:.0} B/s quota");
    assert!(limited < limit * 2.0, "the quota did not throttle: {limited:.0} B/s");
    assert!(free > limit * 4.0, "the unthrottled producer is too slow to tell: {free:.0} B/s");
    ws.destroy();
    runtime.block_on(admin.delete_topic(&topic, std::time::Duration::from_secs(60))).unwrap();
}
