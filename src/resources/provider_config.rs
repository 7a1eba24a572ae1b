//! The provider block: the default Kafka connection, how to reach Kubernetes and Helm, and the
//! default namespace. Nothing connects here: connections open on first use, so `terraform plan`
//! works before the clusters exist.

use std::path::PathBuf;

use super::kafka_connection::{self, Connection};
use crate::kafka::{ConnectionConfig, SaslConfig, SaslMechanism, Secret};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::{Attribute, Block, Nesting, Schema};
use crate::tfplugin::value::{Type, Value};

#[derive(Clone, Debug, Default)]
pub struct KubernetesConfig {
    pub config_path: Option<PathBuf>,
    pub config_context: Option<String>,
    pub host: Option<String>,
    pub token: Option<Secret>,
    pub cluster_ca_certificate: Option<String>,
    pub insecure: bool,
}

#[derive(Clone, Debug, Default)]
pub struct ProviderConfig {
    /// The connection topics use unless they name their own; `None` when none is configured.
    pub kafka: Option<ConnectionConfig>,
    pub kubernetes: KubernetesConfig,
    pub namespace: String,
    pub helm_binary: PathBuf,
}

impl ProviderConfig {
    pub fn kube_connection(&self) -> crate::kube::Connection {
        let k = &self.kubernetes;
        crate::kube::Connection {
            config_path: k.config_path.clone(),
            context: k.config_context.clone(),
            host: k.host.clone(),
            token: k.token.as_ref().map(|t| t.expose().to_string()),
            ca_pem: k.cluster_ca_certificate.clone(),
            insecure: k.insecure,
        }
    }

    /// helm reaching the same cluster: a kubeconfig by path, or host and token through helm's
    /// environment variables (never its arguments).
    pub fn helm(&self) -> crate::helm::Helm {
        let k = &self.kubernetes;
        let mut env = Vec::new();
        if let Some(host) = &k.host {
            env.push(("HELM_KUBEAPISERVER".to_string(), host.clone()));
            if let Some(token) = &k.token {
                env.push(("HELM_KUBETOKEN".to_string(), token.expose().to_string()));
            }
            if k.insecure {
                env.push(("HELM_KUBEINSECURE_SKIP_TLS_VERIFY".to_string(), "true".to_string()));
            }
        }
        crate::helm::Helm {
            binary: self.helm_binary.clone(),
            kubeconfig: if k.host.is_some() { None } else { k.config_path.clone() },
            context: k.config_context.clone(),
            env,
        }
    }
}

pub fn schema() -> Schema {
    Schema {
        version: 0,
        block: Block {
            description:
                "Managed Kafka on Kubernetes, the way the Hikube cloud offers it: ZooKeeper ensembles and Kafka \
                          clusters as Helm releases, and topics through the Kafka admin protocol."
                    .into(),
            attributes: vec![
                kafka_connection::attribute(
                    "kafka",
                    "Default Kafka connection for topics. Environment: `HIKUBE_KAFKA_BOOTSTRAP_SERVERS` (comma-separated), \
                     `HIKUBE_KAFKA_SASL_MECHANISM`, `HIKUBE_KAFKA_SASL_USERNAME`, `HIKUBE_KAFKA_SASL_PASSWORD`, \
                     `HIKUBE_KAFKA_CA_CERT` (PEM).",
                ),
                Attribute::nested(
                    "kubernetes",
                    Nesting::Single,
                    vec![
                        Attribute::optional(
                            "config_path",
                            Type::String,
                            "Path to a kubeconfig. Environment: `KUBE_CONFIG_PATH`, then `KUBECONFIG`.",
                        ),
                        Attribute::optional(
                            "config_context",
                            Type::String,
                            "Context of the kubeconfig to use. Environment: `KUBE_CTX`.",
                        ),
                        Attribute::optional(
                            "host",
                            Type::String,
                            "API server URL, instead of a kubeconfig. Environment: `KUBE_HOST`.",
                        ),
                        Attribute::optional(
                            "token",
                            Type::String,
                            "Bearer token for `host`. Environment: `KUBE_TOKEN`.",
                        )
                        .sensitive(),
                        Attribute::optional(
                            "cluster_ca_certificate",
                            Type::String,
                            "PEM CA of the API server, for `host`.",
                        ),
                        Attribute::optional("insecure", Type::Bool, "Skip verifying the API server's certificate."),
                    ],
                    "How to reach the Kubernetes cluster the ZooKeeper ensembles and Kafka clusters run in.",
                ),
                Attribute::optional(
                    "namespace",
                    Type::String,
                    "Default namespace of ensembles and clusters (`default`).",
                ),
                Attribute::optional(
                    "helm_binary",
                    Type::String,
                    "The `helm` executable (`helm` on PATH). Environment: `HIKUBE_HELM`.",
                ),
            ],
            blocks: vec![],
        },
    }
}

