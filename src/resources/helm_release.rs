//! What the ZooKeeper ensemble and the Kafka cluster share: each is a Helm release of a chart
//! this provider ships. Plan renders the chart to a digest that changes exactly when the
//! rendered objects change; read reports the release's values, its status, and a digest that
//! differs from the plan's when live objects drifted from the manifest; apply recovers a release
//! stuck pending, upgrades, and records what happened even when it failed.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::{Context, Resource, duration, provider_config::is_dns_label};
use crate::helm::{self, ChartSource, InstallOptions, Release, ReleaseStatus};
use crate::kube::Kube;
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::schema::{Attribute, Nesting, Schema};
use crate::tfplugin::value::{Refinements, Type, Value};
use crate::tfplugin::{
    ApplyRequest, ApplyResponse, ImportResponse, ImportedResource, PlanRequest, PlanResponse, ReadRequest, ReadResponse,
};

const DEFAULT_TIMEOUT: &str = "10m";
/// At most this many drifted fields are listed in a warning; the rest are counted.
const DRIFT_LINES: usize = 10;

/// One kind of Helm-backed resource.
#[tonic::async_trait]
pub trait ReleaseKind: Send + Sync + 'static {
    fn type_name(&self) -> &'static str;
    fn chart(&self) -> &'static str;
    fn description(&self) -> &'static str;
    /// The attributes of this kind, beside the ones every release has.
    fn attributes(&self) -> Vec<Attribute>;
    /// Values for attributes the configuration leaves out.
    fn defaults(&self) -> Vec<(&'static str, Value)>;
    /// Attributes whose change replaces the release.
    fn replace_on_change(&self) -> &'static [&'static str];
    fn validate(&self, config: &Value) -> Diagnostics;
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
    /// Refusals that need the live system (a broker count that would strand replicas).
    async fn check_change(&self, _ctx: &Context, _prior: &Value, _planned: &Value) -> Diagnostics {
        Diagnostics::default()
    }
    /// Whether destroying this state must be refused.
    fn protected(&self, _state: &Value) -> bool {
        false
    }
    /// Work on the running release that must precede an upgrade of it (an ensemble's members
    /// removed before their pods go). Idempotent: a failed apply is resumed by the next.
    async fn before_upgrade(
        &self,
        _kube: &Kube,
        _release: &str,
        _namespace: &str,
        _change: Change<'_>,
    ) -> Result<(), Diagnostic> {
        Ok(())
    }
    /// Work that completes an upgrade once helm is done (an ensemble's new members added once
    /// their pods run). Idempotent, like [`ReleaseKind::before_upgrade`].
    async fn after_upgrade(
        &self,
        _kube: &Kube,
        _release: &str,
        _namespace: &str,
        _change: Change<'_>,
    ) -> Result<(), Diagnostic> {
        Ok(())
    }
}

/// An upgrade of a running release, as the hooks around it see it.
#[derive(Clone, Copy)]
pub struct Change<'a> {
    pub prior: &'a Value,
    pub planned: &'a Value,
}

impl Change<'_> {
    /// Whether an earlier apply upgraded the release and failed in the step after helm.
    pub fn resumes_unfinished(&self) -> bool {
        self.prior.attr("manifest_digest").as_str().is_some_and(|d| d.starts_with(UNFINISHED))
    }
}

pub struct HelmRelease<K>(pub K);

fn common_attributes() -> Vec<Attribute> {
    vec![
        Attribute::computed("id", Type::String, "`namespace/name`."),
        Attribute::required(
            "name",
            Type::String,
            "Release name: lowercase letters, digits and '-', at most 40 characters. Changing it replaces the release.",
        ),
        Attribute::optional_computed(
            "namespace",
            Type::String,
            "Namespace of the release; the provider's `namespace` when unset. Changing it replaces the release.",
        ),
        Attribute::optional_computed(
            "wait",
            Type::Bool,
            "Wait until every pod is Ready before reporting success (default true).",
        ),
        Attribute::optional_computed(
            "timeout",
            Type::String,
            "How long an install, upgrade or uninstall may take (`10m`).",
        ),
        Attribute::nested(
            "chart",
            Nesting::Single,
            vec![
                Attribute::required(
                    "reference",
                    Type::String,
                    "A chart directory or archive, `repo/chart`, or an `oci://` reference.",
                ),
                Attribute::optional("version", Type::String, "Chart version, for repository and OCI charts."),
                Attribute::optional("repository", Type::String, "Repository URL, for a chart given by name."),
            ],
            "Use another chart than the one embedded in the provider (which works offline).",
        ),
        Attribute::computed(
            "status",
            Type::String,
            "Status of the release's newest revision: `deployed`, `failed`, `pending-upgrade`, ...",
        ),
        Attribute::computed("revision", Type::Number, "Revision of the release."),
        Attribute::computed("chart_version", Type::String, "Version of the chart the release runs."),
        Attribute::computed(
            "manifest_digest",
            Type::String,
            "Digest of the rendered Kubernetes objects. It changes exactly when they change, and differs from the plan's \
             when live objects were changed outside Terraform.",
        ),
    ]
}

fn unknown() -> Value {
    Value::Unknown(Refinements { null: Some(false), ..Default::default() })
}

fn text(value: &Value, name: &str) -> Option<String> {
    value.attr(name).as_str().map(str::to_string)
}

/// Whether a release in the cluster holds exactly the objects a plan's digest stands for.
fn renders_as(release: &helm::Release, digest: &Value) -> bool {
    manifest_digest(&release.manifest).ok().as_deref() == digest.as_str()
}

/// The resource name in an import ID, from a release name `<name>-<chart>`.
fn import_name(release: &str) -> &str {
    release.rsplit_once('-').map_or(release, |(name, _)| name)
}

