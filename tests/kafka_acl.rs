//! `hikube_kafka_acl` through the real terraform CLI against the stack's brokers, whose
//! authorizer denies every principal but the stack's own what no ACL allows: what an ACL grants
//! is checked by connecting as the user it names.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use support::terraform::{Workspace, plaintext_provider};
use support::{Stack, check, unique};
use terraform_provider_hikube::kafka::{
    AclBinding, AclFilter, AclOperation, AclPatternType, AclPermission, AclResourceType, Admin, ConnectionConfig,
    NewTopic, SaslConfig, SaslMechanism, Secret, TlsConfig,
};

const BUDGET: Duration = Duration::from_secs(60);

fn acl(label: &str, resource_name: &str, pattern: &str, principal: &str) -> String {
    format!(
        "\nresource \"hikube_kafka_acl\" {label:?} {{\n  resource_type                = \"Topic\"\n  \
         resource_name                = {resource_name:?}\n  resource_pattern_type_filter = {pattern:?}\n  \
         acl_principal                = {principal:?}\n  acl_operation                = \"Describe\"\n  \
         acl_permission_type          = \"Allow\"\n}}\n"
    )
}

/// What a user of the stack sees: each topic visible to it, or refused.
struct Client {
    runtime: tokio::runtime::Runtime,
    admin: Arc<Admin>,
    user: Arc<Admin>,
}

impl Client {
    fn new(stack: &Stack, user: &str, password: &Secret) -> Client {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let admin = Arc::new(Admin::new(ConnectionConfig::plaintext(stack.plain_bootstrap.split(','))));
        runtime.block_on(admin.set_scram_credential(user, SaslMechanism::ScramSha512, 4096, password)).unwrap();
        let mut config = ConnectionConfig::plaintext(stack.sasl_bootstrap.split(','));
        config.tls =
            Some(TlsConfig { ca_pem: Some(std::fs::read_to_string(&stack.kafka_ca).unwrap()), ..Default::default() });
        config.sasl = Some(SaslConfig {
            mechanism: SaslMechanism::ScramSha512,
            username: user.into(),
            password: password.clone(),
        });
        Client { runtime, admin, user: Arc::new(Admin::new(config)) }
    }

    fn create_topic(&self, name: &str) {
        let topic = NewTopic { name: name.into(), partitions: 1, replication_factor: 1, configs: BTreeMap::new() };
        self.runtime.block_on(self.admin.create_topic(&topic, false, BUDGET)).unwrap();
    }

    fn sees(&self, topic: &str) -> bool {
        match self.runtime.block_on(self.user.describe_topic(topic)) {
            Ok(found) => found.is_some(),
            Err(e) if e.code() == Some(ResponseError::TopicAuthorizationFailed) => false,
            Err(e) => panic!("describing {topic} as the user: {e}"),
        }
    }

    /// Brokers learn of an ACL change from ZooKeeper, moments after it is made.
    fn eventually_sees(&self, topic: &str, expected: bool) {
        for _ in 0..100 {
            if self.sees(topic) == expected {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("the user {} {topic} after 20 s", if expected { "still does not see" } else { "still sees" });
    }
}

#[test]
fn acls_grant_what_they_name_with_drift_import_and_foreign_ones_refused() {
    let Some(stack) = Stack::from_env() else { return };
    let user = unique("acl-user");
    let client = Client::new(&stack, &user, &Secret::new(unique("password")));
    let principal = format!("User:{user}");
    let prefix = unique("acl");
    let (granted, by_prefix, other) = (format!("{prefix}-granted"), format!("{prefix}-p-1"), unique("acl-other"));
    let _topics = stack.topic_cleanup(&[&prefix, &other]);
    for topic in [&granted, &by_prefix, &other] {
        client.create_topic(topic);
    }
    let config = format!(
        "{}{}{}",
        plaintext_provider(&stack),
        acl("literal", &granted, "Literal", &principal),
        acl("prefixed", &format!("{prefix}-p-"), "Prefixed", &principal)
    );
    let ws = Workspace::new(&stack);
    ws.write(&config);
    ws.apply();
    let id = format!("{principal}|*|Describe|Allow|Topic|{granted}|Literal");
    assert_eq!(ws.resource("hikube_kafka_acl.literal")["id"], id.as_str());
    ws.assert_no_changes();
    client.eventually_sees(&granted, true);
    client.eventually_sees(&by_prefix, true);
    assert!(!client.sees(&other), "a topic no ACL names stays denied");

    // Removed out of band: the plan shows it, and apply puts it back.
    let literal = AclBinding {
        resource_type: AclResourceType::Topic,
        resource_name: granted.clone(),
        pattern_type: AclPatternType::Literal,
        principal: principal.clone(),
        host: "*".into(),
        operation: AclOperation::Describe,
        permission: AclPermission::Allow,
    };
    let deleted = client.runtime.block_on(client.admin.delete_acls(&[AclFilter::from(&literal)])).unwrap();
    assert_eq!(deleted, 1);
    client.eventually_sees(&granted, false);
    // Each broker learns of the deletion on its own time: the plan may ask one that has not yet.
    let drift = "hikube_kafka_acl.literal will be created";
    let plan = (0..20).map(|_| ws.plan().1).find(|plan| plan.contains(drift)).expect("the deletion shows in a plan");
    assert!(plan.contains("1 to add, 0 to change, 0 to destroy"), "{plan}");
    ws.apply();
    client.eventually_sees(&granted, true);
    ws.assert_no_changes();

    // Another configuration declaring the same ACL is refused at plan, and pointed to import.
    let other_ws = Workspace::new(&stack);
    other_ws.write(&config);
    let refused = other_ws.expect_failure(&["plan", "-no-color", "-input=false"]);
    assert!(refused.contains("ACL already exists") && refused.contains("terraform import"), "{refused}");
    check(other_ws.terraform(&["import", "-no-color", "hikube_kafka_acl.literal", &id]), "terraform import");
    let prefixed_id = format!("{principal}|*|Describe|Allow|Topic|{prefix}-p-|Prefixed");
    check(other_ws.terraform(&["import", "-no-color", "hikube_kafka_acl.prefixed", &prefixed_id]), "terraform import");
    other_ws.assert_no_changes();

    ws.destroy();
    client.eventually_sees(&granted, false);
    client.eventually_sees(&by_prefix, false);
    let left =
        client.runtime.block_on(client.admin.acls(&AclFilter { principal: Some(principal), ..Default::default() }));
    assert_eq!(left.unwrap(), vec![], "destroy removes every ACL of the configuration");
    for topic in [&granted, &by_prefix, &other] {
        client.runtime.block_on(client.admin.delete_topic(topic, BUDGET)).unwrap();
    }
    client.runtime.block_on(client.admin.delete_scram_credential(&user, SaslMechanism::ScramSha512)).unwrap();
}