pub fn parse(config: &Value, env: impl Fn(&str) -> Option<String>) -> Result<ProviderConfig, Diagnostics> {
    let mut diagnostics = Diagnostics::default();
    let kafka = match kafka_connection::parse(config.attr("kafka"), &AttrPath::root("kafka")) {
        Ok(Connection::Known(c)) => Some(c),
        Ok(Connection::Unknown) => None,
        Ok(Connection::Absent) => kafka_from_env(&env),
        Err(d) => {
            diagnostics.extend(d);
            None
        }
    };
    let kube = config.attr("kubernetes");
    let text = |name: &str| kube.attr(name).as_str().map(str::to_string);
    let kubernetes = KubernetesConfig {
        config_path: text("config_path")
            .or_else(|| env("KUBE_CONFIG_PATH"))
            .or_else(|| env("KUBECONFIG"))
            .map(PathBuf::from),
        config_context: text("config_context").or_else(|| env("KUBE_CTX")),
        host: text("host").or_else(|| env("KUBE_HOST")),
        token: text("token").or_else(|| env("KUBE_TOKEN")).map(Secret::new),
        cluster_ca_certificate: text("cluster_ca_certificate"),
        insecure: kube.attr("insecure").as_bool().unwrap_or(false),
    };
    if kubernetes.token.is_some() && kubernetes.host.is_none() {
        diagnostics.push(
            Diagnostic::error(
                "Token without host",
                "kubernetes.token is used with kubernetes.host; set the API server URL too.",
            )
            .at(AttrPath::root("kubernetes").attr("host")),
        );
    }
    let namespace = config.attr("namespace").as_str().unwrap_or("default").to_string();
    if !is_dns_label(&namespace) {
        diagnostics.push(
            Diagnostic::error(
                "Invalid namespace",
                format!(
                    "{namespace:?} is not a Kubernetes namespace name (lowercase letters, digits and '-', at most 63)."
                ),
            )
            .at(AttrPath::root("namespace")),
        );
    }
    let helm_binary = config
        .attr("helm_binary")
        .as_str()
        .map(str::to_string)
        .or_else(|| env("HIKUBE_HELM"))
        .unwrap_or_else(|| "helm".into());
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    Ok(ProviderConfig { kafka, kubernetes, namespace, helm_binary: helm_binary.into() })
}

fn kafka_from_env(env: &impl Fn(&str) -> Option<String>) -> Option<ConnectionConfig> {
    let servers = env("HIKUBE_KAFKA_BOOTSTRAP_SERVERS")?;
    let mut config = ConnectionConfig::plaintext(servers.split(',').map(str::trim).filter(|s| !s.is_empty()));
    config.request_timeout = kafka_connection::DEFAULT_REQUEST_TIMEOUT;
    if let (Some(mechanism), Some(username), Some(password)) =
        (env("HIKUBE_KAFKA_SASL_MECHANISM"), env("HIKUBE_KAFKA_SASL_USERNAME"), env("HIKUBE_KAFKA_SASL_PASSWORD"))
    {
        config.sasl = SaslMechanism::parse(&mechanism).map(|mechanism| SaslConfig {
            mechanism,
            username,
            password: Secret::new(password),
        });
    }
    if let Some(ca) = env("HIKUBE_KAFKA_CA_CERT") {
        config.tls = Some(crate::kafka::TlsConfig { ca_pem: Some(ca), ..Default::default() });
    }
    Some(config)
}

/// A Kubernetes object name such as a Secret's or a StorageClass's, or a DNS domain.
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}
