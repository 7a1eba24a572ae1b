//! What the ZooKeeper ensemble and the Kafka cluster share: each is a Helm release of a chart
//! this provider ships. Plan renders the chart to a digest that changes exactly when the
//! rendered objects change; read reports the release's values, its status, and a digest that
//! differs from the plan's when live objects drifted from the manifest; apply recovers a release
//! stuck pending, upgrades, and records what happened even when it failed.
//!
//! One module per concern: `plan` (rendering, replacement, the checks of a new release),
//! `apply` (recovery of an interrupted release, the upgrade and the steps around it), `read`
//! (refresh, drift and import), `sizing` (Hikube's sizes and the attributes they fill).

mod apply;
mod plan;
mod read;
mod sizing;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

pub use sizing::{dns_name, sizing_attributes, sizing_from_values, sizing_values, storage_bytes, text_field};

use super::framework::{Field, Plan, Resource, model, unsupported_state_version, validators};
use super::{Context, duration, helm_diagnostic, kube_diagnostic, provider_config::is_dns_label};
use crate::helm::{self, ChartSource, Release, ReleaseStatus};
use crate::k8s::Kube;
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::{Attribute, Block, Schema};
use crate::tfplugin::value::{Refinements, Value};
use crate::tfplugin::{ApplyRequest, ApplyResponse, ImportResponse, MoveRequest, ReadRequest, ReadResponse};

const DEFAULT_TIMEOUT: &str = "10m";

/// One kind of Helm-backed resource.
#[tonic::async_trait]
pub trait ReleaseKind: Send + Sync + 'static {
    fn type_name(&self) -> &'static str;
    fn chart(&self) -> &'static str;
    fn description(&self) -> &'static str;
    /// The attributes of this kind, beside the ones every release has.
    fn attributes(&self) -> Vec<Attribute>;
    /// Checks across this kind's attributes, after the schema's validators.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::default()
    }
    /// The chart values for a wholly known planned state; every attribute is represented, so
    /// that [`ReleaseKind::attributes_from_values`] gives back exactly what the plan had.
    fn values(&self, planned: &Value) -> Json;
    fn attributes_from_values(&self, values: &Json) -> BTreeMap<String, Value>;
    /// Computed outputs that follow from the name and namespace (service addresses).
    fn outputs(&self, name: &str, namespace: &str, planned: &Value) -> Vec<(&'static str, Value)>;
    /// Outputs that clients connect to: unknown in the plan of a release still to be installed,
    /// so that what connects through them waits for it instead of dialling nothing at plan.
    fn reachable_once_installed(&self) -> &'static [&'static str] {
        &[]
    }
    /// The version of this kind's state schema; an older state goes through
    /// [`ReleaseKind::upgrade_state`].
    fn schema_version(&self) -> i64 {
        0
    }
    /// A state of an older schema version as the current one writes it; `None` for a version
    /// this kind never had.
    fn upgrade_state(&self, _version: i64, _state: Value) -> Option<Value> {
        None
    }
    /// Attributes whose change replaces the release so that the new one starts on the old
    /// one's volumes, on purpose (the same brokers, secured differently).
    fn reuses_volumes(&self) -> &'static [&'static str] {
        &[]
    }
    /// Refusals and notices that need the live system: a broker count that would strand
    /// replicas, the brokers a change restarts.
    async fn check_change(&self, _change: PlannedChange<'_>) -> Diagnostics {
        Diagnostics::default()
    }
    /// Plan-time refusals of an install that depend on what the cluster holds, such as an object
    /// of the name the install would make that somebody else made.
    async fn check_install(&self, _kube: &Kube, _release: &str, _namespace: &str, _planned: &Value) -> Diagnostics {
        Diagnostics::default()
    }
    /// Why destroying this state must be refused, if it must.
    fn refuse_destroy(&self, _state: &Value) -> Option<Diagnostic> {
        None
    }
    /// Whether this change has steps of its own around helm's upgrade. An apply that stops
    /// anywhere after the first of them leaves the state marked unfinished, so that the next
    /// apply runs them again whatever the configuration then says.
    fn steps_around_upgrade(&self, _change: Change<'_>) -> bool {
        false
    }
    /// Work on the running release that must precede an upgrade of it (an ensemble's members
    /// removed before their pods go). Idempotent: a failed apply is resumed by the next.
    async fn before_upgrade(&self, _change: Change<'_>) -> Result<(), Diagnostic> {
        Ok(())
    }
    /// Objects the release needs that Helm must not hold (a Secret of generated credentials:
    /// Helm would keep it in its release record), made before an install and checked before
    /// every upgrade (`prior` is null for an install). Idempotent.
    async fn before_install(
        &self,
        _kube: &Kube,
        _release: &str,
        _namespace: &str,
        _prior: &Value,
        _planned: &Value,
    ) -> Result<(), Diagnostic> {
        Ok(())
    }
    /// Deletes what [`ReleaseKind::before_install`] made, once the release is uninstalled.
    async fn after_uninstall(&self, _kube: &Kube, _release: &str, _namespace: &str) -> Result<(), Diagnostic> {
        Ok(())
    }
    /// Work that completes an install once helm is done, when the plan waits for the release
    /// (the pods of a StatefulSet helm's wait does not cover).
    async fn after_install(&self, _change: Change<'_>) -> Result<(), Diagnostic> {
        Ok(())
    }
    /// Work that completes an upgrade once helm is done (an ensemble's new members added once
    /// their pods run). Idempotent, like [`ReleaseKind::before_upgrade`].
    async fn after_upgrade(&self, _change: Change<'_>) -> Result<(), Diagnostic> {
        Ok(())
    }
}