/// The attributes whose planned value replaces the release: `name`, `namespace` and the kind's
/// own, when they change or are not known yet (a value known only at apply may differ, and an
/// in-place update Terraform then finds changed is an inconsistent plan).
fn replacing_attributes(
    prior: &Value,
    planned: &BTreeMap<String, Value>,
    kind_specific: &[&'static str],
) -> Vec<AttrPath> {
    if prior.is_null() {
        return Vec::new();
    }
    ["name", "namespace"]
        .iter()
        .chain(kind_specific)
        .filter(|name| {
            let after = planned.get(**name).unwrap_or(&Value::Null);
            !after.is_wholly_known() || after != prior.attr(name)
        })
        .map(|name| AttrPath::root(name))
        .collect()
}

/// A replacement under the same name and namespace installs a release whose pods claim the
/// volumes the old one left (Helm keeps them): a new storage class silently does not apply, and
/// old data meets the new settings. Refused unless the old release deletes its volumes.
fn volumes_rebound(prior: &Value, requires_replace: &[AttrPath]) -> Option<Diagnostic> {
    let renamed = requires_replace.iter().any(|p| *p == AttrPath::root("name") || *p == AttrPath::root("namespace"));
    let cause = requires_replace.first()?;
    if renamed || prior.attr("delete_volumes").as_bool() == Some(true) {
        return None;
    }
    Some(
        Diagnostic::error(
            "This replacement would reuse the old volumes",
            "Helm keeps the volumes of an uninstalled release, and the new release of the same name would claim them \
             again: the change would not reach them, and the old data would meet the new settings. To start from empty \
             volumes, set delete_volumes = true and apply that first (the old release's data is then deleted when it is \
             replaced); or give the new release another name.",
        )
        .at(cause.clone()),
    )
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

const RELEASE_INTENT: &str = "helm-release";

/// What to do about a release found before an install or upgrade.
#[derive(Debug, PartialEq)]
enum Recovery {
    /// Nothing in the way: install, upgrade, or adopt through the upgrade.
    None,
    /// Not this configuration's to touch, or possibly still in use: the reason.
    Refuse(String),
    /// Clear an interrupted or failed operation first (see `HelmRelease::recover`).
    Recover,
}

/// The recovery decision, from the release's newest revision alone. `owned`: this state holds
/// the release or an interrupted apply of this configuration started it; `interrupted`: that
/// apply's process is gone, so no helm of ours still works on it.
fn recovery(
    release: &Release,
    owned: bool,
    interrupted: bool,
    timeout: Duration,
    now: std::time::SystemTime,
) -> Recovery {
    if !owned {
        return Recovery::Refuse(format!(
            "A release of this name exists in namespace {} ({}), and this configuration did not create it: it is not \
             taken over. {}",
            release.namespace,
            status_text(&release.status),
            super::import_hint(&format!("{}/{}", release.namespace, import_name(&release.name)))
        ));
    }
    match &release.status {
        ReleaseStatus::Deployed => Recovery::None,
        ReleaseStatus::Pending(status) => {
            // The provider kills its helm at the release's timeout plus helm::GRACE: a pending
            // revision older than that has no helm of this configuration working on it.
            let age = release.recorded_at.and_then(|at| now.duration_since(at).ok());
            let abandoned = interrupted || age.is_some_and(|age| age > timeout.saturating_add(helm::GRACE));
            if !abandoned {
                return Recovery::Refuse(format!(
                    "It is {status}{}: another helm operation may still be running on it (another apply, or somebody \
                     by hand). Wait for it to end and apply again; after {} it counts as abandoned and apply recovers it.",
                    age.map(|a| format!(" since {}s", a.as_secs())).unwrap_or_default(),
                    humanize(timeout.saturating_add(helm::GRACE)),
                ));
            }
            Recovery::Recover
        }
        _ => Recovery::Recover,
    }
}

fn humanize(d: Duration) -> String {
    match d.as_secs() {
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

impl<K: ReleaseKind> HelmRelease<K> {
    /// A release about to be installed is checked against the cluster at plan: this is where
    /// the Kubernetes connection is first used, and where a name already taken shows.
    async fn check_new_release(&self, ctx: &Context, release: &str, namespace: &str, digest: &Value) -> Diagnostics {
        let kube = match ctx.kube().await {
            Ok(kube) => kube,
            Err(d) => return d.into(),
        };
        let existing = match kube.latest_release(namespace, release).await {
            Ok(existing) => existing,
            Err(e) => {
                return Diagnostic::error(
                    format!("Cannot read the releases of namespace {namespace}"),
                    format!("{e}.\n\nCheck the provider's kubernetes settings and that its credentials may read Secrets there."),
                )
                .into();
            }
        };
        let Some(existing) = existing else { return Diagnostics::default() };
        let interrupted =
            Self::interrupted_here(ctx, &Self::intent_target(kube, namespace, release), &existing).is_some();
        match existing.status {
            _ if !interrupted => Diagnostic::warning(
                format!("Release {release} already exists in namespace {namespace}"),
                format!(
                    "This configuration did not create it. Unless this plan replaces it (Terraform plans the new half of \
                     a replacement before the old one is gone), apply will refuse to take it over. {}",
                    super::import_hint(&format!("{namespace}/{}", import_name(release)))
                ),
            )
            .at(AttrPath::root("name"))
            .into(),
            ReleaseStatus::Deployed if renders_as(&existing, digest) => Diagnostic::warning(
                format!("Release {release} was left by an interrupted apply"),
                "An earlier apply of this configuration installed it and was interrupted before Terraform recorded it; it \
                 renders exactly these objects, so apply adopts it.",
            )
            .into(),
            _ => Diagnostic::warning(
                format!("Release {release} was left by an interrupted apply"),
                format!(
                    "An earlier apply of this configuration started it and was interrupted ({}). Apply recovers it, then \
                     installs this configuration.",
                    status_text(&existing.status)
                ),
            )
            .into(),
        }
    }

    /// The journal's name for a release: the API server the provider reaches, then namespace
    /// and release name.
    fn intent_target(kube: &crate::kube::Kube, namespace: &str, release: &str) -> String {
        format!("{}/{namespace}/{release}", kube.cluster_url())
    }

    /// The record of an interrupted operation on this release, if the revision found is one that
    /// operation made (recorded after it began; a minute of room for the clocks): a release made
    /// by somebody else after it, or by hand, proves nothing of the sort.
    fn interrupted_here(
        ctx: &Context,
        target: &str,
        release: &Release,
    ) -> Option<crate::resources::intents::LeftBehind> {
        let left = ctx.journal.left_behind(RELEASE_INTENT, target)?;
        let made_by_it = release.recorded_at.is_none_or(|at| at + Duration::from_secs(60) >= left.started);
        made_by_it.then_some(left)
    }

    /// Clears what an interrupted operation left: a roll back to the last good revision, or,
    /// with none ever deployed, an uninstall so the install starts over.
    async fn recover(
        &self,
        kube: &crate::kube::Kube,
        helm: &helm::Helm,
        release: &Release,
        timeout: Duration,
    ) -> Result<(), helm::Error> {
        let (name, namespace) = (&release.name, &release.namespace);
        let last_good = kube
            .last_good_revision(namespace, name)
            .await
            .map_err(|e| helm::Error::Command { command: "recovery".into(), message: e.to_string() })?;
        match last_good {
            Some(revision) if matches!(release.status, ReleaseStatus::Pending(_)) => {
                tracing::warn!(release = %name, revision, "release abandoned pending; rolling back to its last good revision");
                helm.rollback(name, namespace, revision, timeout).await
            }
            // A failed upgrade: helm upgrades from the last deployed revision.
            Some(_) => Ok(()),
            // Helm stopped (SIGTERM when the provider dies) can also leave a first install failed
            // or half uninstalled by --atomic: helm refuses to upgrade it, so it starts over.
            None => {
                tracing::warn!(
                    release = %name,
                    status = %status_text(&release.status),
                    "no revision of the release was ever deployed; uninstalling it to start over"
                );
                helm.uninstall(name, namespace, true, timeout).await
            }
        }
    }

    fn chart_source(&self, state: &Value) -> ChartSource {
        match state.attr("chart") {
            Value::Object(_) => ChartSource::Reference {
                chart: text(state.attr("chart"), "reference").unwrap_or_default(),
                version: text(state.attr("chart"), "version"),
                repository: text(state.attr("chart"), "repository"),
            },
            _ => ChartSource::Embedded(self.0.chart()),
        }
    }

    fn timeout(state: &Value) -> Duration {
        text(state, "timeout").and_then(|t| duration::parse(&t).ok()).unwrap_or(Duration::from_secs(600))
    }

    /// The Helm release and namespace of a state: the release is `<name>-<chart>`, so that an
    /// ensemble and a cluster of the same name never share one.
    fn names(&self, state: &Value) -> Option<(String, String)> {
        Some((format!("{}-{}", text(state, "name")?, self.0.chart()), text(state, "namespace")?))
    }

    /// The state Terraform records after an operation, from the plan and the release as it is.
    fn state_from(&self, planned: &Value, release: &Release) -> Value {
        let Value::Object(mut state) = planned.clone() else { return planned.clone() };
        // Outputs the plan left unknown until the release existed.
        if let (Some(name), Some(namespace)) = (text(planned, "name"), text(planned, "namespace")) {
            for (key, value) in self.0.outputs(&name, &namespace, planned) {
                if state.get(key).is_none_or(|v| !v.is_wholly_known()) {
                    state.insert(key.to_string(), value);
                }
            }
        }
        state.insert("status".into(), Value::string(status_text(&release.status)));
        state.insert("revision".into(), Value::int(release.revision));
        state.insert("chart_version".into(), Value::string(&release.chart_version));
        if let Ok(digest) = manifest_digest(&release.manifest) {
            state.insert("manifest_digest".into(), Value::String(digest));
        }
        Value::Object(state)
    }
}

/// The digest prefix of a release whose upgrade helm completed and the provider did not.
const UNFINISHED: &str = "unfinished:";

fn with_digest(state: Value, digest: String) -> Value {
    let Value::Object(mut state) = state else { return state };
    state.insert("manifest_digest".into(), Value::String(digest));
    Value::Object(state)
}

fn status_text(status: &ReleaseStatus) -> String {
    match status {
        ReleaseStatus::Deployed => "deployed".into(),
        ReleaseStatus::Failed => "failed".into(),
        ReleaseStatus::Pending(s) | ReleaseStatus::Other(s) => s.clone(),
    }
}

fn helm_diagnostic(summary: String, error: &helm::Error) -> Diagnostic {
    Diagnostic::error(summary, format!("{error}"))
}

#[tonic::async_trait]
impl<K: ReleaseKind> Resource for HelmRelease<K> {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    fn schema(&self) -> Schema {
        let mut attributes = common_attributes();
        attributes.extend(self.0.attributes());
        Schema {
            version: 0,
            block: crate::tfplugin::schema::Block {
                description: self.0.description().into(),
                attributes,
                blocks: vec![],
            },
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut diagnostics = self.0.validate(config);
        if let Some(name) = config.attr("name").as_str()
            && (!is_dns_label(name) || name.len() > 40)
        {
            diagnostics.push(
                    Diagnostic::error("Invalid name", format!("{name:?} must be lowercase letters, digits and '-', start and end with a letter or digit, at most 40 characters (object names are derived from it)."))
                        .at(AttrPath::root("name")),
                );
        }
        if let Some(namespace) = config.attr("namespace").as_str()
            && !is_dns_label(namespace)
        {
            diagnostics.push(
                Diagnostic::error("Invalid namespace", format!("{namespace:?} is not a Kubernetes namespace name."))
                    .at(AttrPath::root("namespace")),
            );
        }
        if let Some(timeout) = config.attr("timeout").as_str()
            && let Err(why) = duration::parse(timeout)
        {
            diagnostics.push(Diagnostic::error("Invalid timeout", why).at(AttrPath::root("timeout")));
        }
        diagnostics
    }

    async fn plan(&self, ctx: &Context, request: PlanRequest) -> PlanResponse {
        let PlanRequest { prior_state, proposed_new_state, config, prior_private, .. } = request;
        if proposed_new_state.is_null() {
            let mut diagnostics = Diagnostics::default();
            if self.0.protected(&prior_state) {
                diagnostics.push(
                    Diagnostic::error(
                        "Deletion protection is on",
                        "This cluster would be destroyed with its data. Set deletion_protection = false and apply, then destroy.",
                    )
                    .at(AttrPath::root("deletion_protection")),
                );
            }
            return PlanResponse {
                planned_state: Value::Null,
                diagnostics,
                planned_private: prior_private,
                ..Default::default()
            };
        }
        let mut diagnostics = self.validate(&config);
        let Value::Object(mut planned) = proposed_new_state else {
            return PlanResponse { diagnostics, ..Default::default() };
        };
        let default_namespace =
            if ctx.config.is_deferred("namespace") { unknown() } else { Value::string(&ctx.config.namespace) };
        let common_defaults = [
            ("namespace", default_namespace),
            ("wait", Value::Bool(true)),
            ("timeout", Value::string(DEFAULT_TIMEOUT)),
        ];
        for (name, default) in common_defaults.into_iter().chain(self.0.defaults()) {
            if config.attr(name).is_null() {
                planned.insert(name.to_string(), default);
            }
        }
        let requires_replace = replacing_attributes(&prior_state, &planned, self.0.replace_on_change());
        if let Some(d) = volumes_rebound(&prior_state, &requires_replace) {
            diagnostics.push(d);
        }
        if let (Some(before), Some(after)) = (
            text(&prior_state, "storage_size").and_then(|s| storage_bytes(&s)),
            planned.get("storage_size").and_then(Value::as_str).and_then(storage_bytes),
        ) && after < before
        {
            diagnostics.push(
                    Diagnostic::error(
                        "Volumes cannot shrink",
                        format!(
                            "storage_size would go from {} to {}. Kubernetes cannot shrink a volume without losing its data; keep the size or grow it.",
                            text(&prior_state, "storage_size").unwrap_or_default(),
                            text(&Value::Object(planned.clone()), "storage_size").unwrap_or_default()
                        ),
                    )
                    .at(AttrPath::root("storage_size")),
                );
        }
        let planned_value = Value::Object(planned.clone());
        let (release, namespace) = match self.names(&planned_value) {
            Some(names) => names,
            None => {
                // Every computed value follows from the name and namespace: unknown with them,
                // never null (Terraform rejects a null that later becomes a value).
                let outputs = self.0.outputs("", "", &planned_value).into_iter().map(|(key, _)| key);
                for key in ["id", "status", "revision", "chart_version", "manifest_digest"].into_iter().chain(outputs) {
                    planned.insert(key.into(), unknown());
                }
                return PlanResponse {
                    planned_state: Value::Object(planned),
                    requires_replace,
                    planned_private: prior_private,
                    diagnostics,
                };
            }
        };
        let name = text(&planned_value, "name").unwrap_or_default();
        planned.insert("id".into(), Value::string(format!("{namespace}/{name}")));
        for (key, value) in self.0.outputs(&name, &namespace, &planned_value) {
            planned.insert(key.into(), value);
        }
        // The chart renders from the plan as apply will see it, computed outputs included.
        let planned_value = Value::Object(planned.clone());
        let replacing = !requires_replace.is_empty();
        let digest =
            if planned_value.is_wholly_known() && !diagnostics.has_errors() && !ctx.config.is_deferred("helm_binary") {
                let values = self.0.values(&planned_value);
                match ctx
                    .helm()
                    .template(&release, &namespace, &self.chart_source(&planned_value), &values)
                    .await
                    .map(|m| manifest_digest(&m))
                {
                    Ok(Ok(digest)) => Value::String(digest),
                    Ok(Err(e)) | Err(e) => {
                        diagnostics.push(helm_diagnostic(format!("The chart refuses these settings for {name}"), &e));
                        unknown()
                    }
                }
            } else {
                unknown()
            };
        if prior_state.is_null() && !diagnostics.has_errors() && !ctx.kube_deferred() {
            diagnostics.extend(self.check_new_release(ctx, &release, &namespace, &digest).await);
        }
        if prior_state.is_null() || replacing {
            for key in self.0.reachable_once_installed() {
                planned.insert(key.to_string(), unknown());
            }
        }
        let unchanged = !prior_state.is_null() && !replacing && &digest == prior_state.attr("manifest_digest");
        for key in ["status", "revision", "chart_version"] {
            planned.insert(key.into(), if unchanged { prior_state.attr(key).clone() } else { unknown() });
        }
        planned.insert("manifest_digest".into(), digest);
        let planned = Value::Object(planned);
        if !prior_state.is_null() && !replacing && !diagnostics.has_errors() {
            diagnostics.extend(self.0.check_change(ctx, &prior_state, &planned).await);
        }
        PlanResponse { planned_state: planned, requires_replace, planned_private: prior_private, diagnostics }
    }

    async fn apply(&self, ctx: &Context, request: ApplyRequest) -> ApplyResponse {
        let ApplyRequest { prior_state, planned_state, .. } = request;
        let fail = |state: Value, d: Diagnostic| ApplyResponse {
            new_state: state,
            diagnostics: d.into(),
            ..Default::default()
        };
        let kube = match ctx.kube().await {
            Ok(kube) => kube.clone(),
            Err(d) => return fail(prior_state, d),
        };
        let helm = ctx.helm();
        if planned_state.is_null() {
            let Some((name, namespace)) = self.names(&prior_state) else { return ApplyResponse::default() };
            if self.0.protected(&prior_state) {
                return fail(
                    prior_state,
                    Diagnostic::error(
                        "Deletion protection is on",
                        "Set deletion_protection = false and apply before destroying.",
                    )
                    .at(AttrPath::root("deletion_protection")),
                );
            }
            tracing::info!(release = %name, namespace = %namespace, "uninstalling release");
            if let Err(e) = helm.uninstall(&name, &namespace, true, Self::timeout(&prior_state)).await {
                return fail(prior_state, helm_diagnostic(format!("Uninstalling {name} failed"), &e));
            }
            ctx.journal.forget(RELEASE_INTENT, &Self::intent_target(&kube, &namespace, &name));
            if prior_state.attr("delete_volumes").as_bool() == Some(true)
                && let Err(e) = kube.delete_volume_claims(&namespace, &name).await
            {
                return fail(
                    Value::Null,
                    Diagnostic::error(format!("Deleting the volumes of {name} failed"), e.to_string()),
                );
            }
            return ApplyResponse::default();
        }
        let Some((name, namespace)) = self.names(&planned_state) else {
            return fail(
                prior_state,
                Diagnostic::error("Name unknown at apply", "name and namespace must be known by now."),
            );
        };
        // Settings that render no differently (deletion protection, timeouts, the volume policy)
        // change the state only: the release keeps its revision, as the plan said.
        let digest = planned_state.attr("manifest_digest");
        if !prior_state.is_null() && digest.as_str().is_some() && digest == prior_state.attr("manifest_digest") {
            return ApplyResponse { new_state: planned_state, ..Default::default() };
        }
        let target = Self::intent_target(&kube, &namespace, &name);
        let mut left_behind = None;
        match kube.latest_release(&namespace, &name).await {
            Ok(Some(release)) => {
                // Read before this apply writes its own intent over it.
                left_behind = Self::interrupted_here(ctx, &target, &release);
                let owned = !prior_state.is_null() || left_behind.is_some();
                let timeout = Self::timeout(&planned_state);
                match recovery(&release, owned, left_behind.is_some(), timeout, std::time::SystemTime::now()) {
                    Recovery::None => {}
                    Recovery::Refuse(why) => {
                        let d = Diagnostic::error(format!("Release {name} is left alone"), why);
                        let path = if owned { d } else { d.at(AttrPath::root("name")) };
                        return fail(if prior_state.is_null() { Value::Null } else { prior_state }, path);
                    }
                    Recovery::Recover => {
                        if let Err(e) = self.recover(&kube, &helm, &release, timeout).await {
                            return fail(
                                prior_state,
                                helm_diagnostic(
                                    format!(
                                        "Release {name} is stuck {} and could not be recovered",
                                        status_text(&release.status)
                                    ),
                                    &e,
                                ),
                            );
                        }
                    }
                }
            }
            Ok(None) => {}
            Err(e) => {
                return fail(prior_state, Diagnostic::error(format!("Reading release {name} failed"), e.to_string()));
            }
        }
        if let Some(left) = left_behind {
            left.clear();
        }
        let grown = match (text(&prior_state, "storage_size"), text(&planned_state, "storage_size")) {
            (Some(before), Some(after)) => storage_bytes(&after) > storage_bytes(&before),
            _ => false,
        };
        if grown {
            let size = text(&planned_state, "storage_size").unwrap_or_default();
            tracing::info!(release = %name, size = %size, "growing volumes");
            if let Err(e) = kube.grow_volumes(&namespace, &name, &name, &size).await {
                return fail(
                    prior_state,
                    Diagnostic::error(
                        format!("Growing the volumes of {name} failed"),
                        format!("{e}. The storage class must allow volume expansion."),
                    )
                    .at(AttrPath::root("storage_size")),
                );
            }
        }
        let change = Change { prior: &prior_state, planned: &planned_state };
        if !prior_state.is_null()
            && let Err(d) = self.0.before_upgrade(&kube, &name, &namespace, change).await
        {
            return fail(prior_state, d);
        }
        let options = InstallOptions {
            wait: planned_state.attr("wait").as_bool().unwrap_or(true),
            timeout: Self::timeout(&planned_state),
            atomic: planned_state.attr("atomic").as_bool().unwrap_or(true),
        };
        tracing::info!(release = %name, namespace = %namespace, chart = self.0.chart(), "installing or upgrading release");
        let intent = ctx.journal.begin(RELEASE_INTENT, &target);
        let installed = helm
            .upgrade_install(
                &name,
                &namespace,
                &self.chart_source(&planned_state),
                &self.0.values(&planned_state),
                options,
            )
            .await;
        // helm failed or was stopped: whatever it left (a pending or failed revision) is this
        // configuration's to recover, and the record that stays proves it to the next apply.
        if let Some(intent) = intent
            && installed.is_ok()
        {
            intent.finish();
        }
        let release = kube.latest_release(&namespace, &name).await;
        match (installed, release) {
            (Ok(()), Ok(Some(release))) => {
                let state = self.state_from(&planned_state, &release);
                if prior_state.is_null() {
                    return ApplyResponse { new_state: state, ..Default::default() };
                }
                match self.0.after_upgrade(&kube, &name, &namespace, change).await {
                    Ok(()) => ApplyResponse { new_state: state, ..Default::default() },
                    // The release is upgraded but the change not complete: the digest says so,
                    // through refreshes, until an apply completes it.
                    Err(d) => fail(with_digest(state, format!("{UNFINISHED}{}", release.revision)), d),
                }
            }
            (Ok(()), Ok(None)) => fail(
                prior_state,
                Diagnostic::error(format!("Release {name} vanished"), "helm reported success but no release exists."),
            ),
            (Ok(()), Err(e)) => {
                fail(planned_state, Diagnostic::error(format!("Reading release {name} failed"), e.to_string()))
            }
            // Failed: record the release as it now is (rolled back by --atomic, or failed).
            (Err(e), Ok(Some(release))) => {
                let base = if prior_state.is_null() { planned_state } else { prior_state };
                let detail = if options.atomic { " The release was rolled back to its previous revision." } else { "" };
                ApplyResponse {
                    new_state: self.state_from(&base, &release),
                    diagnostics: Diagnostic::error(
                        format!("Installing or upgrading {name} failed"),
                        format!("{e}.{detail}"),
                    )
                    .into(),
                    ..Default::default()
                }
            }
            (Err(e), _) => fail(
                if prior_state.is_null() { Value::Null } else { prior_state },
                helm_diagnostic(format!("Installing {name} failed"), &e),
            ),
        }
    }

    async fn read(&self, ctx: &Context, request: ReadRequest) -> ReadResponse {
        let ReadRequest { current_state, private, .. } = request;
        let keep = |d: Diagnostic| ReadResponse {
            new_state: current_state.clone(),
            private: private.clone(),
            diagnostics: d.into(),
        };
        let Some((name, namespace)) = self.names(&current_state) else {
            return keep(Diagnostic::warning("Incomplete state", "name or namespace missing"));
        };
        // The cluster is known only after apply: the release is as it was, until then.
        if ctx.kube_deferred() {
            return ReadResponse { new_state: current_state, private, diagnostics: Diagnostics::default() };
        }
        let kube = match ctx.kube().await {
            Ok(kube) => kube,
            Err(d) => return keep(d),
        };
        let release = match kube.latest_release(&namespace, &name).await {
            Ok(Some(release)) => release,
            Ok(None) => {
                tracing::info!(release = %name, "release no longer exists; removing it from state");
                return ReadResponse::default();
            }
            Err(e) => return keep(Diagnostic::error(format!("Reading release {name} failed"), e.to_string())),
        };
        let Value::Object(mut state) = self.state_from(&current_state, &release) else {
            return keep(Diagnostic::error("Invalid state", ""));
        };
        // What the release runs now, as attributes: a rollback or upgrade by hand shows as a change.
        for (key, value) in self.0.attributes_from_values(&release.values) {
            state.insert(key, value);
        }
        let mut diagnostics = Diagnostics::default();
        let unfinished = format!("{UNFINISHED}{}", release.revision);
        if current_state.attr("manifest_digest").as_str() == Some(unfinished.as_str()) {
            state.insert("manifest_digest".into(), Value::String(unfinished));
            diagnostics.push(Diagnostic::warning(
                format!("The last change to {name} is unfinished"),
                "helm upgraded the release, but the step after it failed (see that apply's error). The next apply \
                 completes it.",
            ));
        } else if release.status != ReleaseStatus::Deployed {
            state.insert(
                "manifest_digest".into(),
                Value::string(format!("{}:{}", status_text(&release.status), release.revision)),
            );
            diagnostics.push(Diagnostic::warning(
                format!("Release {name} is {}", status_text(&release.status)),
                "Its last operation did not complete. The next apply recovers it and applies the configuration again: at \
                 once if an apply of this configuration was interrupted, otherwise once no helm operation can still be \
                 running on it (the resource's timeout plus a minute after it started).",
            ));
        } else {
            match crate::kube::live_drift(kube.client(), &namespace, &release.manifest).await {
                Ok(drifts) if !drifts.is_empty() => {
                    let mut lines: Vec<String> = drifts.iter().take(DRIFT_LINES).map(|d| format!("- {d}")).collect();
                    if drifts.len() > DRIFT_LINES {
                        lines.push(format!("- and {} more", drifts.len() - DRIFT_LINES));
                    }
                    let mut hasher = Sha256::new();
                    for d in &drifts {
                        hasher.update(d.to_string().as_bytes());
                    }
                    state.insert("manifest_digest".into(), Value::string(format!("drifted:{:x}", hasher.finalize())));
                    diagnostics.push(Diagnostic::warning(
                        format!("Objects of {name} were changed outside Terraform"),
                        format!("{}\n\nThe next apply restores them from the release.", lines.join("\n")),
                    ));
                }
                Ok(_) => {}
                Err(e) => diagnostics
                    .push(Diagnostic::warning(format!("Could not compare the live objects of {name}"), e.to_string())),
            }
        }
        ReadResponse { new_state: Value::Object(state), private, diagnostics }
    }

    async fn import(&self, ctx: &Context, id: &str) -> ImportResponse {
        let fail = |d: Diagnostic| ImportResponse { diagnostics: d.into(), ..Default::default() };
        let Some((namespace, name)) = id.split_once('/') else {
            return fail(Diagnostic::error("Invalid import ID", format!("{id:?} is not namespace/name.")));
        };
        let kube = match ctx.kube().await {
            Ok(kube) => kube,
            Err(d) => return fail(d),
        };
        let release_name = format!("{name}-{}", self.0.chart());
        let release = match kube.latest_release(namespace, &release_name).await {
            Ok(Some(release)) => release,
            Ok(None) => {
                return fail(Diagnostic::error(
                    "Release not found",
                    format!("No Helm release {release_name} in namespace {namespace}."),
                ));
            }
            Err(e) => return fail(Diagnostic::error(format!("Reading release {name} failed"), e.to_string())),
        };
        if release.chart_name != self.0.chart() {
            return fail(Diagnostic::error(
                "Not this kind of release",
                format!("{id} runs chart {:?}, not {:?}.", release.chart_name, self.0.chart()),
            ));
        }
        let mut state: BTreeMap<String, Value> =
            self.schema().block.attributes.iter().map(|a| (a.name.clone(), Value::Null)).collect();
        state.insert("name".into(), Value::string(name));
        state.insert("namespace".into(), Value::string(namespace));
        state.insert("id".into(), Value::string(id));
        state.insert("wait".into(), Value::Bool(true));
        state.insert("timeout".into(), Value::string(DEFAULT_TIMEOUT));
        for (key, value) in self.0.defaults() {
            state.insert(key.to_string(), value);
        }
        for (key, value) in self.0.attributes_from_values(&release.values) {
            state.insert(key, value);
        }
        let planned = Value::Object(state);
        let mut state = self.state_from(&planned, &release);
        if let Value::Object(object) = &mut state {
            for (key, value) in self.0.outputs(name, namespace, &planned) {
                object.insert(key.into(), value);
            }
        }
        ImportResponse {
            imported: vec![ImportedResource { type_name: self.0.type_name().to_string(), state, private: Vec::new() }],
            diagnostics: Diagnostics::default(),
        }
    }
}

const PRESETS: [&str; 7] = ["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"];

/// Hikube's sizing fields, shared by ensembles and clusters.
pub fn sizing_attributes(default_size: &str, default_preset: &str, default_image: &str) -> Vec<Attribute> {
    vec![
        Attribute::optional_computed(
            "storage_size",
            Type::String,
            &format!(
                "Volume size of each member, e.g. `{default_size}` (the default). Growing it resizes the volumes in place; shrinking is refused."
            ),
        ),
        Attribute::optional(
            "storage_class",
            Type::String,
            "Storage class of the volumes; the cluster's default when unset. Changing it replaces the release (new volumes).",
        ),
        Attribute::optional_computed(
            "resources_preset",
            Type::String,
            &format!(
                "Hikube's sizes (CPU / memory limit): nano 250m/128Mi, micro 500m/256Mi, small 1/512Mi, medium 1/1Gi, large 2/2Gi, xlarge 4/4Gi, 2xlarge 8/8Gi. Default `{default_preset}`; `resources` overrides it."
            ),
        ),
        Attribute::nested(
            "resources",
            Nesting::Single,
            vec![
                Attribute::optional("cpu", Type::String, "CPU, e.g. `2` or `500m`."),
                Attribute::optional(
                    "memory",
                    Type::String,
                    "Memory, e.g. `4Gi` or `768Mi`; the JVM heap is derived from it.",
                ),
            ],
            "Explicit CPU and memory, instead of the preset.",
        ),
        Attribute::optional_computed("image", Type::String, &format!("Container image (`{default_image}`).")),
    ]
}

/// The member count: a whole number within `range`, or `None` (with an error) when it is not.
pub fn replicas(config: &Value, range: std::ops::RangeInclusive<i64>, diagnostics: &mut Diagnostics) -> Option<i64> {
    let value = config.attr("replicas");
    if !matches!(value, Value::Number(_)) {
        return None;
    }
    match value.as_i64() {
        Some(n) if range.contains(&n) => Some(n),
        _ => {
            diagnostics.push(
                Diagnostic::error(
                    "Invalid member count",
                    format!(
                        "replicas must be a whole number from {} to {}, not {}.",
                        range.start(),
                        range.end(),
                        match &value {
                            Value::Number(n) => n.to_string(),
                            _ => String::new(),
                        }
                    ),
                )
                .at(AttrPath::root("replicas")),
            );
            None
        }
    }
}

/// Kubernetes object and DNS names that would otherwise only fail inside the cluster.
pub fn validate_names(config: &Value, attributes: &[(&str, &str)]) -> Diagnostics {
    let mut diagnostics = Diagnostics::default();
    for (attribute, what) in attributes {
        if let Some(name) = config.attr(attribute).as_str()
            && !crate::resources::provider_config::is_dns_subdomain(name)
        {
            diagnostics.push(
                Diagnostic::error(
                    format!("Invalid {what}"),
                    format!(
                        "{name:?} is not a valid {what}: lowercase letters, digits, '-' and '.', such as \"fast-ssd\"."
                    ),
                )
                .at(AttrPath::root(attribute)),
            );
        }
    }
    diagnostics
}

pub fn validate_sizing(config: &Value) -> Diagnostics {
    let mut diagnostics = validate_names(config, &[("storage_class", "storage class name")]);
    if let Some(image) = config.attr("image").as_str()
        && (image.is_empty() || image.contains(char::is_whitespace))
    {
        diagnostics.push(
            Diagnostic::error(
                "Invalid image",
                format!("{image:?} is not an image reference such as \"docker.io/library/zookeeper:3.8.4\"."),
            )
            .at(AttrPath::root("image")),
        );
    }
    if let Some(preset) = config.attr("resources_preset").as_str()
        && !PRESETS.contains(&preset)
    {
        diagnostics.push(
            Diagnostic::error("Unknown preset", format!("{preset:?} is not one of {}.", PRESETS.join(", ")))
                .at(AttrPath::root("resources_preset")),
        );
    }
    if let Some(size) = config.attr("storage_size").as_str()
        && storage_bytes(size).is_none()
    {
        diagnostics.push(
            Diagnostic::error("Invalid storage size", format!("{size:?} is not a size such as \"10Gi\" or \"500Mi\"."))
                .at(AttrPath::root("storage_size")),
        );
    }
    let resources = config.attr("resources");
    if let Some(cpu) = resources.attr("cpu").as_str() {
        let ok = cpu.strip_suffix('m').unwrap_or(cpu).parse::<f64>().is_ok_and(|c| c > 0.0);
        if !ok {
            diagnostics.push(
                Diagnostic::error("Invalid CPU", format!("{cpu:?} is not a CPU amount such as \"2\" or \"500m\"."))
                    .at(AttrPath::root("resources").attr("cpu")),
            );
        }
    }
    if let Some(memory) = resources.attr("memory").as_str() {
        let ok =
            (memory.ends_with("Mi") || memory.ends_with("Gi")) && storage_bytes(memory).is_some_and(|b| b >= 128 << 20);
        if !ok {
            diagnostics.push(
                Diagnostic::error(
                    "Invalid memory",
                    format!("{memory:?} must be at least 128Mi, in Mi or Gi (e.g. \"768Mi\", \"4Gi\")."),
                )
                .at(AttrPath::root("resources").attr("memory")),
            );
        }
    }
    diagnostics
}

/// Bytes of a Kubernetes quantity in binary units (`10Gi`).
pub fn storage_bytes(size: &str) -> Option<u64> {
    let units = [("Ki", 1u64 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40)];
    let (number, factor) = units.iter().find_map(|(s, f)| size.strip_suffix(s).map(|n| (n, *f)))?;
    number.parse::<u64>().ok().filter(|n| *n > 0).and_then(|n| n.checked_mul(factor))
}

pub fn sizing_values(planned: &Value) -> Json {
    let resources: serde_json::Map<String, Json> = ["cpu", "memory"]
        .into_iter()
        .filter_map(|k| planned.attr("resources").attr(k).as_str().map(|v| (k.to_string(), Json::String(v.into()))))
        .collect();
    serde_json::json!({
        "image": text(planned, "image"),
        "resourcesPreset": text(planned, "resources_preset"),
        "resources": resources,
        "storage": {
            "size": text(planned, "storage_size"),
            "storageClass": text(planned, "storage_class").unwrap_or_default(),
        },
    })
}

pub fn sizing_from_values(values: &Json) -> BTreeMap<String, Value> {
    let mut attributes = BTreeMap::new();
    let string = |v: &Json| v.as_str().filter(|s| !s.is_empty()).map(Value::string).unwrap_or(Value::Null);
    attributes.insert("image".into(), string(&values["image"]));
    attributes.insert("resources_preset".into(), string(&values["resourcesPreset"]));
    attributes.insert("storage_size".into(), string(&values["storage"]["size"]));
    attributes.insert("storage_class".into(), string(&values["storage"]["storageClass"]));
    let resources = &values["resources"];
    attributes.insert(
        "resources".into(),
        if resources.as_object().is_none_or(|r| r.is_empty()) {
            Value::Null
        } else {
            Value::Object(BTreeMap::from([
                ("cpu".into(), string(&resources["cpu"])),
                ("memory".into(), string(&resources["memory"])),
            ]))
        },
    );
    attributes
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn release(status: ReleaseStatus, revision: i64, age: Duration) -> Release {
        Release {
            name: "events-kafka".into(),
            namespace: "data".into(),
            revision,
            status,
            values: Json::Null,
            manifest: String::new(),
            chart_name: "kafka".into(),
            chart_version: "0.1.0".into(),
            recorded_at: Some(SystemTime::now() - age),
        }
    }

    fn pending(age: Duration) -> Release {
        release(ReleaseStatus::Pending("pending-upgrade".into()), 3, age)
    }

    const TIMEOUT: Duration = Duration::from_secs(600);

    /// A release in pending-* used to be rolled back or uninstalled whoever owned it and whether
    /// or not a helm operation was still running on it.
    #[test]
    fn only_a_release_of_this_configuration_whose_operation_is_over_is_recovered() {
        let now = SystemTime::now();
        let fresh = pending(Duration::from_secs(30));
        let stale = pending(TIMEOUT + helm::GRACE + Duration::from_secs(1));
        let cases = [
            // Another owner's release is never touched, whatever its state.
            (&fresh, false, false, "refuse"),
            (&stale, false, false, "refuse"),
            (&release(ReleaseStatus::Deployed, 1, Duration::ZERO), false, false, "refuse"),
            // Ours, pending for less than helm's own timeout: maybe still running.
            (&fresh, true, false, "refuse"),
            // Ours, and the process that started it is gone: helm died with it.
            (&fresh, true, true, "recover"),
            // Ours, pending longer than any helm of ours would have waited.
            (&stale, true, false, "recover"),
            (&release(ReleaseStatus::Failed, 2, Duration::ZERO), true, false, "recover"),
            (&release(ReleaseStatus::Deployed, 2, Duration::ZERO), true, false, "none"),
        ];
        for (release, owned, interrupted, expected) in cases {
            let decision = recovery(release, owned, interrupted, TIMEOUT, now);
            let got = match decision {
                Recovery::None => "none",
                Recovery::Refuse(_) => "refuse",
                Recovery::Recover => "recover",
            };
            assert_eq!(got, expected, "{:?} owned={owned} interrupted={interrupted}", release.status);
        }
    }

    #[test]
    fn an_unknown_or_changed_name_replaces_and_an_unchanged_one_does_not() {
        let prior = Value::Object(BTreeMap::from([
            ("name".to_string(), Value::string("events")),
            ("namespace".to_string(), Value::string("data")),
            ("storage_class".to_string(), Value::Null),
        ]));
        let planned = |name: Value| {
            BTreeMap::from([
                ("name".to_string(), name),
                ("namespace".to_string(), Value::string("data")),
                ("storage_class".to_string(), Value::Null),
            ])
        };
        assert!(replacing_attributes(&prior, &planned(Value::string("events")), &["storage_class"]).is_empty());
        assert_eq!(
            replacing_attributes(&prior, &planned(Value::unknown()), &["storage_class"]),
            vec![AttrPath::root("name")]
        );
        assert!(replacing_attributes(&Value::Null, &planned(Value::unknown()), &[]).is_empty(), "a create");
    }

    /// A replacement forced by storage_class or zookeeper_chroot re-bound the kept volumes of the
    /// same name: the class silently did not change, old log directories met a new chroot.
    #[test]
    fn a_replacement_under_the_same_name_needs_the_old_volumes_deleted() {
        let state = |delete_volumes: bool| {
            Value::Object(BTreeMap::from([("delete_volumes".to_string(), Value::Bool(delete_volumes))]))
        };
        let by_class = [AttrPath::root("storage_class")];
        let refused = volumes_rebound(&state(false), &by_class).expect("refused");
        assert_eq!(refused.path, Some(AttrPath::root("storage_class")));
        assert!(volumes_rebound(&state(true), &by_class).is_none());
        assert!(volumes_rebound(&Value::Null, &by_class).is_some(), "an ensemble without the attribute");
        assert!(volumes_rebound(&state(false), &[AttrPath::root("name"), AttrPath::root("storage_class")]).is_none());
        assert!(volumes_rebound(&state(false), &[]).is_none());
    }
}
