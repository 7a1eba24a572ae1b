//! The resources layer: the provider's configuration and one module per resource, each turning
//! Terraform values into typed configuration at the boundary and calling the domain layer.

mod data_sources;
mod duration;
mod errors;
mod framework;
mod helm_release;
pub mod intents;
pub mod kafka_acl;
pub mod kafka_cluster;
mod kafka_connection;
pub mod kafka_quota;
pub mod kafka_topic;
mod kafka_tunnel;
pub mod kafka_user;
mod provider;
mod provider_config;
pub mod zookeeper_ensemble;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::kafka;
use crate::tfplugin::diag::{AttrPath, Diagnostic};

pub(crate) use errors::{helm_diagnostic, import_hint, kafka_diagnostic, kube_diagnostic};
pub use framework::Resource;
pub use provider::HikubeProvider;
pub use provider_config::ProviderConfig;

/// The provider address Terraform knows this provider by.
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/hikube/hikube";

/// Everything a resource operation may use: the configured provider and the stop signal.
#[derive(Clone)]
pub struct Context {
    pub config: Arc<ProviderConfig>,
    pub kafka_pool: Arc<kafka::Pool>,
    pub cancel: CancellationToken,
    /// Connected on first use, so that plans without ensembles or clusters never need it.
    pub kube: Arc<tokio::sync::OnceCell<crate::k8s::Kube>>,
    /// The API server's CA as a file for helm, written once, when a host is configured with a CA.
    pub kube_ca_file: Arc<std::sync::OnceLock<Result<tempfile::NamedTempFile, String>>>,
    /// Creates under way, so that what an interrupted apply left is told from a stranger's.
    pub journal: intents::Journal,
}

impl Context {
    /// A context whose Kafka, Kubernetes and helm are all known only after apply: plans run
    /// their own logic and skip every live check, as they do before a cluster exists.
    #[cfg(test)]
    pub(crate) fn offline() -> Context {
        let config =
            ProviderConfig { deferred: vec!["kafka", "kubernetes", "helm_binary"], ..ProviderConfig::default() };
        Context {
            config: Arc::new(ProviderConfig { namespace: "data".into(), ..config }),
            kafka_pool: Arc::default(),
            cancel: CancellationToken::new(),
            kube: Arc::default(),
            kube_ca_file: Arc::default(),
            journal: intents::Journal::at(std::env::temp_dir().join("hikube-offline-journal")),
        }
    }

    /// Whether the Kubernetes connection is known only after apply: live checks wait for it.
    pub fn kube_deferred(&self) -> bool {
        self.config.is_deferred("kubernetes")
    }

    pub async fn kube(&self) -> Result<&crate::k8s::Kube, Diagnostic> {
        if self.kube_deferred() {
            return Err(Diagnostic::error(
                "Kubernetes connection not known yet",
                "The provider's kubernetes settings come from resources not applied yet; apply them first.",
            )
            .at(AttrPath::root("kubernetes")));
        }
        self.kube
            .get_or_try_init(|| async { crate::k8s::Kube::connect(&self.config.kube_connection()).await })
            .await
            .map_err(|e| {
                Diagnostic::error(
                    "Cannot reach Kubernetes",
                    format!("{e}.\n\nCheck the provider's kubernetes settings (or KUBECONFIG)."),
                )
                .at(AttrPath::root("kubernetes"))
            })
    }

    pub fn helm(&self) -> crate::helm::Helm {
        let mut helm = self.config.helm();
        let kubernetes = &self.config.kubernetes;
        if let (Some(_), Some(ca)) = (&kubernetes.host, &kubernetes.cluster_ca_certificate) {
            // helm takes the CA of a host-and-token connection only as a file.
            let file = self.kube_ca_file.get_or_init(|| {
                use std::io::Write;
                let mut file =
                    tempfile::Builder::new().prefix("hikube-kube-ca-").tempfile().map_err(|e| e.to_string())?;
                file.write_all(ca.as_bytes()).map_err(|e| e.to_string())?;
                Ok(file)
            });
            match file {
                Ok(file) => helm.env.push(("HELM_KUBECAFILE".into(), file.path().display().to_string())),
                Err(e) => tracing::warn!(error = %e, "could not write the API server's CA for helm"),
            }
        }
        helm
    }

    /// Runs `op` unless Terraform asks the provider to stop first.
    pub async fn cancellable<T>(&self, op: impl Future<Output = Result<T, kafka::Error>>) -> Result<T, kafka::Error> {
        tokio::select! {
            result = op => result,
            _ = self.cancel.cancelled() => Err(kafka::Error::Cancelled),
        }
    }
}

pub fn all() -> Vec<Box<dyn Resource>> {
    vec![
        Box::new(kafka_topic::KafkaTopic),
        Box::new(kafka_acl::KafkaAcl),
        Box::new(kafka_quota::KafkaQuota),
        Box::new(kafka_user::KafkaUser),
        Box::new(helm_release::HelmRelease(zookeeper_ensemble::ZookeeperEnsemble)),
        Box::new(helm_release::HelmRelease(kafka_cluster::KafkaCluster)),
    ]
}

pub fn data_sources() -> Vec<Box<dyn framework::DataSource>> {
    vec![Box::new(data_sources::TopicData), Box::new(data_sources::TopicsData), Box::new(data_sources::ClusterData)]
}