/// An install or an upgrade, as the steps around helm see it (`prior` is null for an install).
#[derive(Clone, Copy)]
pub struct Change<'a> {
    pub ctx: &'a Context,
    pub kube: &'a Kube,
    /// The Helm release's name and namespace.
    pub release: &'a str,
    pub namespace: &'a str,
    pub prior: &'a Value,
    pub planned: &'a Value,
    /// The resource's `timeout`: what the steps around helm's upgrade may take.
    pub timeout: Duration,
}

/// An upgrade as the plan sees it, with the objects the chart renders for it when they are
/// known.
#[derive(Clone, Copy)]
pub struct PlannedChange<'a> {
    pub ctx: &'a Context,
    pub release: &'a str,
    pub namespace: &'a str,
    pub prior: &'a Value,
    pub planned: &'a Value,
    pub manifest: Option<&'a str>,
}

impl Change<'_> {
    /// Whether an earlier apply stopped between the steps around helm's upgrade.
    pub fn resumes_unfinished(&self) -> bool {
        is_unfinished(self.prior)
    }
}

impl PlannedChange<'_> {
    /// Whether an earlier apply stopped between the steps around helm's upgrade.
    pub fn resumes_unfinished(&self) -> bool {
        is_unfinished(self.prior)
    }
}

fn is_unfinished(state: &Value) -> bool {
    state.attr(release_attr::manifest_digest).as_str().is_some_and(|d| d.starts_with(UNFINISHED))
}

pub struct HelmRelease<K>(pub K);

model! {
    /// What every release has, beside its kind's attributes.
    pub struct ReleaseState in release_attr {
        id: String = computed("`namespace/name`.");
        name: String = required(
            "Release name: lowercase letters, digits and '-', at most 40 characters. Changing it replaces the release."
        )
        .requires_replace()
        .validate_str("Invalid name", |name| {
            if is_dns_label(name) && name.len() <= 40 {
                Ok(())
            } else {
                Err(format!("{name:?} must be lowercase letters, digits and '-', start and end with a letter or digit, \
                             at most 40 characters (object names are derived from it)."))
            }
        });
        namespace: String = optional_computed(
            "Namespace of the release; the provider's `namespace` when unset. Changing it replaces the release."
        )
        .requires_replace()
        .use_state_for_unknown()
        .validate_str("Invalid namespace", |namespace| {
            if is_dns_label(namespace) { Ok(()) } else { Err(format!("{namespace:?} is not a Kubernetes namespace name.")) }
        });
        wait: bool = optional_computed("Wait until every pod is Ready before reporting success (default true).")
            .with_default(Value::Bool(true));
        timeout: String = optional_computed(&format!("How long an install, upgrade or uninstall may take (`{DEFAULT_TIMEOUT}`)."))
            .with_default(Value::string(DEFAULT_TIMEOUT))
            .validate_str("Invalid timeout", validators::timeout);
        chart: ChartReference = optional("Use another chart than the one embedded in the provider (which works offline).");
        status: String = computed("Status of the release's newest revision: `deployed`, `failed`, `pending-upgrade`, ...");
        revision: i64 = computed("Revision of the release.");
        chart_version: String = computed("Version of the chart the release runs.");
        manifest_digest: String = computed(
            "Digest of the rendered Kubernetes objects. It changes exactly when they change, and differs from the plan's \
             when live objects were changed outside Terraform."
        );
    }
}

model! {
    pub struct ChartReference in chart_attr {
        reference: String = required("A chart directory or archive, `repo/chart`, or an `oci://` reference.");
        version: String = optional("Chart version, for repository and OCI charts.");
        repository: String = optional("Repository URL, for a chart given by name.");
    }
}

fn unknown() -> Value {
    Value::Unknown(Refinements { null: Some(false), ..Default::default() })
}

fn text(value: &Value, name: &str) -> Option<String> {
    value.attr(name).as_str().map(str::to_string)
}

/// The common model of a state, which the schema's types guarantee can be read.
fn release(state: &Value) -> ReleaseState {
    ReleaseState::read(state).unwrap_or_default()
}

/// Whether a release in the cluster holds exactly the objects a plan's digest stands for.
fn renders_as(release: &helm::Release, digest: &Value) -> bool {
    manifest_digest(&release.manifest).ok().as_deref() == digest.as_str()
}

/// The resource name in an import ID, from a release name `<name>-<chart>`.
fn import_name(release: &str) -> &str {
    release.rsplit_once('-').map_or(release, |(name, _)| name)
}

