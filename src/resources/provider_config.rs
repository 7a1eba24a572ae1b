//! The provider block: the default Kafka connection, how to reach Kubernetes and Helm, and the
//! default namespace. Nothing connects here: connections open on first use, so `terraform plan`
//! works before the clusters exist.

use std::path::PathBuf;

use super::framework::{Field, model, validate_attributes};
use super::kafka_connection::{self, Connection, ConnectionSpec, KafkaConnection};
use crate::kafka::{ConnectionConfig, SaslConfig, SaslMechanism, Secret};
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::{Block, Schema};
use crate::tfplugin::value::Value;

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
    pub kafka: Option<ConnectionSpec>,
    pub kubernetes: KubernetesConfig,
    pub namespace: String,
    pub helm_binary: PathBuf,
    /// Top-level attributes known only after apply (they come from resources): whatever
    /// depends on them waits, and no environment variable stands in for them.
    pub deferred: Vec<&'static str>,
}

impl ProviderConfig {
    pub fn is_deferred(&self, attribute: &str) -> bool {
        self.deferred.contains(&attribute)
    }

    pub fn kube_connection(&self) -> crate::k8s::Connection {
        let k = &self.kubernetes;
        crate::k8s::Connection {
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

model! {
    /// The provider block.
    pub struct ProviderBlock in provider_attr {
        kafka: KafkaConnection = optional(
            "Default Kafka connection for topics. Environment: `HIKUBE_KAFKA_BOOTSTRAP_SERVERS` (comma-separated), \
             `HIKUBE_KAFKA_SASL_MECHANISM`, `HIKUBE_KAFKA_SASL_USERNAME`, `HIKUBE_KAFKA_SASL_PASSWORD`, \
             `HIKUBE_KAFKA_CA_CERT` (PEM)."
        );
        kubernetes: KubernetesBlock = optional(
            "How to reach the Kubernetes cluster the ZooKeeper ensembles and Kafka clusters run in."
        );
        namespace: String = optional("Default namespace of ensembles and clusters (`default`).")
            .validate_str("Invalid namespace", |namespace| match is_dns_label(namespace) {
                true => Ok(()),
                false => Err(format!(
                    "{namespace:?} is not a Kubernetes namespace name (lowercase letters, digits and '-', at most 63)."
                )),
            });
        helm_binary: String = optional("The `helm` executable (`helm` on PATH). Environment: `HIKUBE_HELM`.");
    }
}

model! {
    pub struct KubernetesBlock in kubernetes_attr {
        config_path: String = optional("Path to a kubeconfig. Environment: `KUBE_CONFIG_PATH`, then `KUBECONFIG`.");
        config_context: String = optional("Context of the kubeconfig to use. Environment: `KUBE_CTX`.");
        host: String = optional("API server URL, instead of a kubeconfig. Environment: `KUBE_HOST`.");
        token: String = optional("Bearer token for `host`. Environment: `KUBE_TOKEN`.").sensitive();
        cluster_ca_certificate: String = optional("PEM CA of the API server, for `host`.");
        insecure: bool = optional("Skip verifying the API server's certificate.");
    }
}

pub fn schema() -> Schema {
    Schema {
        version: 0,
        block: Block {
            description: "Managed Kafka on Kubernetes, the way the Hikube cloud offers it: ZooKeeper ensembles and \
                          Kafka clusters as Helm releases, and topics through the Kafka admin protocol."
                .into(),
            attributes: ProviderBlock::attributes(),
        },
    }
}

/// Every check of the provider block that needs nothing but the configuration.
pub fn validate(config: &Value) -> Diagnostics {
    let mut diagnostics = validate_attributes(&ProviderBlock::attributes(), config);
    let (Ok((_, more)) | Err(more)) = parse(config, |_| None);
    // Parsing refuses again what a validator refused: each is said once.
    for diagnostic in more.0 {
        if !diagnostics.0.contains(&diagnostic) {
            diagnostics.push(diagnostic);
        }
    }
    diagnostics
}

/// The provider's configuration with its warnings, or the errors that stop it.
pub fn parse(
    config: &Value,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(ProviderConfig, Diagnostics), Diagnostics> {
    let block = ProviderBlock::read(config)?;
    let kafka_path = AttrPath::root(provider_attr::kafka);
    let mut diagnostics = kafka_connection::check(config.attr(provider_attr::kafka), &kafka_path);
    let deferred: Vec<&'static str> =
        [provider_attr::kafka, provider_attr::kubernetes, provider_attr::namespace, provider_attr::helm_binary]
            .into_iter()
            .filter(|name| !config.attr(name).is_wholly_known())
            .collect();
    let kafka = match kafka_connection::parse_field(&block.kafka, &kafka_path) {
        Ok(Connection::Known(c)) => Some(*c),
        Ok(Connection::Absent) => kafka_from_env(&env).map(|c| c.map(ConnectionSpec::from)).unwrap_or_else(|d| {
            diagnostics.push(d);
            None
        }),
        Ok(Connection::Unknown) | Err(_) => None,
    };
    let kube = block.kubernetes.known().cloned().unwrap_or_default();
    let set = |field: &Field<String>, variables: &[&str]| {
        field.known().cloned().or_else(|| variables.iter().find_map(|v| env(v)))
    };
    let kubernetes = if deferred.contains(&provider_attr::kubernetes) {
        KubernetesConfig::default()
    } else {
        KubernetesConfig {
            config_path: set(&kube.config_path, &["KUBE_CONFIG_PATH", "KUBECONFIG"]).map(PathBuf::from),
            config_context: set(&kube.config_context, &["KUBE_CTX"]),
            host: set(&kube.host, &["KUBE_HOST"]),
            token: set(&kube.token, &["KUBE_TOKEN"]).map(Secret::new),
            cluster_ca_certificate: kube.cluster_ca_certificate.known().cloned(),
            insecure: kube.insecure.known() == Some(&true),
        }
    };
    if kubernetes.token.is_some() && kubernetes.host.is_none() {
        diagnostics.push(
            Diagnostic::error(
                "Token without host",
                "kubernetes.token is used with kubernetes.host; set the API server URL too.",
            )
            .at(AttrPath::root(provider_attr::kubernetes).attr(kubernetes_attr::host)),
        );
    }
    let namespace = block.namespace.known().cloned().unwrap_or_else(|| "default".into());
    let helm_binary = set(&block.helm_binary, &["HIKUBE_HELM"]).unwrap_or_else(|| "helm".into());
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    Ok((ProviderConfig { kafka, kubernetes, namespace, helm_binary: helm_binary.into(), deferred }, diagnostics))
}

/// The default connection from `HIKUBE_KAFKA_*`; an unknown mechanism, or PLAIN without TLS,
/// is an error rather than a connection quietly made without SASL or in the clear.
fn kafka_from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Option<ConnectionConfig>, Diagnostic> {
    let Some(servers) = env("HIKUBE_KAFKA_BOOTSTRAP_SERVERS") else { return Ok(None) };
    let mut config = ConnectionConfig::plaintext(servers.split(',').map(str::trim).filter(|s| !s.is_empty()));
    config.request_timeout = kafka_connection::DEFAULT_REQUEST_TIMEOUT;
    if let Some(ca) = env("HIKUBE_KAFKA_CA_CERT") {
        config.tls = Some(crate::kafka::TlsConfig { ca_pem: Some(ca), ..Default::default() });
    }
    if let Some(name) = env("HIKUBE_KAFKA_SASL_MECHANISM") {
        let mechanism = SaslMechanism::parse(&name).ok_or_else(|| {
            Diagnostic::error(
                "Unsupported SASL mechanism",
                format!(
                    "HIKUBE_KAFKA_SASL_MECHANISM is {name:?}, not one of {}; fix or unset it.",
                    SaslMechanism::NAMES.join(", ")
                ),
            )
            .at(AttrPath::root("kafka"))
        })?;
        if mechanism == SaslMechanism::Plain && config.tls.is_none() {
            return Err(Diagnostic::error(
                "SASL PLAIN without TLS",
                "HIKUBE_KAFKA_SASL_MECHANISM=PLAIN would send the password in the clear: set HIKUBE_KAFKA_CA_CERT \
                 for a TLS listener, or use SCRAM-SHA-512.",
            )
            .at(AttrPath::root("kafka")));
        }
        let (Some(username), Some(password)) = (env("HIKUBE_KAFKA_SASL_USERNAME"), env("HIKUBE_KAFKA_SASL_PASSWORD"))
        else {
            return Err(Diagnostic::error(
                "Incomplete SASL settings",
                "HIKUBE_KAFKA_SASL_MECHANISM is set: set HIKUBE_KAFKA_SASL_USERNAME and HIKUBE_KAFKA_SASL_PASSWORD too.",
            )
            .at(AttrPath::root("kafka")));
        };
        config.sasl = Some(SaslConfig { mechanism, username, password: Secret::new(password) });
    }
    Ok(Some(config))
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn object(entries: &[(&str, Value)]) -> Value {
        Value::Object(entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    fn env(vars: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let vars: BTreeMap<&str, &str> = vars.iter().copied().collect();
        move |k| vars.get(k).map(|v| v.to_string())
    }

    /// A provider block whose `kubernetes` comes from a resource used to read as absent, so the
    /// plan checked releases against whatever cluster KUBECONFIG pointed at.
    #[test]
    fn unknown_settings_are_deferred_and_never_replaced_by_the_environment() {
        let config = object(&[("kubernetes", object(&[("host", Value::unknown())])), ("namespace", Value::unknown())]);
        let (parsed, _) = parse(&config, env(&[("KUBECONFIG", "/home/me/.kube/config"), ("KUBE_HOST", "https://x")]))
            .expect("unknown is not an error");
        assert!(parsed.is_deferred("kubernetes") && parsed.is_deferred("namespace"));
        assert_eq!(parsed.kubernetes.config_path, None);
        assert_eq!(parsed.kubernetes.host, None);
        assert!(!parsed.is_deferred("kafka"));
    }

    #[test]
    fn an_unknown_sasl_mechanism_in_the_environment_is_refused_not_dropped() {
        let refused = parse(
            &Value::Object(BTreeMap::new()),
            env(&[
                ("HIKUBE_KAFKA_BOOTSTRAP_SERVERS", "k:9092"),
                ("HIKUBE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-1"),
                ("HIKUBE_KAFKA_SASL_USERNAME", "u"),
                ("HIKUBE_KAFKA_SASL_PASSWORD", "p"),
            ]),
        )
        .map(drop)
        .expect_err("an unknown mechanism");
        assert!(format!("{refused:?}").contains("SCRAM-SHA-1"));
    }

    #[test]
    fn plain_over_plaintext_from_the_environment_is_refused() {
        let vars = [
            ("HIKUBE_KAFKA_BOOTSTRAP_SERVERS", "k:9092"),
            ("HIKUBE_KAFKA_SASL_MECHANISM", "PLAIN"),
            ("HIKUBE_KAFKA_SASL_USERNAME", "u"),
            ("HIKUBE_KAFKA_SASL_PASSWORD", "p"),
        ];
        assert!(parse(&Value::Object(BTreeMap::new()), env(&vars)).is_err());
        let mut with_tls = vars.to_vec();
        with_tls.push(("HIKUBE_KAFKA_CA_CERT", "-----BEGIN CERTIFICATE-----"));
        let (parsed, _) = parse(&Value::Object(BTreeMap::new()), env(&with_tls)).unwrap();
        assert!(parsed.kafka.unwrap().config.sasl.is_some());
    }

    /// A validator's refusal and the checks across attributes come together, each once.
    #[test]
    fn every_error_of_the_provider_block_is_said_once() {
        let kafka = object(&[
            ("bootstrap_servers", Value::List(vec![Value::string("k:9092")])),
            (
                "sasl",
                object(&[
                    ("mechanism", Value::string("SCRAM-SHA-1")),
                    ("username", Value::string("u")),
                    ("password", Value::string("p")),
                ]),
            ),
        ]);
        let config = object(&[("kafka", kafka), ("kubernetes", object(&[("token", Value::string("t"))]))]);
        let summaries: Vec<String> = validate(&config).iter().map(|d| d.summary.clone()).collect();
        assert_eq!(summaries, ["Unsupported SASL mechanism", "Token without host"]);
    }
}
