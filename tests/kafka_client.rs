//! The admin client against the stack's real brokers, over both listeners.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use support::{Stack, unique};
use terraform_provider_hikube::kafka::{
    Admin, ConnectionConfig, Error, NewTopic, SaslConfig, SaslMechanism, Secret, TlsConfig, plan_reassignment,
    topic_config::ConfigOp,
};

const BUDGET: Duration = Duration::from_secs(60);

fn plaintext(stack: &Stack) -> Arc<Admin> {
    Arc::new(Admin::new(ConnectionConfig::plaintext(stack.plain_bootstrap.split(','))))
}

fn sasl(stack: &Stack, mechanism: SaslMechanism, password: &str, ca_pem: Option<String>) -> Arc<Admin> {
    let mut config = ConnectionConfig::plaintext(stack.sasl_bootstrap.split(','));
    config.tls = Some(TlsConfig {
        ca_pem: Some(ca_pem.unwrap_or_else(|| std::fs::read_to_string(&stack.kafka_ca).unwrap())),
        ..Default::default()
    });
    config.sasl =
        Some(SaslConfig { mechanism, username: stack.sasl_username.clone(), password: Secret::new(password) });
    config.request_timeout = Duration::from_secs(10);
    Arc::new(Admin::new(config))
}

async fn lifecycle(cluster: &Arc<Admin>, prefix: &str) {
    let name = unique(prefix);
    let topic = NewTopic {
        name: name.clone(),
        partitions: 2,
        replication_factor: 1,
        configs: BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]),
    };
    cluster.create_topic(&topic, true, BUDGET).await.expect("validate-only create");
    assert_eq!(cluster.describe_topic(&name).await.unwrap(), None, "validate_only creates nothing");
    cluster.create_topic(&topic, false, BUDGET).await.expect("create");
    let info = cluster.describe_topic(&name).await.unwrap().expect("topic exists");
    assert_eq!((info.partitions.len(), info.replication_factor()), (2, 1));

    let configs = cluster.topic_configs(&name).await.unwrap().expect("configs");
    let policy = configs.iter().find(|c| c.name == "cleanup.policy").unwrap();
    assert_eq!(policy.value.as_deref(), Some("compact"));

    cluster
        .alter_topic_configs(
            &name,
            &[ConfigOp::Set("retention.ms".into(), "3600000".into()), ConfigOp::Delete("cleanup.policy".into())],
            false,
            BUDGET,
        )
        .await
        .expect("alter configs");
    let configs = cluster.topic_configs(&name).await.unwrap().unwrap();
    let value = |k: &str| configs.iter().find(|c| c.name == k).and_then(|c| c.value.clone());
    assert_eq!(value("retention.ms").as_deref(), Some("3600000"));
    assert_eq!(value("cleanup.policy").as_deref(), Some("delete"), "override removed, broker default back");

    cluster.create_partitions(&name, 4, false, BUDGET).await.expect("add partitions");
    let info = cluster.describe_topic(&name).await.unwrap().unwrap();
    assert_eq!(info.partitions.len(), 4);

    let brokers = cluster.brokers().await.unwrap();
    assert_eq!(brokers.len(), 3);
    let target = plan_reassignment(&info.assignment(), &brokers, 3).unwrap();
    cluster.reassign_partitions(&name, &target, BUDGET).await.expect("reassign");
    for _ in 0..100 {
        if cluster.ongoing_reassignments(&name).await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let info = cluster.describe_topic(&name).await.unwrap().unwrap();
    assert_eq!(info.replication_factor(), 3);

    cluster.delete_topic(&name, BUDGET).await.expect("delete");
    assert_eq!(cluster.describe_topic(&name).await.unwrap(), None);
}

#[tokio::test]
async fn full_lifecycle_over_plaintext() {
    let Some(stack) = Stack::from_env() else { return };
    let _topics = stack.topic_cleanup(&[&format!("client-plain-{}-", std::process::id())]);
    lifecycle(&plaintext(&stack), "client-plain").await;
}

#[tokio::test]
async fn full_lifecycle_over_sasl_ssl_with_every_mechanism() {
    let Some(stack) = Stack::from_env() else { return };
    let password = stack.sasl_password();
    let _topics = stack.topic_cleanup(&[&format!("client-sasl-{}-", std::process::id())]);
    for mechanism in [SaslMechanism::ScramSha512, SaslMechanism::ScramSha256, SaslMechanism::Plain] {
        lifecycle(&sasl(&stack, mechanism, &password, None), "client-sasl").await;
    }
}

#[tokio::test]
async fn concurrent_reads_share_connections_and_requests() {
    let Some(stack) = Stack::from_env() else { return };
    let cluster = plaintext(&stack);
    let names: Vec<String> = (0..20).map(|i| unique(&format!("client-batch{i}"))).collect();
    let reads = names.iter().map(|n| {
        let cluster = cluster.clone();
        let n = n.clone();
        tokio::spawn(async move { cluster.describe_topic(&n).await })
    });
    for read in futures::future::join_all(reads).await {
        assert_eq!(read.unwrap().unwrap(), None);
    }
}

#[tokio::test]
async fn wrong_password_is_an_authentication_error() {
    let Some(stack) = Stack::from_env() else { return };
    let cluster = sasl(&stack, SaslMechanism::ScramSha512, "not-the-password", None);
    let err = cluster.brokers().await.unwrap_err();
    assert!(matches!(err, Error::Authentication(_)), "{err}");
}

#[tokio::test]
async fn a_ca_that_did_not_sign_the_brokers_is_a_tls_error() {
    let Some(stack) = Stack::from_env() else { return };
    let other_ca = std::fs::read_to_string(stack.kubeconfig.parent().unwrap().join("pki/kube-ca.crt")).unwrap();
    let cluster = sasl(&stack, SaslMechanism::ScramSha512, &stack.sasl_password(), Some(other_ca));
    let err = cluster.brokers().await.unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err}");
}

#[tokio::test]
async fn unreachable_bootstrap_names_what_was_tried() {
    let mut config = ConnectionConfig::plaintext(["127.0.0.1:1"]);
    config.request_timeout = Duration::from_secs(2);
    let err = Arc::new(Admin::new(config)).brokers().await.unwrap_err();
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}
