//! `hikube_kafka_user` through the real terraform CLI against the stack's brokers: the user is
//! checked by authenticating as it, and its write-only password by looking for it everywhere
//! Terraform writes.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::terraform::{Workspace, plaintext_provider};
use support::{Stack, check, unique};
use terraform_provider_hikube::kafka::{Admin, ConnectionConfig, Error, SaslConfig, SaslMechanism, Secret, TlsConfig};

fn user(name: &str, version: u32) -> String {
    format!(
        "\nvariable \"password\" {{\n  type      = string\n  sensitive = true\n}}\n\n\
         resource \"hikube_kafka_user\" \"u\" {{\n  name                = {name:?}\n  \
         password_wo         = var.password\n  password_wo_version = {version}\n}}\n"
    )
}

/// Whether the user gets in with this password, once the brokers agree: they learn of a
/// credential change from ZooKeeper, moments after it is made.
fn authenticates(stack: &Stack, name: &str, password: &str, expected: bool) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut config = ConnectionConfig::plaintext(stack.sasl_bootstrap.split(','));
    config.tls =
        Some(TlsConfig { ca_pem: Some(std::fs::read_to_string(&stack.kafka_ca).unwrap()), ..Default::default() });
    config.sasl = Some(SaslConfig {
        mechanism: SaslMechanism::ScramSha512,
        username: name.into(),
        password: Secret::new(password),
    });
    config.request_timeout = Duration::from_secs(10);
    for _ in 0..100 {
        // A new client each time: a connection that got in stays in.
        let client = Arc::new(Admin::new(config.clone()));
        match runtime.block_on(client.brokers()) {
            Ok(_) if expected => return,
            Err(Error::Authentication(_)) if !expected => return,
            Ok(_) | Err(Error::Authentication(_)) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => panic!("connecting as {name}: {e}"),
        }
    }
    panic!("{name} {} with that password after 20 s", if expected { "still cannot get in" } else { "still gets in" });
}

#[test]
fn a_user_gets_in_with_its_write_only_password_which_terraform_keeps_nowhere() {
    let Some(stack) = Stack::from_env() else { return };
    let name = unique("tf-user");
    let (first, second) = (unique("first-password"), unique("second-password"));
    let provider = plaintext_provider(&stack);
    let ws = Workspace::new(&stack).env("TF_VAR_password", &first);
    ws.write(&format!("{provider}{}", user(&name, 1)));
    let log = ws.clone_with_env("TF_LOG", "trace").apply_logged();
    authenticates(&stack, &name, &first, true);
    assert_eq!(ws.resource("hikube_kafka_user.u")["id"], format!("{name}|SCRAM-SHA-512").as_str());
    assert_eq!(ws.resource("hikube_kafka_user.u")["iterations"], 8192);
    ws.assert_no_changes();
    check(ws.terraform(&["plan", "-out=tfplan", "-no-color", "-input=false"]), "terraform plan -out");
    let plan: serde_json::Value =
        serde_json::from_str(&check(ws.terraform(&["show", "-json", "tfplan"]), "terraform show -json tfplan"))
            .unwrap();
    // A saved plan holds the input variables' values, as Terraform keeps them: the resource's
    // planned values and changes are what the provider answered.
    let planned = format!("{}{}{}", plan["planned_values"], plan["resource_changes"], plan["prior_state"]);
    let state = std::fs::read_to_string(ws.path().join("terraform.tfstate")).unwrap();
    for (place, text) in [("the state", &state), ("the plan's values", &planned), ("the trace log", &log)] {
        assert!(!text.contains(&first), "the password is in {place}");
    }

    // A new password applies when its version goes up.
    let ws = ws.env("TF_VAR_password", &second);
    ws.write(&format!("{provider}{}", user(&name, 2)));
    let (code, plan) = ws.plan();
    assert!(code == 2 && plan.contains("password_wo_version = 1 -> 2"), "{plan}");
    ws.apply();
    authenticates(&stack, &name, &second, true);
    authenticates(&stack, &name, &first, false);
    ws.assert_no_changes();

    // Deleted out of band: the plan creates it again, with the configured password.
    let admin = Admin::new(ConnectionConfig::plaintext(stack.plain_bootstrap.split(',')));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(admin.delete_scram_credential(&name, SaslMechanism::ScramSha512)).unwrap();
    let (code, plan) = ws.plan();
    assert!(code == 2 && plan.contains("hikube_kafka_user.u will be created"), "{plan}");
    ws.apply();
    authenticates(&stack, &name, &second, true);

    // Another configuration is refused, then imports it with its version: an empty plan.
    let other = Workspace::new(&stack).env("TF_VAR_password", &second);
    other.write(&format!("{provider}{}", user(&name, 2)));
    let refused = other.expect_failure(&["plan", "-no-color", "-input=false"]);
    assert!(refused.contains("User already exists") && refused.contains("terraform import"), "{refused}");
    let id = format!("{name}|SCRAM-SHA-512|2");
    check(other.terraform(&["import", "-no-color", "-input=false", "hikube_kafka_user.u", &id]), "terraform import");
    other.assert_no_changes();

    ws.destroy();
    authenticates(&stack, &name, &second, false);
}
