//! Moving to this provider from the one people use today, through the real terraform: 20 topics,
//! an ACL and a quota made by Mongey's provider (built by the stack from its Go module) become
//! `hikube_kafka_topic`, `hikube_kafka_acl` and `hikube_kafka_quota` through `moved` blocks. The
//! plan shows the moves and nothing else, the apply leaves every topic as it was on the brokers
//! (same topic ID, partitions and config), and the next plan is empty. A move this provider cannot
//! make is refused at plan.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use support::terraform::Workspace;
use support::{Stack, check, unique};

const TOPICS: usize = 20;

/// The topics' names, partition counts and config: a third of them with config keys.
fn topics(prefix: &str) -> String {
    (0..TOPICS)
        .map(|i| {
            let config = match i % 3 {
                0 => r#"{ "retention.ms" = "3600000", "cleanup.policy" = "delete" }"#,
                _ => "null",
            };
            format!("    \"{prefix}-{i:02}\" = {{ partitions = {}, config = {config} }}\n", 1 + i % 4)
        })
        .collect()
}

/// An ACL and a quota, the same in both providers' spelling but for the type's prefix.
fn acl_and_quota(type_prefix: &str, prefix: &str) -> String {
    format!(
        r#"
resource "{type_prefix}acl" "writer" {{
  resource_name                = "{prefix}-"
  resource_type                = "Topic"
  resource_pattern_type_filter = "Prefixed"
  acl_principal                = "User:{prefix}-writer"
  acl_host                     = "*"
  acl_operation                = "Write"
  acl_permission_type          = "Allow"
}}

resource "{type_prefix}quota" "writer" {{
  entity_name = "{prefix}-writer"
  entity_type = "user"
  config      = {{ "producer_byte_rate" = "4000000" }}
}}
"#
    )
}

fn mongey_configuration(stack: &Stack, prefix: &str) -> String {
    let servers = stack.plain_bootstrap.split(',').map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    format!(
        r#"terraform {{
  required_providers {{
    kafka = {{ source = "Mongey/kafka" }}
  }}
}}

provider "kafka" {{
  bootstrap_servers = [{servers}]
  tls_enabled       = false
}}

locals {{
  topics = {{
{topics}  }}
}}

resource "kafka_topic" "events" {{
  for_each           = local.topics
  name               = each.key
  partitions         = each.value.partitions
  replication_factor = 2
  config             = each.value.config
}}

{acl_and_quota}"#,
        topics = topics(prefix),
        acl_and_quota = acl_and_quota("kafka_", prefix)
    )
}

/// The same topics as `hikube_kafka_topic` (or, to be refused, as users), moved from Mongey's.
fn hikube_configuration(stack: &Stack, prefix: &str, target: &str) -> String {
    let servers = stack.plain_bootstrap.split(',').map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    let resource = match target {
        "hikube_kafka_topic" => "  name               = each.key\n  partitions         = each.value.partitions\n  \
                                 replication_factor = 2\n  config             = each.value.config\n"
            .to_string(),
        _ => "  name                = each.key\n  password_wo         = \"a-long-enough-password\"\n  \
              password_wo_version = 1\n"
            .to_string(),
    };
    format!(
        r#"terraform {{
  required_providers {{
    hikube = {{ source = "hikube/hikube" }}
  }}
}}

provider "hikube" {{
  kafka = {{ bootstrap_servers = [{servers}] }}
}}

locals {{
  topics = {{
{topics}  }}
}}

resource "{target}" "events" {{
  for_each = local.topics
{resource}}}

{acl_and_quota}
moved {{
  from = kafka_topic.events
  to   = {target}.events
}}

moved {{
  from = kafka_acl.writer
  to   = hikube_kafka_acl.writer
}}

moved {{
  from = kafka_quota.writer
  to   = hikube_kafka_quota.writer
}}
"#,
        topics = topics(prefix),
        acl_and_quota = acl_and_quota("hikube_kafka_", prefix)
    )
}

/// Each topic of the prefix as the brokers describe it: its ID, partition count and config.
fn described(stack: &Stack, prefix: &str) -> BTreeMap<String, String> {
    let text = check(
        stack.kafka_tool(
            "org.apache.kafka.tools.TopicCommand",
            &[
                "--bootstrap-server",
                &stack.plain_bootstrap,
                "--describe",
                "--if-exists",
                "--topic",
                &format!("{prefix}-.*"),
            ],
        ),
        "kafka-topics --describe",
    );
    text.lines()
        .filter(|line| line.starts_with("Topic:") && line.contains("TopicId:"))
        .map(|line| {
            let name = line.split_whitespace().nth(1).unwrap().to_string();
            (name, line.to_string())
        })
        .collect()
}

#[test]
fn topics_move_from_mongeys_provider_with_no_change_on_the_brokers() {
    let Some(stack) = Stack::from_env() else { return };
    let version =
        check(support::run(std::process::Command::new(&stack.terraform).args(["version", "-json"])), "version");
    let version: serde_json::Value = serde_json::from_str(&version).unwrap();
    let (major, minor) =
        match version["terraform_version"].as_str().unwrap_or_default().split('.').collect::<Vec<_>>()[..] {
            [major, minor, ..] => (major.parse::<u32>().unwrap_or(0), minor.parse::<u32>().unwrap_or(0)),
            _ => (0, 0),
        };
    if (major, minor) < (1, 8) {
        eprintln!("skipped: moves across resource types need Terraform 1.8 or later, not {version}");
        return;
    }
    let mongey = PathBuf::from(std::env::var("HIKUBE_MONGEY_PROVIDER_DIR").expect("scripts/stack env sets it"));
    assert!(mongey.join("terraform-provider-kafka").exists(), "no Mongey provider in {}", mongey.display());
    let prefix = unique("moved");
    let _topics = stack.topic_cleanup(&[&prefix]);
    let workspace = Workspace::with_providers(&stack, &[("Mongey/kafka", &mongey)]);
    workspace.write(&mongey_configuration(&stack, &prefix));
    workspace.apply();
    let before = described(&stack, &prefix);
    assert_eq!(before.len(), TOPICS, "{before:?}");

    workspace.write(&hikube_configuration(&stack, &prefix, "hikube_kafka_user"));
    let refused = workspace.expect_failure(&["plan", "-no-color", "-input=false"]);
    let refused = refused.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(refused.contains("Cannot move this resource") && refused.contains("import block"), "{refused}");

    workspace.write(&hikube_configuration(&stack, &prefix, "hikube_kafka_topic"));
    let (_, plan) = workspace.plan();
    let moves = plan.matches("has moved to hikube_kafka_topic.events[").count();
    assert_eq!(moves, TOPICS, "{plan}");
    for moved in ["kafka_acl.writer has moved to hikube_kafka_acl.writer", "kafka_quota.writer has moved to"] {
        assert!(plan.contains(moved), "{plan}");
    }
    assert!(plan.contains("Plan: 0 to add, 0 to change, 0 to destroy."), "{plan}");
    workspace.apply();
    assert_eq!(described(&stack, &prefix), before, "the brokers' topics changed");
    workspace.assert_no_changes();
    let state = workspace.state();
    let resources = state["values"]["root_module"]["resources"].as_array().unwrap();
    assert_eq!(resources.len(), TOPICS + 2);
    assert!(resources.iter().all(|r| r["type"].as_str().unwrap().starts_with("hikube_kafka_")));
    workspace.destroy();
    assert!(described(&stack, &prefix).is_empty(), "hikube_kafka_topic deletes what it took over");
}
