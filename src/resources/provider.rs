//! The provider as the protocol layer sees it: schemas, configuration, and dispatch of each
//! call to the resource it names.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use tokio_util::sync::CancellationToken;

use super::framework::DataSource;
use super::{Context, Resource, framework, provider_config};
use crate::kafka;
use crate::tfplugin::diag::{Diagnostic, Diagnostics};
use crate::tfplugin::schema::Schema;
use crate::tfplugin::value::Value;
use crate::tfplugin::{
    ApplyRequest, ApplyResponse, ImportResponse, MoveRequest, PlanRequest, PlanResponse, ProviderHandler, ReadRequest,
    ReadResponse,
};

pub struct HikubeProvider {
    resources: BTreeMap<&'static str, Box<dyn Resource>>,
    data_sources: BTreeMap<&'static str, Box<dyn DataSource>>,
    context: RwLock<Option<Context>>,
    cancel: CancellationToken,
    kafka_pool: Arc<kafka::Pool>,
}

impl Default for HikubeProvider {
    fn default() -> Self {
        HikubeProvider {
            resources: super::all().into_iter().map(|r| (r.type_name(), r)).collect(),
            data_sources: super::data_sources().into_iter().map(|d| (d.type_name(), d)).collect(),
            context: RwLock::new(None),
            cancel: CancellationToken::new(),
            kafka_pool: Arc::default(),
        }
    }
}

impl HikubeProvider {
    fn resource(&self, type_name: &str) -> Result<&dyn Resource, Diagnostics> {
        self.resources
            .get(type_name)
            .map(|r| r.as_ref())
            .ok_or_else(|| Diagnostic::error(format!("Unknown resource type {type_name:?}"), "").into())
    }

    fn data_source(&self, type_name: &str) -> Result<&dyn DataSource, Diagnostics> {
        self.data_sources
            .get(type_name)
            .map(|d| d.as_ref())
            .ok_or_else(|| Diagnostic::error(format!("Unknown data source {type_name:?}"), "").into())
    }

    fn context(&self) -> Result<Context, Diagnostics> {
        self.context.read().expect("context lock").clone().ok_or_else(|| {
            Diagnostic::error(
                "Provider not configured",
                "Terraform called the provider before configuring it; this is a bug in Terraform or the provider.",
            )
            .into()
        })
    }

    /// The resource and the configured context for one call, or the diagnostics explaining why not.
    fn target(&self, type_name: &str) -> Result<(&dyn Resource, Context), Diagnostics> {
        Ok((self.resource(type_name)?, self.context()?))
    }
}

/// What a read, plan or import answers once Terraform has asked the provider to stop. They
/// change nothing, so they end at once; applies end at their next step with what they did.
fn stopped() -> Diagnostics {
    Diagnostic::error(
        "Stopped",
        "Terraform asked the provider to stop (interrupted); nothing was changed by this call.",
    )
    .into()
}

#[tonic::async_trait]
impl ProviderHandler for HikubeProvider {
    fn provider_schema(&self) -> Schema {
        provider_config::schema()
    }

    fn resource_schemas(&self) -> BTreeMap<String, Schema> {
        self.resources.iter().map(|(name, r)| (name.to_string(), r.schema())).collect()
    }

    async fn validate_provider_config(&self, config: Value) -> Diagnostics {
        provider_config::validate(&config)
    }

    async fn configure_provider(&self, config: Value, terraform_version: String) -> Diagnostics {
        tracing::info!(terraform_version, provider_version = env!("CARGO_PKG_VERSION"), "configuring the provider");
        match provider_config::parse(&config, |k| std::env::var(k).ok()) {
            Ok((parsed, warnings)) => {
                if let Some(kafka) = &parsed.kafka {
                    tracing::debug!(kafka = %kafka.config.describe(), credentials_secret = ?kafka.credentials_secret, "default Kafka connection");
                }
                if !parsed.deferred.is_empty() {
                    tracing::info!(deferred = ?parsed.deferred, "provider settings known only after apply; live checks wait");
                }
                *self.context.write().expect("context lock") = Some(Context {
                    config: Arc::new(parsed),
                    kafka_pool: self.kafka_pool.clone(),
                    cancel: self.cancel.clone(),
                    kube: Arc::default(),
                    kube_ca_file: Arc::default(),
                    journal: super::intents::Journal::default(),
                });
                warnings
            }
            Err(diagnostics) => diagnostics,
        }
    }

    async fn validate_resource_config(&self, type_name: &str, config: Value) -> Diagnostics {
        match self.resource(type_name) {
            Ok(resource) => framework::validate(resource, &config),
            Err(diagnostics) => diagnostics,
        }
    }

