//! SCRAM users, ACLs and client quotas through the admin client, against the stack's brokers:
//! their authorizer denies every principal but the stack's own what no ACL allows, so what an
//! ACL grants is checked by connecting as the user it names.

mod support;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use support::{Stack, unique};
use terraform_provider_hikube::kafka::{
    AclBinding, AclFilter, AclOperation, AclPatternType, AclPermission, AclResourceType, Admin, ConnectionConfig,
    Error, NewTopic, QuotaEntity, SaslConfig, SaslMechanism, ScramCredential, Secret, TlsConfig,
};

const BUDGET: Duration = Duration::from_secs(60);

fn admin(stack: &Stack) -> Arc<Admin> {
    Arc::new(Admin::new(ConnectionConfig::plaintext(stack.plain_bootstrap.split(','))))
}

fn as_user(stack: &Stack, user: &str, password: &Secret, mechanism: SaslMechanism) -> Arc<Admin> {
    let mut config = ConnectionConfig::plaintext(stack.sasl_bootstrap.split(','));
    config.tls =
        Some(TlsConfig { ca_pem: Some(std::fs::read_to_string(&stack.kafka_ca).unwrap()), ..Default::default() });
    config.sasl = Some(SaslConfig { mechanism, username: user.into(), password: password.clone() });
    config.request_timeout = Duration::from_secs(10);
    Arc::new(Admin::new(config))
}

/// Brokers learn of a credential or an ACL made through another broker from ZooKeeper, moments
/// later: `check` is asked again until it holds, for 20 seconds at most.
async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{what}: still not so after 20 s");
}

async fn new_user(admin: &Admin) -> (String, Secret) {
    let (user, password) = (unique("user"), Secret::new(unique("password")));
    admin.set_scram_credential(&user, SaslMechanism::ScramSha512, 4096, &password).await.expect("create the user");
    (user, password)
}

#[tokio::test]
async fn a_scram_user_gets_in_with_each_mechanism_until_its_credential_is_deleted() {
    let Some(stack) = Stack::from_env() else { return };
    let admin = admin(&stack);
    let (user, password) = new_user(&admin).await;
    admin.set_scram_credential(&user, SaslMechanism::ScramSha256, 8192, &password).await.unwrap();
    let described = admin.scram_credentials(Some(std::slice::from_ref(&user))).await.unwrap();
    let credentials = &described[&user];
    assert_eq!(credentials.len(), 2, "{credentials:?}");
    for expected in [
        ScramCredential { mechanism: SaslMechanism::ScramSha512, iterations: 4096 },
        ScramCredential { mechanism: SaslMechanism::ScramSha256, iterations: 8192 },
    ] {
        assert!(credentials.contains(&expected), "{credentials:?}");
    }
    for mechanism in [SaslMechanism::ScramSha512, SaslMechanism::ScramSha256] {
        eventually("the user authenticates", || async {
            as_user(&stack, &user, &password, mechanism).brokers().await.is_ok()
        })
        .await;
    }
    let wrong = as_user(&stack, &user, &Secret::new("not-the-password"), SaslMechanism::ScramSha512);
    assert!(matches!(wrong.brokers().await, Err(Error::Authentication(_))));

    admin.delete_scram_credential(&user, SaslMechanism::ScramSha512).await.unwrap();
    admin.delete_scram_credential(&user, SaslMechanism::ScramSha512).await.expect("a second delete is no error");
    eventually("the deleted credential is refused", || async {
        matches!(
            as_user(&stack, &user, &password, SaslMechanism::ScramSha512).brokers().await,
            Err(Error::Authentication(_))
        )
    })
    .await;
    as_user(&stack, &user, &password, SaslMechanism::ScramSha256).brokers().await.expect("the other one still works");
    admin.delete_scram_credential(&user, SaslMechanism::ScramSha256).await.unwrap();
    let described = admin.scram_credentials(Some(std::slice::from_ref(&user))).await.unwrap();
    assert_eq!(described.get(&user), None, "a user without credentials is left out");
}