/// A digest of the objects a manifest holds, independent of document order and formatting, so
/// that `helm template` output and a stored release manifest compare.
pub fn manifest_digest(manifest: &str) -> Result<String, helm::Error> {
    let mut objects: Vec<String> = helm::manifest_objects(manifest)?.iter().map(Json::to_string).collect();
    objects.sort();
    let mut hasher = Sha256::new();
    for object in objects {
        hasher.update(object.as_bytes());
        hasher.update(b"\n");
    }
    Ok(format!("sha256:{:x}", hasher.finalize()))
}

impl<K: ReleaseKind> HelmRelease<K> {
    fn chart_source(&self, release: &ReleaseState) -> ChartSource {
        match release.chart.known() {
            Some(chart) => ChartSource::Reference {
                chart: chart.reference.known().cloned().unwrap_or_default(),
                version: chart.version.known().cloned(),
                repository: chart.repository.known().cloned(),
            },
            None => ChartSource::Embedded(self.0.chart()),
        }
    }

    fn timeout(release: &ReleaseState) -> Duration {
        let text = release.timeout.as_deref().unwrap_or(DEFAULT_TIMEOUT);
        duration::parse(text).unwrap_or_else(|_| duration::parse(DEFAULT_TIMEOUT).expect("the default parses"))
    }

    /// The Helm release and namespace of a state: the release is `<name>-<chart>`, so that an
    /// ensemble and a cluster of the same name never share one.
    fn names(&self, release: &ReleaseState) -> Option<(String, String)> {
        Some((format!("{}-{}", release.name.known()?, self.0.chart()), release.namespace.known()?.clone()))
    }

    /// The state Terraform records after an operation, from the plan and the release as it is.
    fn state_from(&self, planned: &Value, release: &Release) -> Value {
        let Value::Object(mut state) = planned.clone() else { return planned.clone() };
        // Outputs the plan left unknown until the release existed.
        if let (Some(name), Some(namespace)) =
            (text(planned, release_attr::name), text(planned, release_attr::namespace))
        {
            for (key, value) in self.0.outputs(&name, &namespace, planned) {
                if state.get(key).is_none_or(|v| !v.is_wholly_known()) {
                    state.insert(key.to_string(), value);
                }
            }
        }
        state.insert(release_attr::status.into(), Value::string(status_text(&release.status)));
        state.insert(release_attr::revision.into(), Value::int(release.revision));
        state.insert(release_attr::chart_version.into(), Value::string(&release.chart_version));
        if let Ok(digest) = manifest_digest(&release.manifest) {
            state.insert(release_attr::manifest_digest.into(), Value::String(digest));
        }
        Value::Object(state)
    }
}

/// The digest prefix of a state whose change an apply left between the steps around helm's
/// upgrade.
const UNFINISHED: &str = "unfinished:";

/// The state marked as holding a change the provider has not finished: its digest matches no
/// plan's, so the next plan shows an update and the next apply completes the change. The mark
/// names the state's own revision, `?` while it is not known.
fn unfinished(state: Value) -> Value {
    let revision = state.attr(release_attr::revision).as_i64().map_or_else(|| "?".to_string(), |r| r.to_string());
    let Value::Object(mut state) = state else { return state };
    state.insert(release_attr::manifest_digest.into(), Value::String(format!("{UNFINISHED}{revision}")));
    Value::Object(state)
}

pub(super) fn status_text(status: &ReleaseStatus) -> String {
    match status {
        ReleaseStatus::Deployed => "deployed".into(),
        ReleaseStatus::Failed => "failed".into(),
        ReleaseStatus::Pending(s) | ReleaseStatus::Other(s) => s.clone(),
    }
}

#[tonic::async_trait]
impl<K: ReleaseKind> Resource for HelmRelease<K> {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    fn schema(&self) -> Schema {
        let mut attributes = ReleaseState::attributes();
        attributes.extend(self.0.attributes());
        Schema {
            version: self.0.schema_version(),
            block: Block { description: self.0.description().into(), attributes },
        }
    }

    fn upgrade_state(&self, version: i64, state: Value) -> Result<Value, Diagnostic> {
        self.0.upgrade_state(version, state).ok_or_else(|| unsupported_state_version(self.type_name(), version))
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        self.0.validate(config)
    }

    async fn plan(&self, ctx: &Context, plan: &mut Plan) {
        self.plan_release(ctx, plan).await
    }

    fn refuse_destroy(&self, prior: &Value) -> Option<Diagnostic> {
        self.0.refuse_destroy(prior)
    }

    async fn create(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        self.install_or_upgrade(ctx, request).await
    }

    async fn update(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        self.install_or_upgrade(ctx, request).await
    }

    async fn delete(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        self.uninstall(ctx, request.prior_state).await
    }

    async fn read(&self, ctx: &Context, request: ReadRequest) -> ReadResponse {
        self.read_release(ctx, request).await
    }

    async fn import(&self, ctx: &Context, id: &str) -> ImportResponse {
        self.import_release(ctx, id).await
    }

    fn move_state(&self, source: &MoveRequest) -> Option<Result<Value, Diagnostics>> {
        source.comes_from("hashicorp/helm", "helm_release").then(|| self.moved_from_helm(&source.source_state))
    }
}