    async fn upgrade_resource_state(&self, type_name: &str, version: i64, state: Value) -> (Value, Diagnostics) {
        match self.resource(type_name).map(|resource| resource.upgrade_state(version, state)) {
            Ok(Ok(upgraded)) => (upgraded, Diagnostics::default()),
            Ok(Err(diagnostic)) => (Value::Null, diagnostic.into()),
            Err(diagnostics) => (Value::Null, diagnostics),
        }
    }

    async fn move_resource_state(&self, request: MoveRequest) -> (Value, Diagnostics) {
        let resource = match self.resource(&request.target_type) {
            Ok(resource) => resource,
            Err(diagnostics) => return (Value::Null, diagnostics),
        };
        match resource.move_state(&request) {
            Some(Ok(state)) => (state, Diagnostics::default()),
            Some(Err(refusal)) => (Value::Null, refusal),
            None => {
                let refusal = Diagnostic::error(
                    "Cannot move this resource",
                    format!(
                        "{} of {} cannot become a {}: moves come from Mongey/kafka's kafka_topic, kafka_acl and kafka_quota \
                         into hikube_kafka_topic, hikube_kafka_acl and hikube_kafka_quota, and from hashicorp/helm's \
                         helm_release of this provider's charts into hikube_kafka_cluster and hikube_zookeeper_ensemble. \
                         Remove the moved block, and import the object with an import block instead.",
                        request.source_type, request.source_provider, request.target_type
                    ),
                );
                (Value::Null, refusal.into())
            }
        }
    }

    async fn read_resource(&self, request: ReadRequest) -> ReadResponse {
        match self.target(&request.type_name) {
            Ok((resource, ctx)) => {
                let (state, private) = (request.current_state.clone(), request.private.clone());
                tokio::select! {
                    response = resource.read(&ctx, request) => response,
                    () = ctx.cancel.cancelled() => ReadResponse { new_state: state, private, diagnostics: stopped() },
                }
            }
            Err(diagnostics) => ReadResponse { new_state: request.current_state, diagnostics, ..Default::default() },
        }
    }

    async fn plan_resource_change(&self, request: PlanRequest) -> PlanResponse {
        match self.target(&request.type_name) {
            Ok((resource, ctx)) => tokio::select! {
                response = framework::plan(resource, &ctx, request) => response,
                () = ctx.cancel.cancelled() => PlanResponse { diagnostics: stopped(), ..Default::default() },
            },
            Err(diagnostics) => PlanResponse { diagnostics, ..Default::default() },
        }
    }

    async fn apply_resource_change(&self, request: ApplyRequest) -> ApplyResponse {
        match self.target(&request.type_name) {
            Ok((resource, ctx)) => framework::apply(resource, &ctx, request).await,
            Err(diagnostics) => ApplyResponse { new_state: request.prior_state, diagnostics, ..Default::default() },
        }
    }

    async fn import_resource_state(&self, type_name: &str, id: &str) -> ImportResponse {
        match self.target(type_name) {
            Ok((resource, ctx)) => tokio::select! {
                response = resource.import(&ctx, id) => response,
                () = ctx.cancel.cancelled() => ImportResponse { diagnostics: stopped(), ..Default::default() },
            },
            Err(diagnostics) => ImportResponse { diagnostics, ..Default::default() },
        }
    }

    async fn stop(&self) {
        self.cancel.cancel();
    }

    fn data_source_schemas(&self) -> BTreeMap<String, Schema> {
        self.data_sources.iter().map(|(name, d)| (name.to_string(), d.schema())).collect()
    }

    async fn validate_data_source_config(&self, type_name: &str, config: Value) -> Diagnostics {
        match self.data_source(type_name) {
            Ok(data_source) => framework::validate_data_source(data_source, &config),
            Err(diagnostics) => diagnostics,
        }
    }

    async fn read_data_source(&self, type_name: &str, config: Value) -> (Value, Diagnostics) {
        let (data_source, ctx) = match self.data_source(type_name).and_then(|d| Ok((d, self.context()?))) {
            Ok(found) => found,
            Err(diagnostics) => return (Value::Null, diagnostics),
        };
        let read = tokio::select! {
            read = data_source.read(&ctx, config) => read,
            () = ctx.cancel.cancelled() => Err(stopped()),
        };
        match read {
            Ok(state) => (state, Diagnostics::default()),
            Err(diagnostics) => (Value::Null, diagnostics),
        }
    }
}