#[tokio::test]
async fn an_acl_grants_its_principal_exactly_what_it_names() {
    let Some(stack) = Stack::from_env() else { return };
    let admin = admin(&stack);
    let (user, password) = new_user(&admin).await;
    let (granted, other) = (unique("acl-granted"), unique("acl-other"));
    let _topics = stack.topic_cleanup(&[&granted, &other]);
    for name in [&granted, &other] {
        let topic = NewTopic { name: name.clone(), partitions: 1, replication_factor: 1, configs: BTreeMap::new() };
        admin.create_topic(&topic, false, BUDGET).await.unwrap();
    }
    let binding = AclBinding {
        resource_type: AclResourceType::Topic,
        resource_name: granted.clone(),
        pattern_type: AclPatternType::Literal,
        principal: format!("User:{user}"),
        host: "*".into(),
        operation: AclOperation::Describe,
        permission: AclPermission::Allow,
    };
    admin.create_acls(std::slice::from_ref(&binding)).await.unwrap();
    admin.create_acls(std::slice::from_ref(&binding)).await.expect("creating it again is no error");
    let exact = AclFilter::from(&binding);
    assert_eq!(admin.acls(&exact).await.unwrap(), vec![binding.clone()], "Kafka keeps one of each");
    let by_principal = AclFilter { principal: Some(binding.principal.clone()), ..Default::default() };
    assert_eq!(admin.acls(&by_principal).await.unwrap(), vec![binding.clone()]);

    let client = as_user(&stack, &user, &password, SaslMechanism::ScramSha512);
    eventually("the granted topic is visible to its principal", || async {
        matches!(client.describe_topic(&granted).await, Ok(Some(_)))
    })
    .await;
    let denied = client.describe_topic(&other).await.unwrap_err();
    assert_eq!(denied.code(), Some(ResponseError::TopicAuthorizationFailed), "{denied}");

    assert_eq!(admin.delete_acls(std::slice::from_ref(&exact)).await.unwrap(), 1);
    assert_eq!(admin.delete_acls(std::slice::from_ref(&exact)).await.unwrap(), 0, "deleting nothing is no error");
    assert_eq!(admin.acls(&exact).await.unwrap(), vec![]);
    eventually("the topic is denied once the ACL is gone", || async {
        client.describe_topic(&granted).await.is_err_and(|e| e.code() == Some(ResponseError::TopicAuthorizationFailed))
    })
    .await;
    for name in [&granted, &other] {
        admin.delete_topic(name, BUDGET).await.unwrap();
    }
    admin.delete_scram_credential(&user, SaslMechanism::ScramSha512).await.unwrap();
}

#[tokio::test]
async fn quotas_are_set_read_and_removed_key_by_key() {
    let Some(stack) = Stack::from_env() else { return };
    let admin = admin(&stack);
    let entity: QuotaEntity =
        BTreeMap::from([("user".into(), Some(unique("quota-user"))), ("client-id".into(), Some("app".into()))]);
    let rates =
        BTreeMap::from([("producer_byte_rate".to_string(), 1048576.0), ("consumer_byte_rate".into(), 2097152.0)]);
    admin.alter_quotas(&entity, &rates, &[], true).await.expect("validate only");
    assert_eq!(admin.quotas(&entity).await.unwrap(), BTreeMap::new(), "validate_only sets nothing");

    admin.alter_quotas(&entity, &rates, &[], false).await.unwrap();
    assert_eq!(admin.quotas(&entity).await.unwrap(), rates);
    let user_only: QuotaEntity =
        entity.iter().filter(|(kind, _)| *kind == "user").map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(admin.quotas(&user_only).await.unwrap(), BTreeMap::new(), "only the exact entity matches");

    admin.alter_quotas(&entity, &BTreeMap::new(), &["producer_byte_rate".into()], false).await.unwrap();
    assert_eq!(admin.quotas(&entity).await.unwrap(), BTreeMap::from([("consumer_byte_rate".into(), 2097152.0)]));
    admin.alter_quotas(&entity, &BTreeMap::new(), &["consumer_byte_rate".into()], false).await.unwrap();
    assert_eq!(admin.quotas(&entity).await.unwrap(), BTreeMap::new());
}

#[tokio::test]
async fn what_kafka_refuses_comes_back_as_its_error() {
    let Some(stack) = Stack::from_env() else { return };
    let admin = admin(&stack);
    let user = unique("user");
    let err = admin.set_scram_credential(&user, SaslMechanism::ScramSha512, 100, &Secret::new("pw")).await.unwrap_err();
    assert_eq!(err.code(), Some(ResponseError::UnacceptableCredential), "{err}");
    let entity: QuotaEntity = BTreeMap::from([("user".into(), Some(user))]);
    let negative = BTreeMap::from([("producer_byte_rate".to_string(), -1.0)]);
    let err = admin.alter_quotas(&entity, &negative, &[], false).await.unwrap_err();
    assert!(err.code().is_some(), "{err}");
}
