//! A state written by the last release that kept connection secrets in the state (commit
//! 966aec3, kept as `tests/fixtures/state-v0.tfstate`): a topic, a user, an ACL and a quota,
//! each with a `kafka` connection holding a SASL password and a TLS client key. Through the
//! real terraform, with this provider: the configuration as that release took it is refused at
//! plan; migrated to references, a destroy is refused for each resource with the way out, the plan
//! updates `kafka` alone (no refresh for these resources, with a warning saying why), the apply
//! leaves a state holding no secret, and the next plan is empty. That release's binary wrote the fixture by applying this test's first configuration
//! against the stack; the values that differ between machines (addresses, CA, credentials) and
//! the names, unique per run, became placeholders.

mod support;

use support::terraform::{Workspace, plaintext_provider};
use support::{Stack, check, unique};

const FIXTURE: &str = include_str!("fixtures/state-v0.tfstate");
const ADDRESSES: [&str; 4] =
    ["hikube_kafka_topic.orders", "hikube_kafka_user.app", "hikube_kafka_acl.app", "hikube_kafka_quota.app"];

/// The four resources; each with `kafka = local.kafka` when `connection` is set.
fn resources(topic: &str, user: &str, connection: bool) -> String {
    let kafka = if connection { "\n  kafka = local.kafka" } else { "" };
    format!(
        r#"
variable "app_password" {{
  type      = string
  sensitive = true
}}

resource "hikube_kafka_topic" "orders" {{
  name               = {topic:?}
  partitions         = 2
  replication_factor = 2{kafka}
}}

resource "hikube_kafka_user" "app" {{
  name                = {user:?}
  password_wo         = var.app_password
  password_wo_version = 1{kafka}
}}

resource "hikube_kafka_acl" "app" {{
  resource_name       = {topic:?}
  resource_type       = "Topic"
  acl_principal       = "User:{user}"
  acl_host            = "*"
  acl_operation       = "Write"
  acl_permission_type = "Allow"{kafka}
}}

resource "hikube_kafka_quota" "app" {{
  entity_type = "user"
  entity_name = {user:?}
  config      = {{ producer_byte_rate = "1048576" }}{kafka}
}}
"#
    )
}

/// The connection every resource had in the fixture's release (`password` and `client_key`
/// written in it), or has now (`password_env`, `client_key_env`).
fn connection(stack: &Stack, cert: &str, migrated: bool) -> String {
    let servers = stack.sasl_bootstrap.split(',').map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    let ca = std::fs::read_to_string(&stack.kafka_ca).unwrap();
    let (password, key) = match migrated {
        false => ("password = var.kafka_password", "client_key = var.client_key"),
        true => (r#"password_env = "HIKUBE_UPGRADE_PASSWORD""#, r#"client_key_env = "HIKUBE_UPGRADE_CLIENT_KEY""#),
    };
    format!(
        r#"terraform {{
  required_providers {{
    hikube = {{ source = "hikube/hikube" }}
  }}
}}

variable "kafka_password" {{
  type      = string
  sensitive = true
  default   = null
}}

variable "client_key" {{
  type      = string
  sensitive = true
  default   = null
}}

locals {{
  kafka = {{
    bootstrap_servers = [{servers}]
    tls = {{
      ca_cert     = {ca:?}
      client_cert = {cert:?}
      {key}
    }}
    sasl = {{
      mechanism = "SCRAM-SHA-512"
      username  = {username:?}
      {password}
    }}
  }}
}}
"#,
        username = stack.sasl_username
    )
}

/// A JSON string's content, as the state file spells it.
fn json_text(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap();
    quoted[1..quoted.len() - 1].to_string()
}

#[test]
fn a_state_that_kept_connection_secrets_upgrades_to_one_that_keeps_none() {
    let Some(stack) = Stack::from_env() else { return };
    let (topic, user) = (unique("upgrade"), unique("upgrade-user"));
    let _topics = stack.topic_cleanup(&[&topic]);
    let password = stack.sasl_password();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["terraform".to_string()]).unwrap().self_signed(&key).unwrap().pem();
    let client_key = key.serialize_pem();
    let app_password = unique("app-password");

    // The objects the fixture describes, made by this provider and then forgotten by it.
    let maker = Workspace::new(&stack).env("TF_VAR_app_password", &app_password);
    maker.write(&format!("{}{}", plaintext_provider(&stack), resources(&topic, &user, false)));
    maker.apply();
    for address in ADDRESSES {
        check(maker.terraform(&["state", "rm", address]), "terraform state rm");
    }

    let workspace = Workspace::new(&stack)
        .env("TF_VAR_app_password", &app_password)
        .env("TF_VAR_kafka_password", &password)
        .env("TF_VAR_client_key", &client_key)
        .env("HIKUBE_UPGRADE_PASSWORD", &password)
        .env("HIKUBE_UPGRADE_CLIENT_KEY", &client_key);
    let servers = stack.sasl_bootstrap.split(',').map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(",");
    let ca = std::fs::read_to_string(&stack.kafka_ca).unwrap();
    let state = [
        ("@TOPIC@", topic.clone()),
        ("@USER@", user.clone()),
        ("\"@BOOTSTRAP_SERVERS@\"", servers),
        ("@CA@", json_text(&ca)),
        ("@CLIENT_CERT@", json_text(&cert)),
        ("@CLIENT_KEY@", json_text(&client_key)),
        ("@USERNAME@", json_text(&stack.sasl_username)),
        ("@PASSWORD@", json_text(&password)),
    ]
    .iter()
    .fold(FIXTURE.to_string(), |state, (placeholder, value)| state.replace(placeholder, value));
    assert!(!state.contains('@'), "a placeholder left in the fixture");
    let state_file = workspace.path().join("terraform.tfstate");
    std::fs::write(&state_file, &state).unwrap();

    workspace.write(&format!("{}{}", connection(&stack, &cert, false), resources(&topic, &user, true)));
    let refused = workspace.expect_failure(&["plan", "-no-color", "-input=false"]);
    let refused = refused.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(refused.contains("Secret would be kept in the state"), "{refused}");
    assert!(refused.contains("password_env") && refused.contains("client_key_env"), "{refused}");

    workspace.write(&format!("{}{}", connection(&stack, &cert, true), resources(&topic, &user, true)));
    // Before an apply records where the credentials come from, nothing can sign in to delete.
    let destroy = workspace.expect_failure(&["destroy", "-auto-approve", "-no-color", "-input=false"]);
    let destroy = destroy.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(destroy.matches("Error: Connection credentials no longer in the state").count(), 4, "{destroy}");
    let plan = workspace.plan_with_changes();
    let plan = plan.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(plan.contains("Plan: 0 to add, 4 to change, 0 to destroy."), "{plan}");
    assert!(plan.contains("Not refreshed: connection credentials no longer in the state"), "{plan}");
    assert!(plan.contains(r#"+ password_env = "HIKUBE_UPGRADE_PASSWORD""#), "{plan}");
    workspace.apply();

    let state = std::fs::read_to_string(&state_file).unwrap();
    assert!(!state.contains(&password), "the SASL password is still in the state");
    for line in client_key.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!state.contains(line), "the client key is still in the state");
    }
    let written: serde_json::Value = serde_json::from_str(&state).unwrap();
    for resource in written["resources"].as_array().unwrap() {
        assert_eq!(resource["instances"][0]["schema_version"], 1, "{}", resource["type"]);
    }
    workspace.assert_no_changes();
    let described = check(
        stack.kafka_tool(
            "org.apache.kafka.tools.TopicCommand",
            &["--bootstrap-server", &stack.plain_bootstrap, "--describe", "--topic", &topic],
        ),
        "kafka-topics --describe",
    );
    assert!(described.contains("PartitionCount: 2"), "{described}");
    workspace.destroy();
}
